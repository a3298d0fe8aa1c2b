"""Step and stride length from the session's treadmill speed (km/h), and centimetres from the runner's
height (records.side_lengths); the store fills the lengths in as it saves a stride."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from service_fakes import web_app

from hipcam.records.side_lengths import TRUNK_PER_HEIGHT, in_cm, trunk_cm, with_speed
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord


def _stride(**kw: object) -> StrideRecord:
    base: dict[str, object] = {"leg": "left", "cls": "B", "duration_s": 0.72, "t_end": 1.0}
    return StrideRecord(**{**base, **kw})  # type: ignore[arg-type]


def test_with_speed_km_per_h() -> None:
    s = with_speed(_stride(), 10.8)  # 3 m/s x 0.72 s
    assert s.stride_length_m == pytest.approx(2.16) and s.step_length_m == pytest.approx(1.08)
    assert s.duration_s == 0.72 and s.leg == "left"  # the rest untouched


@pytest.mark.parametrize("speed", [None, 0.0, -3.0, math.nan, math.inf, 41.0, "fast", True])
def test_with_speed_none_without_a_usable_speed(speed: object) -> None:
    s = with_speed(_stride(stride_length_m=9.9, step_length_m=4.9), speed)  # type: ignore[arg-type]
    assert s.stride_length_m is None and s.step_length_m is None


@pytest.mark.parametrize("duration", [None, 0.0, -1.0, math.nan])
def test_with_speed_none_without_a_duration(duration: float | None) -> None:
    s = with_speed(_stride(duration_s=duration), 10.0)
    assert s.stride_length_m is None and s.step_length_m is None


def test_in_cm_from_winter_proportions() -> None:
    assert pytest.approx(0.288) == TRUNK_PER_HEIGHT
    assert trunk_cm(175.0) == pytest.approx(50.4)
    given = {"overstride_trunk": 0.4, "vertical_oscillation_trunk": 0.16, "leg": "left"}
    out = in_cm(given, 175.0)
    assert out["overstride_cm"] == pytest.approx(20.2) and out["vertical_oscillation_cm"] == pytest.approx(8.1)
    assert out["leg"] == "left" and "overstride_cm" not in given  # a copy: the caller's dict is unchanged


@pytest.mark.parametrize("height", [None, 0.0, 20.0, 400.0, math.nan, "tall"])
def test_in_cm_none_without_a_plausible_height(height: object) -> None:
    out = in_cm({"overstride_trunk": 0.4, "vertical_oscillation_trunk": 0.16}, height)  # type: ignore[arg-type]
    assert out["overstride_cm"] is None and out["vertical_oscillation_cm"] is None


def test_in_cm_none_where_the_metric_is_unmeasured() -> None:
    out = in_cm({"overstride_trunk": None}, 180.0)
    assert out["overstride_cm"] is None and out["vertical_oscillation_cm"] is None


def test_store_fills_in_the_lengths_from_the_session_speed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    fast = store.start_session("Ann", treadmill_speed=12.6)["id"]  # 3.5 m/s
    store.add_stride(fast, _stride(duration_s=0.7, overstride_trunk=0.35, flight_s=0.2))
    store.stop_session(fast)
    none = store.start_session("Ann")["id"]
    store.add_stride(none, _stride(duration_s=0.7))
    store.stop_session(none)
    store.close()
    store = Store(tmp_path)  # from the file, not a cache
    got = store.strides(fast)[0]
    assert got.stride_length_m == pytest.approx(2.45) and got.step_length_m == pytest.approx(1.225, abs=0.01)
    assert got.overstride_trunk == 0.35 and got.flight_s == 0.2
    assert store.strides(none)[0].stride_length_m is None
    rows = list(csv.DictReader(io.StringIO(store.export_csv(fast) or "")))
    assert rows[0]["stride_length_m"] == "2.45" and rows[0]["overstride_trunk"] == "0.35"
    store.close()


def test_session_page_shows_the_side_view_table(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.start_session("Ann", treadmill_speed=10.8)["id"]
    for i, knee in enumerate((18.0, 22.0, 20.0)):
        store.add_stride(sid, _stride(leg="right", t_end=float(i), foot_strike_pattern="rearfoot",
                                      foot_inclination_at_strike_deg=12.0 + i, knee_flexion_at_strike_deg=knee,
                                      stance_s=0.25, flight_s=0.1))  # fmt: skip
    html = web_app(store).test_client().get(f"/sessions/{sid}").get_data(as_text=True)
    side = html[html.index('id="side-metrics"') : html.index('id="side-strides-table"')]
    assert "Knee flexion at foot strike" in side and "20.0" in side and "n=3" in side  # the median of 18, 22, 20
    assert "rearfoot 3" in side and "2.16" in side  # 10.8 km/h x 0.72 s
    store.close()


def test_session_page_gives_centimetres_when_the_runners_height_is_known(tmp_path: Path) -> None:
    store = Store(tmp_path)
    runner = store.runners.create("Tall Runner", height_cm=180.0)
    sid = store.start_session(runner_id=runner["id"], treadmill_speed=10.0)["id"]
    store.add_stride(sid, _stride(leg="left", t_end=1.0, overstride_trunk=0.2))
    html = web_app(store).test_client().get(f"/sessions/{sid}").get_data(as_text=True)
    side = html[html.index('id="side-metrics"') : html.index('id="side-strides-table"')]
    assert "Overstride at foot strike" in side and "10.4" in side  # 0.2 x 0.288 x 180 cm
    store.close()
