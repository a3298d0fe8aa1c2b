"""The `[walkup]` config section: gym walk-up form checks without a clinician (docs/walkup.md).

Off by default. Every key is also a page setting (behind the PIN), so the ranges here are what the
settings page and its API accept; a value outside them is refused naming the key.
"""

from __future__ import annotations

from pydantic import Field

from hipcam.config.base import Section


class WalkupConfig(Section):
    enabled: bool = Field(False, description="start a form check by itself when a runner runs steadily")
    settle_s: float = Field(
        5.0, ge=1.0, le=60.0, description="running strides must keep arriving this long before a check starts"
    )
    strides_per_leg: int = Field(20, ge=4, le=100, description="classified running strides per leg a check counts")
    card_hold_s: float = Field(
        60.0, ge=5.0, le=600.0, description="the result card stays this long after the runner stepped off"
    )
    link_ttl_s: float = Field(900.0, ge=60.0, le=86_400.0, description="lifetime of the card's QR link (seconds)")
    keep_hours: float = Field(24.0, ge=1.0, le=720.0, description="walk-up results are deleted after this many hours")
