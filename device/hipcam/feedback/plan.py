"""What the clinician chooses: the target, the schedule of feedback blocks, the cues.

Faded feedback, not constant feedback, is what makes a new running pattern hold once the feedback is
gone (Willy, Scholz & Davis 2012: faded over 8 sessions, held at 3 months; Winstein & Schmidt 1990
on reduced-frequency feedback). A session is a row of blocks of ``block_s`` seconds: with
``probes`` a feedback-off block first and last (retention, measured without the cue), and between
them ``blocks`` blocks whose feedback is always on (continuous), on only when outside the target
(bandwidth: hits are not cued), or faded: the blocks split into phases whose share of blocks with
feedback follows ``fade`` (default 100 %, 50 %, 20 %, 0 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TargetKind = Literal["pattern_b", "not_c", "not_d", "cadence"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    kind: TargetKind = Field(description="pattern_b: hip extension and an upright trunk; not_c / not_d; cadence")
    min_hip_extension_deg: float = Field(10.0, ge=0.0, le=40.0, description="pattern_b: at toe-off, at least")
    max_trunk_lean_deg: float = Field(8.0, ge=-10.0, le=30.0, description="pattern_b: forward lean at toe-off, at most")
    cadence_spm: float = Field(170.0, ge=100.0, le=230.0, description="cadence: the target, steps per minute")
    tolerance_spm: float = Field(5.0, ge=1.0, le=30.0, description="cadence: a hit within this of the target")

    def label(self) -> str:
        """The target as the runner view states it."""
        if self.kind == "pattern_b":
            return (f"Hip extension ≥ {self.min_hip_extension_deg:g}° at toe-off "
                    f"with trunk lean ≤ {self.max_trunk_lean_deg:g}°")  # fmt: skip
        if self.kind == "cadence":
            return f"Cadence {self.cadence_spm:g} ± {self.tolerance_spm:g} steps/min"
        return {"not_c": "Stay tall: no leaning forward (not C)", "not_d": "No arching the back (not D)"}[self.kind]


class Schedule(_Strict):
    kind: Literal["continuous", "faded", "bandwidth"] = "faded"
    block_s: float = Field(60.0, ge=5.0, le=1800.0, description="length of a block, seconds")
    blocks: int = Field(8, ge=1, le=100, description="blocks with feedback (or faded), without the probes")
    fade: tuple[float, ...] = Field((1.0, 0.5, 0.2, 0.0), min_length=1, max_length=6)
    probes: bool = Field(True, description="a feedback-off retention block before and after")

    @model_validator(mode="after")
    def _fade_shares(self) -> Schedule:
        if any(not (0.0 <= f <= 1.0) for f in self.fade):
            raise ValueError("fade: each share of blocks with feedback must be between 0 and 1")
        return self


class Plan(_Strict):
    target: Target
    schedule: Schedule = Schedule()
    audio: Literal["all", "misses", "off"] = "all"
    metronome: bool = Field(False, description="cadence target: a metronome at the target cadence")
    show_values: bool = Field(False, description="the runner view shows the measured value with each cue")

    def to_json(self) -> dict[str, Any]:
        """The plan as stored with its results, the target's label with it."""
        data = self.model_dump(mode="json")
        data["target"]["label"] = self.target.label()
        return data


@dataclass(frozen=True)
class Block:
    index: int
    feedback: bool
    probe: Literal["pre", "post"] | None = None


def expand_blocks(schedule: Schedule) -> list[Block]:
    """The session's blocks in order (see the module docstring)."""
    on = _faded(schedule.blocks, schedule.fade) if schedule.kind == "faded" else [True] * schedule.blocks
    kinds: list[tuple[bool, Literal["pre", "post"] | None]] = [(f, None) for f in on]
    if schedule.probes:
        kinds = [(False, "pre"), *kinds, (False, "post")]
    return [Block(i, f, p) for i, (f, p) in enumerate(kinds)]


def _faded(blocks: int, fade: tuple[float, ...]) -> list[bool]:
    """``blocks`` split into len(fade) phases as evenly as possible (earlier phases take the
    remainder); in a phase of share p, block j has feedback when ceil((j+1) p) > ceil(j p), which
    spreads the on-blocks evenly and starts the phase with one."""
    phases = len(fade)
    sizes = [blocks // phases + (1 if i < blocks % phases else 0) for i in range(phases)]
    on: list[bool] = []
    for size, share in zip(sizes, fade, strict=True):
        on += [math.ceil((j + 1) * share - 1e-9) > math.ceil(j * share - 1e-9) for j in range(size)]
    return on
