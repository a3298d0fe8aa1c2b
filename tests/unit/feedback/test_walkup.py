"""Walk-up checks: the card's words and figures (pure), and the check's phases fed with synthetic
strides on a fake clock (idle -> settling -> checking -> result -> cleared)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hipcam.config import WalkupConfig
from hipcam.domain import UNKNOWN
from hipcam.feedback.walkup import CUES, USUAL, against_usual, dominant, make_card
from hipcam.records.stride import StrideRecord
from hipcam.records.walkup_results import WalkupResults
from hipcam.service.walkup import WalkupCheck


def _stride(leg: str, cls: str, ext: float = 12.0, lean: float = 7.0) -> StrideRecord:
    return StrideRecord(leg=leg, cls=cls, hip_extension_at_toe_off_deg=ext, trunk_lean_at_toe_off_deg=lean)


def test_the_cue_table_covers_every_class_with_sources() -> None:
    assert set(CUES) == {"A", "B", "C", "D"}
    assert CUES["C"].text == "Run tall, push the ground away behind you"
    assert CUES["D"].text == "Ribs down, squeeze the glutes"
    assert all(c.sources for c in CUES.values()) and all(r.source for r in USUAL.values())


def test_dominant_and_ranges() -> None:
    assert dominant(["A", "A", "B", UNKNOWN, UNKNOWN, UNKNOWN]) == "A"
    assert dominant(["B", "D"]) == "D"  # a tie names the pattern needing more work
    assert dominant([UNKNOWN]) is None
    assert against_usual("hip_extension", 5.0)["verdict"] == "below"
    assert against_usual("hip_extension", 14.0)["verdict"] == "within"
    assert against_usual("trunk_lean", 15.0)["words"] == "more forward than usual"
    assert against_usual("trunk_lean", None)["verdict"] is None


def test_card_has_a_class_two_angles_and_a_cue_and_no_name() -> None:
    card = make_card({"left": [_stride("left", "C", 4, 14)] * 3, "right": [_stride("right", "C", 6, 13)] * 3}, 100.0)
    assert card["class"] == "C" and card["cue"]["text"].startswith("Run tall")
    left = card["legs"]["left"]
    assert left["class"] == "C" and left["hip_extension"]["value"] == 4.0 and left["trunk_lean"]["value"] == 14.0
    assert "runner" not in str(card) and "name" not in card


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def _check(tmp_path: Path, **cfg: object) -> tuple[WalkupCheck, Clock, list[tuple[str, int]]]:
    clock, counted = Clock(), []
    config = WalkupConfig.model_validate({"enabled": True, "settle_s": 3, "strides_per_leg": 4, "card_hold_s": 10,
                                          "link_ttl_s": 60, **cfg})  # fmt: skip
    check = WalkupCheck(None, WalkupResults(tmp_path / "walkup.sqlite"), config, clock,
                        on_count=lambda d, n: counted.append((d, n)))  # fmt: skip
    return check, clock, counted


def _run(check: WalkupCheck, clock: Clock, seconds: float, cls: str = "B", status: str = "running") -> None:
    """Frames at 10 Hz, a stride every 0.4 s alternating legs (no stride when the status is not running)."""
    for i in range(int(seconds * 10)):
        clock.t += 0.1
        strides = [_stride("left" if (i // 4) % 2 else "right", cls)] if status == "running" and i % 4 == 0 else []
        check.on_frame(strides, status)


def test_a_check_starts_by_itself_shows_a_card_and_clears(tmp_path: Path) -> None:
    check, clock, counted = _check(tmp_path)
    assert check.view()["phase"] == "idle"
    _run(check, clock, 1.0)
    assert check.view()["phase"] == "settling"
    _run(check, clock, 2.5)
    assert check.view()["phase"] == "checking"
    _run(check, clock, 4.0)
    view = check.view()
    assert view["phase"] == "result" and view["card"]["class"] == "B" and view["token"]
    assert check.by_token(view["token"])[0] == "ok" and counted and counted[0][1] == 1
    _run(check, clock, 20.0)  # running on: the card stays
    assert check.view()["phase"] == "result"
    _run(check, clock, 5.0, status="no_runner")
    assert check.view()["phase"] == "result"
    clock.t += 6.0  # no frames at all (the clip stopped): the card clears by time
    assert check.view()["phase"] == "idle" and check.view()["card"] is None
    rows = check.results.results() if check.results else []
    assert len(rows) == 1 and rows[0]["card"]["class"] == "B"


def test_links_expire_and_forged_ones_are_unknown(tmp_path: Path) -> None:
    check, clock, _ = _check(tmp_path)
    _run(check, clock, 10.0)
    token = check.view()["token"]
    assert check.by_token("x" * 24)[0] == "forged" and check.by_token("../../etc")[0] == "forged"
    clock.t += 61
    assert check.by_token(token) == ("expired", None)


def test_unknown_and_walking_strides_do_not_count_and_leaving_ends_a_check(tmp_path: Path) -> None:
    check, clock, _ = _check(tmp_path)
    _run(check, clock, 10.0, cls=UNKNOWN)
    assert check.view()["phase"] == "checking" and check.view()["progress"] == {"left": 0, "right": 0}
    _run(check, clock, 3.0, status="no_runner")
    assert check.view()["phase"] == "idle"


def test_a_leg_never_classified_does_not_hold_the_check_forever(tmp_path: Path) -> None:
    check, clock, _ = _check(tmp_path)
    for i in range(400):  # 40 s at 10 Hz; only the right leg's strides are classified
        clock.t += 0.1
        leg = "left" if (i // 4) % 2 else "right"
        check.on_frame([_stride(leg, "B" if leg == "right" else UNKNOWN)] if i % 4 == 0 else [], "running")
        if check.view()["phase"] == "result":
            break
    view = check.view()
    assert view["phase"] == "result", "the check waited for the left leg for 40 s"
    assert view["card"]["legs"]["right"]["class"] == "B" and view["card"]["legs"]["left"]["strides"] == 0
    assert view["card"]["legs"]["left"]["words"] == "Not enough strides seen"


def test_off_by_default(tmp_path: Path) -> None:
    check = WalkupCheck(None, None)
    check.on_frame([_stride("left", "B")], "running")
    assert check.view()["phase"] == "off" and check.view()["enabled"] is False


def test_results_are_deleted_after_keep_hours_and_counts_kept(tmp_path: Path) -> None:
    results = WalkupResults(tmp_path / "w.sqlite")
    results.save({"class": "A"}, 1_000_000.0)
    results.save({"class": "B"}, 1_000_000.0 + 7200)
    assert results.purge(1.0, 1_000_000.0 + 7200) == 1
    assert [r["card"]["class"] for r in results.results()] == ["B"]
    assert sum(results.daily_counts().values()) == 2
    results.close()
    db = sqlite3.connect(tmp_path / "w.sqlite")
    columns = {c[1] for t in ("results", "daily_counts") for c in db.execute(f"PRAGMA table_info({t})")}
    assert not {"runner", "name", "notes"} & columns
