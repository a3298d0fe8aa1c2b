"""A running feedback plan: judges each completed stride against the target, moves through the
blocks on the clock, and keeps each block's results (what the session stores).

Pure: the caller passes the time (wall-clock seconds, so the runner view can count a block's time
left) and the strides; nothing here touches the store, the web or the frame loop's timing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hipcam.domain import CLASSIFIED
from hipcam.feedback.plan import Block, Plan, Target, expand_blocks
from hipcam.records.stride import StrideRecord, json_number

Judgement = tuple[bool | None, float | None, str]  # hit (None: cannot judge), value, measure


def judge(target: Target, stride: StrideRecord, cadence_spm: float | None) -> Judgement:
    """Whether ``stride`` meets ``target``. An unknown stride, or one without the value the target
    needs, is not judged (None): the runner is never told "miss" for what hipcam could not see."""
    if target.kind == "cadence":
        if cadence_spm is None or stride.cls not in CLASSIFIED:
            return None, cadence_spm, "cadence_spm"
        return abs(cadence_spm - target.cadence_spm) <= target.tolerance_spm, cadence_spm, "cadence_spm"
    if stride.cls not in CLASSIFIED:
        return None, None, "class"
    if target.kind in ("not_c", "not_d"):
        return stride.cls != target.kind[-1].upper(), None, "class"
    ext, lean = stride.hip_extension_at_toe_off_deg, stride.trunk_lean_at_toe_off_deg
    if ext is None or lean is None:
        return None, ext, "hip_extension_at_toe_off_deg"
    return (
        ext >= target.min_hip_extension_deg and lean <= target.max_trunk_lean_deg,
        ext,
        "hip_extension_at_toe_off_deg",
    )


@dataclass
class BlockResult:
    block: Block
    started_at: float
    ended_at: float | None = None
    strides: int = 0  # judged strides
    hits: int = 0
    not_judged: int = 0  # strides that could not be judged (unknown class, no value)
    hip_extension: list[float] = field(default_factory=list)
    trunk_lean: list[float] = field(default_factory=list)
    cadence: list[float] = field(default_factory=list)

    def add(self, stride: StrideRecord, hit: bool | None, cadence_spm: float | None) -> None:
        if hit is None:
            self.not_judged += 1
            return
        self.strides += 1
        self.hits += int(hit)
        for values, value in ((self.hip_extension, stride.hip_extension_at_toe_off_deg),
                              (self.trunk_lean, stride.trunk_lean_at_toe_off_deg), (self.cadence, cadence_spm)):  # fmt: skip
            if value is not None:
                values.append(float(value))

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.block.index,
            "feedback": self.block.feedback,
            "probe": self.block.probe,
            "started_at": round(self.started_at, 3),
            "ended_at": None if self.ended_at is None else round(self.ended_at, 3),
            "strides": self.strides,
            "hits": self.hits,
            "not_judged": self.not_judged,
            "hit_rate": round(self.hits / self.strides, 3) if self.strides else None,
            "mean_hip_extension_deg": _mean(self.hip_extension),
            "mean_trunk_lean_deg": _mean(self.trunk_lean),
            "mean_cadence_spm": _mean(self.cadence, 0),
        }


class FeedbackRun:
    def __init__(self, plan: Plan, session_id: int, now: float) -> None:
        self.plan, self.session_id = plan, session_id
        self.blocks = expand_blocks(plan.schedule)
        self.started_at = now
        self.ended_at: float | None = None
        self.results = [BlockResult(self.blocks[0], now)]
        self.streak = 0

    @property
    def finished(self) -> bool:
        return self.ended_at is not None

    @property
    def current(self) -> BlockResult:
        return self.results[-1]

    def advance(self, now: float) -> bool:
        """Close the blocks whose time is up (the run ends after the last); True if one closed."""
        closed = False
        block_s = self.plan.schedule.block_s
        while not self.finished and now >= self.current.started_at + block_s:
            ends = self.current.started_at + block_s
            self.current.ended_at = ends
            closed = True
            if self.current.block.index + 1 >= len(self.blocks):
                self.ended_at = ends
            else:
                self.results.append(BlockResult(self.blocks[self.current.block.index + 1], ends))
                self.streak = 0
        return closed

    def stop(self, now: float) -> None:
        """End the run now (the clinician stopped it, or the session ended)."""
        if not self.finished:
            self.current.ended_at = self.ended_at = now

    def on_stride(
        self, stride: StrideRecord, cadence_spm: float | None, captured_at: float, now: float
    ) -> dict[str, Any]:
        """Judge a completed stride into the current block; the cue for the runner view."""
        self.advance(now)
        block = self.current.block
        hit, value, measure = judge(self.plan.target, stride, cadence_spm)
        if not self.finished:
            self.current.add(stride, hit, cadence_spm)
            if hit is not None:
                self.streak = self.streak + 1 if hit else 0
        bandwidth_hit = self.plan.schedule.kind == "bandwidth" and hit is True
        show = block.feedback and not self.finished and hit is not None and not bandwidth_hit
        return {"hit": hit, "show": show, "leg": stride.leg, "value": json_number(value, 1), "measure": measure,
                "block": block.index, "feedback": block.feedback, "captured_at": captured_at, "posted_at": now}  # fmt: skip

    def status(self) -> dict[str, Any]:
        """What the pages show (the live snapshot's ``flags.feedback``)."""
        cur = self.current
        block_s = self.plan.schedule.block_s
        plan = self.plan
        return {
            "active": not self.finished,
            "finished": self.finished,
            "session_id": self.session_id,
            "target": {**plan.target.model_dump(mode="json"), "label": plan.target.label()},
            "schedule": plan.schedule.model_dump(mode="json"),
            "audio": plan.audio,
            "metronome_spm": plan.target.cadence_spm if plan.metronome and plan.target.kind == "cadence" else None,
            "show_values": plan.show_values,
            "block": {**cur.to_json(), "count": len(self.blocks), "ends_at": round(cur.started_at + block_s, 3)},
            "streak": self.streak,
            "blocks_done": [r.to_json() for r in self.results if r.ended_at is not None],
        }

    def to_json(self) -> dict[str, Any]:
        """The run as the session stores it."""
        on_s = sum((r.ended_at or r.started_at) - r.started_at for r in self.results if r.block.feedback)
        return {
            "plan": self.plan.to_json(),
            "started_at": round(self.started_at, 3),
            "ended_at": None if self.ended_at is None else round(self.ended_at, 3),
            "feedback_minutes": round(on_s / 60.0, 2),
            "blocks": [r.to_json() for r in self.results],
        }


def _mean(values: list[float], digits: int = 1) -> float | None:
    return json_number(sum(values) / len(values), digits) if values else None
