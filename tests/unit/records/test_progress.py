"""Progress over sessions and hipcam's own SDD, on synthetic strides of known spread stored in a real
SQLite store: the SDD matches 1.96 * sqrt(2) * sigma / sqrt(n), a shift beyond it is "changed" and
one inside it "within measurement error", and a leg with fewer than 7 strides gets no number."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hipcam.domain import UNKNOWN
from hipcam.records import progress
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord

HIP = "hip_extension_at_toe_off_deg"


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    yield s
    s.close()


def _strides(
    rng: np.random.Generator, mean: float, sd: float, n: int, legs: tuple[str, ...] = ("left", "right")
) -> list[StrideRecord]:
    out = []
    for i in range(n):
        for leg in legs:
            ext = float(rng.normal(mean, sd))
            duration = float(rng.normal(0.75, 0.01))
            out.append(StrideRecord(leg=leg, cls="A" if ext >= 10 else "B", t_start=i * 0.75, t_end=i * 0.75 + duration,
                                    hip_extension_at_toe_off_deg=ext, trunk_lean_at_toe_off_deg=float(rng.normal(5, 1)),
                                    stance_s=0.25))  # fmt: skip
    return out


def _session(store: Store, runner_id: int, strides: list[StrideRecord]) -> int:
    sid = int(store.start_session(runner_id=runner_id)["id"])
    for s in strides:
        store.add_stride(sid, s)
    store.stop_session()
    return sid


def test_session_stats_mean_sd_n_and_too_few() -> None:
    strides = [
        StrideRecord(leg="left", cls="A", hip_extension_at_toe_off_deg=float(v), duration_s=0.8) for v in range(10, 20)
    ]
    strides += [StrideRecord(leg="right", cls="C", hip_extension_at_toe_off_deg=1.0, duration_s=0.8) for _ in range(6)]
    strides += [StrideRecord(leg="right", cls=UNKNOWN, hip_extension_at_toe_off_deg=50.0) for _ in range(5)]
    stats = progress.session_stats(strides)
    left = stats["left"][HIP]
    assert (
        left["n"] == 10
        and left["mean"] == 14.5
        and left["sd"] == pytest.approx(float(np.std(range(10, 20), ddof=1)), abs=1e-3)
    )
    assert stats["left"]["cadence_spm"]["mean"] == 150.0  # two steps per 0.8 s stride
    assert stats["left"]["share_A"]["mean"] == 100.0 and stats["left"]["share_B"]["mean"] == 0.0
    # six classified right strides (the unknown ones never count): too few, no number
    assert stats["right"][HIP] == {"mean": None, "sd": None, "n": 6}
    assert stats["right"]["share_C"] == {"mean": None, "sd": None, "n": 6}
    assert stats["left"]["knee_flexion_at_strike_deg"] == {"mean": None, "sd": None, "n": 0}


def test_sdd_from_split_half_matches_the_known_spread() -> None:
    rng = np.random.default_rng(13)
    sigma, n = 3.0, 24
    sessions = [list(rng.normal(15.0, sigma, n)) for _ in range(60)]
    model = progress.error_model(sessions)
    assert model["sessions"] == 60
    assert model["split_half_sd"] == pytest.approx(sigma, rel=0.2)
    assert model["stride_sd"] == pytest.approx(sigma, rel=0.05)
    assert model["error_sd"] == max(model["split_half_sd"], model["stride_sd"])
    expected = 1.96 * math.sqrt(2) * sigma / math.sqrt(n)
    assert progress.sdd(model["error_sd"], n, n) == pytest.approx(expected, rel=0.2)
    assert progress.sdd(model["error_sd"], 6, n) is None
    assert progress.error_model([[1.0] * 6]) == {
        "split_half_sd": None,
        "stride_sd": None,
        "error_sd": None,
        "sessions": 0,
    }


def test_the_split_half_sees_what_the_stride_sd_does_not() -> None:
    # Alternating strides (odd high, even low): the halves differ although each half is steady.
    values = [20.0 if i % 2 == 0 else 10.0 for i in range(20)]
    model = progress.error_model([values])
    assert model["split_half_sd"] > model["stride_sd"] and model["error_sd"] == model["split_half_sd"]


def test_change_marks_both_ways_and_none_for_the_first_session(store: Store) -> None:
    rng = np.random.default_rng(7)
    ann = store.runners.create("Ann")
    first = _session(store, ann["id"], _strides(rng, 10.0, 2.0, 20))
    assert progress.session_change(store, first) is None  # no earlier session
    same = _session(store, ann["id"], _strides(rng, 10.3, 2.0, 20))
    moved = _session(store, ann["id"], _strides(rng, 18.0, 2.0, 20))
    change = progress.session_change(store, same)
    assert change is not None and change["previous_session_id"] == first
    hip = change["legs"]["left"][HIP]
    assert hip["label"] == "Hip extension at toe-off" and hip["unit"] == "deg"
    assert hip["sdd"] is not None and 0.8 < hip["sdd"] < 2.5  # 1.96 * sqrt(2) * 2 / sqrt(20) = 1.24
    assert abs(hip["delta"]) < hip["sdd"] and hip["mark"] == progress.WITHIN
    later = progress.session_change(store, moved)
    assert later is not None and later["previous_session_id"] == same
    for leg in ("left", "right"):
        entry = later["legs"][leg][HIP]
        assert entry["delta"] == pytest.approx(entry["current"] - entry["previous"], abs=1e-2)
        assert entry["delta"] > entry["sdd"] and entry["mark"] == progress.CHANGED
    assert later["legs"]["left"]["knee_flexion_at_strike_deg"]["mark"] is None  # never measured: no mark


def test_too_few_strides_get_no_number_and_no_mark(store: Store) -> None:
    rng = np.random.default_rng(3)
    bo = store.runners.create("Bo")
    _session(store, bo["id"], _strides(rng, 10.0, 2.0, 20))
    short = _session(store, bo["id"], _strides(rng, 30.0, 2.0, 6))
    change = progress.session_change(store, short)
    assert change is not None
    hip = change["legs"]["right"][HIP]
    assert hip["current"] is None and hip["delta"] is None and hip["sdd"] is None and hip["mark"] is None


def test_runner_progress_over_sessions(store: Store) -> None:
    rng = np.random.default_rng(11)
    cy = store.runners.create("Cy")
    empty = int(store.start_session(runner_id=cy["id"])["id"])
    store.stop_session()
    ids = [_session(store, cy["id"], _strides(rng, mean, 2.0, 15)) for mean in (8.0, 8.2, 16.0)]
    prog = progress.runner_progress(store, cy["id"])
    assert prog is not None and prog["comparable"] and prog["min_strides"] == 7
    assert [s["session_id"] for s in prog["sessions"]] == [empty, *ids]  # time order
    assert prog["baseline_session_id"] == ids[0]  # the first with classified strides
    assert prog["sessions"][0]["change_previous"] is None and prog["sessions"][1]["change_previous"] is None
    second, third = prog["sessions"][2], prog["sessions"][3]
    assert second["previous_session_id"] == ids[0] and second["change_previous"]["left"][HIP]["mark"] == progress.WITHIN
    assert third["previous_session_id"] == ids[1] and third["change_baseline"]["left"][HIP]["mark"] == progress.CHANGED
    assert third["stats"]["left"][HIP]["n"] == 15
    err = prog["error"]["left"][HIP]
    assert (
        err["sessions"] == 3
        and err["n"] == 15
        and err["sdd"] == pytest.approx(1.96 * math.sqrt(2) * err["sem"], abs=0.01)
    )
    assert [lit["source"] for lit in prog["literature"]] == ["Dingenen et al. 2018", "Damsted et al. 2015"]
    assert progress.runner_progress(store, 999) is None


def test_the_unassigned_runner_is_never_compared(store: Store) -> None:
    rng = np.random.default_rng(5)
    a = _session(store, store.runners.unassigned_id, _strides(rng, 5.0, 1.0, 10))
    b = _session(store, store.runners.unassigned_id, _strides(rng, 25.0, 1.0, 10))
    assert progress.session_change(store, b) is None
    prog = progress.runner_progress(store, store.runners.unassigned_id)
    assert prog is not None and not prog["comparable"] and prog["baseline_session_id"] is None
    assert [s["change_previous"] for s in prog["sessions"]] == [None, None]
    assert prog["sessions"][0]["session_id"] == a and prog["sessions"][1]["stats"]["left"][HIP]["n"] == 10


def test_a_class_share_never_seen_before_needs_more_than_one_stride_to_change() -> None:
    errors = {leg: {m.key: {"error_sd": 0.0} for m in progress.METRICS} for leg in ("left", "right")}
    before = progress._series([StrideRecord(leg="left", cls="A") for _ in range(10)])
    one_c = progress._series(
        [StrideRecord(leg="left", cls="A") for _ in range(9)] + [StrideRecord(leg="left", cls="C")]
    )
    all_c = progress._series([StrideRecord(leg="left", cls="C") for _ in range(10)])
    share = progress.compare(before, one_c, errors)["left"]["share_C"]
    assert share["delta"] == 10.0 and share["mark"] == progress.WITHIN and share["sdd"] > 10.0
    assert progress.compare(before, all_c, errors)["left"]["share_C"]["mark"] == progress.CHANGED
    assert progress.compare(before, before, errors)["left"]["share_C"] | {"label": None} == {
        "label": None, "unit": "%", "previous": 0.0, "current": 0.0, "delta": 0.0, "sdd": 0.0, "mark": progress.WITHIN}  # fmt: skip
