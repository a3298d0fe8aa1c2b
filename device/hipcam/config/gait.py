"""Thresholds and settings of the gait analysis (the `[gait]` config section).

Angles are in degrees, in the sagittal (image) plane after camera-roll correction. Defaults come from
the running literature cited in docs/gait.md; the mask-based lumbar arch threshold is a provisional
heuristic (set from its noise on real footage and the synthetic model) to calibrate on footage with a
known posture.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

log = logging.getLogger(__name__)

# Settings of the extreme-based event detector that the contact detector replaced.
RETIRED_KEYS = frozenset({"ground_band", "event_prominence", "event_confirm_drop", "event_confirm_s", "event_refine_s"})


class GaitParams(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    direction: Literal["auto", "left", "right"] = Field(
        "auto", description="running direction in the image; auto detects which way the runner faces"
    )
    min_visibility: float = Field(0.5, ge=0.0, le=1.0, description="landmark visibility needed to trust a joint")
    min_presence: float = Field(
        0.5, ge=0.0, le=1.0, description="landmark presence needed (ignored when the model reports none)"
    )
    rolling_strides: int = Field(10, ge=1, le=100, description="strides in the rolling 'current' summary")

    # Classification thresholds (see docs/gait.md for the sources).
    thigh_extended_deg: float = Field(
        10.0, ge=0.0, le=40.0, description="peak thigh angle behind vertical from which the thigh 'looks extended'"
    )
    hip_extension_min_deg: float = Field(
        10.0, ge=0.0, le=40.0, description="hip extension (thigh minus trunk lean) needed for true extension (B)"
    )
    trunk_lean_max_deg: float = Field(
        12.0, ge=0.0, le=45.0, description="forward trunk lean beyond the ~5-10 deg norm: leaning (C)"
    )
    trunk_back_tilt_deg: float = Field(
        4.0, ge=0.0, le=30.0, description="trunk tipped this far backward at peak extension: arched back (D)"
    )
    lumbar_arch_increase_min: float = Field(
        0.08,
        ge=0.0,
        le=0.5,
        description="mask lumbar depth (trunk lengths) gained at peak extension over the stride's "
        "least-extended phase from which: arched (D); provisional, see docs/gait.md",
    )
    lumbar_window_s: float = Field(
        0.06,
        gt=0.0,
        le=0.3,
        description="the lumbar depth at peak extension is the median over this many seconds each side",
    )
    thigh_mask_disagree_deg: float = Field(
        4.0, ge=0.0, le=45.0, description="mask and landmark thigh axes further apart than this: use the mask's"
    )
    thigh_mask_max_disagree_deg: float = Field(
        12.0, ge=0.0, le=60.0, description="mask thigh axis further than this from the landmarks': the mask is wrong"
    )
    thigh_mask_min_separation_deg: float = Field(
        35.0, ge=0.0, le=120.0, description="angle between the thighs needed before the mask's thigh axis is trusted"
    )
    confidence_scale_deg: float = Field(
        3.0, gt=0.0, le=20.0, description="margin to a threshold (deg) that gives ~88 % confidence"
    )
    confidence_scale_ratio: float = Field(
        0.015,
        gt=0.0,
        le=0.2,
        description="margin of the lumbar arch change (trunk lengths) that gives ~88 % confidence",
    )
    min_confidence: float = Field(0.3, ge=0.0, le=1.0, description="below this a stride is reported as unknown")

    # Signal processing and events.
    filter_cutoff_hz: float = Field(
        8.0, ge=1.0, le=50.0, description="low-pass cutoff of the kinematics (clamped below 0.4 x fps)"
    )
    filter_order: int = Field(2, ge=1, le=4, description="Butterworth order (offline runs it forward and backward)")
    max_gap_s: float = Field(0.12, ge=0.0, le=1.0, description="missing-pose gaps up to this long are interpolated")
    min_stride_s: float = Field(
        0.5, gt=0.05, le=3.0, description="shortest same-leg stride, foot strike to foot strike (0.5 s = 240 steps/min)"
    )
    max_stride_s: float = Field(2.0, gt=0.1, le=10.0, description="longest stride; longer gaps break the stride chain")
    stride_tolerance: float = Field(
        0.35, gt=0.0, le=1.0, description="strides off the median duration by more than this fraction: unknown"
    )
    outlier_window_s: float = Field(
        0.15, ge=0.0, le=2.0, description="window of the running median that flags jumping leg joints (0: off)"
    )
    outlier_threshold: float = Field(
        0.4, gt=0.0, le=5.0, description="a leg joint this far (trunk lengths) from its running median is dropped"
    )
    max_body_width: float = Field(
        0.35,
        gt=0.0,
        le=2.0,
        description="shoulder/hip width across the image (trunk lengths) above which: not a side view",
    )
    contact_height: float = Field(
        0.08, gt=0.0, le=1.0, description="a foot within this height (trunk lengths) of its ground level is down"
    )
    contact_speed: float = Field(
        0.6,
        gt=0.0,
        le=20.0,
        description="a down foot moving within this speed (trunk lengths/s) of the ground is in contact",
    )
    contact_speed_share: float = Field(
        0.35, ge=0.0, le=2.0, description="... plus this share of the ground's own speed (belt speed on a treadmill)"
    )
    min_contact_s: float = Field(0.08, gt=0.0, le=1.0, description="shorter contacts are not a stance (glitches)")
    max_contact_gap_s: float = Field(
        0.05, ge=0.0, le=0.5, description="dropouts up to this long inside a contact are closed"
    )
    event_cutoff_hz: float = Field(
        8.0,
        ge=1.0,
        le=60.0,
        description="low-pass cutoff of the foot positions for the events (clamped below 0.4 x fps)",
    )
    event_max_speed: float = Field(
        20.0, gt=0.0, le=200.0, description="a foot jumping faster (trunk lengths/s) is a glitch (snapped elsewhere)"
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        """Keys of the old extreme-based events (release 0.x configs) are ignored with a warning."""
        if isinstance(data, dict) and (old := RETIRED_KEYS & data.keys()):
            log.warning("[gait] %s no longer used (events now come from foot contact); ignored", ", ".join(sorted(old)))
            data = {k: v for k, v in data.items() if k not in RETIRED_KEYS}
        return data
