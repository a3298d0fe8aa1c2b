"""The feedback plan's blocks, the judging of strides, the block clock and what a run stores."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hipcam.feedback import FeedbackRun, Plan, Schedule, Target, expand_blocks, judge
from hipcam.records.stride import StrideRecord


def _stride(cls: str = "B", ext: float | None = 14.0, lean: float | None = 4.0, leg: str = "left") -> StrideRecord:
    return StrideRecord(leg=leg, cls=cls, hip_extension_at_toe_off_deg=ext, trunk_lean_at_toe_off_deg=lean)


def _on(schedule: Schedule) -> list[str]:
    return [b.probe or ("on" if b.feedback else "off") for b in expand_blocks(schedule)]


def test_blocks_of_each_schedule() -> None:
    assert _on(Schedule(kind="continuous", blocks=3)) == ["pre", "on", "on", "on", "post"]
    assert _on(Schedule(kind="bandwidth", blocks=2, probes=False)) == ["on", "on"]
    # 8 blocks faded 100/50/20/0 %: two per phase, each phase starting with feedback.
    assert _on(Schedule(kind="faded", blocks=8, probes=False)) == ["on", "on", "on", "off", "on", "off", "off", "off"]
    # 20 blocks: 5 per phase; 20 % of 5 is one block.
    shares = [expand_blocks(Schedule(blocks=20, probes=False))[i : i + 5] for i in range(0, 20, 5)]
    assert [sum(b.feedback for b in phase) for phase in shares] == [5, 3, 1, 0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": {"kind": "pattern_b", "min_hip_extension_deg": 60}}, "min_hip_extension_deg"),
        ({"target": {"kind": "pattern_b"}, "schedule": {"blocks": 0}}, "blocks"),
        ({"target": {"kind": "pattern_b"}, "schedule": {"block_s": 0}}, "block_s"),
        ({"target": {"kind": "pattern_b"}, "schedule": {"fade": []}}, "fade"),
        ({"target": {"kind": "pattern_b"}, "schedule": {"fade": [1.5]}}, "fade"),
        ({"target": {"kind": "hop"}}, "kind"),
        ({"target": {"kind": "not_c"}, "volume": 3}, "volume"),
    ],
)
def test_bad_plans_name_the_field(body: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Plan.model_validate(body)
    assert field in str(err.value)


def test_judging() -> None:
    b = Target(kind="pattern_b", min_hip_extension_deg=10, max_trunk_lean_deg=8)
    assert judge(b, _stride(), None)[0] is True
    assert judge(b, _stride(ext=9.0), None)[0] is False
    assert judge(b, _stride(lean=12.0), None)[0] is False
    assert judge(b, _stride(cls="unknown"), None)[0] is None  # never a "miss" for what was not seen
    assert judge(b, _stride(ext=None), None)[0] is None
    assert judge(Target(kind="not_c"), _stride(cls="C"), None)[0] is False
    assert judge(Target(kind="not_d"), _stride(cls="C"), None)[0] is True
    cadence = Target(kind="cadence", cadence_spm=170, tolerance_spm=5)
    assert judge(cadence, _stride(), 173.0) == (True, 173.0, "cadence_spm")
    assert judge(cadence, _stride(), 160.0)[0] is False and judge(cadence, _stride(), None)[0] is None


def test_run_moves_through_blocks_and_shows_cues_only_with_feedback() -> None:
    plan = Plan(target=Target(kind="pattern_b"), schedule=Schedule(kind="continuous", block_s=10, blocks=1))
    run = FeedbackRun(plan, session_id=7, now=100.0)
    pre = run.on_stride(_stride(), None, captured_at=100.5, now=101.0)
    assert pre["hit"] is True and pre["show"] is False and pre["block"] == 0  # the pre probe: no cue
    hit = run.on_stride(_stride(), None, 111.0, 111.0)
    miss = run.on_stride(_stride(ext=2.0), None, 112.0, 112.0)
    unknown = run.on_stride(_stride(cls="unknown"), None, 113.0, 113.0)
    assert (hit["show"], hit["block"], miss["hit"], miss["show"]) == (True, 1, False, True)
    assert unknown["hit"] is None and unknown["show"] is False
    assert run.status()["block"]["ends_at"] == 120.0 and run.status()["streak"] == 0
    assert run.advance(131.0) and run.finished and run.ended_at == 130.0
    stored = run.to_json()
    blocks = stored["blocks"]
    assert [b["probe"] for b in blocks] == ["pre", None, "post"]
    assert (blocks[1]["strides"], blocks[1]["hits"], blocks[1]["not_judged"], blocks[1]["hit_rate"]) == (2, 1, 1, 0.5)
    assert blocks[1]["mean_hip_extension_deg"] == 8.0 and stored["feedback_minutes"] == round(10 / 60, 2)
    late = run.on_stride(_stride(), None, 132.0, 132.0)
    assert late["show"] is False and run.to_json()["blocks"][2]["strides"] == 0  # after the end: not counted


def test_bandwidth_cues_only_misses() -> None:
    plan = Plan(target=Target(kind="not_d"), schedule=Schedule(kind="bandwidth", block_s=30, blocks=1, probes=False))
    run = FeedbackRun(plan, 1, 0.0)
    assert run.on_stride(_stride(cls="B"), None, 1.0, 1.0)["show"] is False
    assert run.on_stride(_stride(cls="D"), None, 2.0, 2.0)["show"] is True


def test_stop_ends_the_current_block() -> None:
    run = FeedbackRun(Plan(target=Target(kind="not_c")), 1, 0.0)
    run.on_stride(_stride(), None, 5.0, 5.0)
    run.stop(20.0)
    assert run.finished and run.to_json()["blocks"][-1]["ended_at"] == 20.0 and len(run.results) == 1
