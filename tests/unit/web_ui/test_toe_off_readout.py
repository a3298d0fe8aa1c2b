"""The stride's toe-off values on the pages and in the exports: hip extension at toe-off with its
uncertainty first, the peak as secondary information."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from service_fakes import web_app

from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from hipcam.service.state import LiveMetrics, LiveState

NEW = ("thigh_at_toe_off_deg", "trunk_lean_at_toe_off_deg", "hip_extension_at_toe_off_deg",
       "hip_extension_uncertainty_deg", "trunk_lean_midpoints_deg")  # fmt: skip


def _stride(leg: str, peak: float, at_toe_off: float, unc: float) -> StrideRecord:
    return StrideRecord(leg=leg, cls="B", hip_extension_deg=peak, hip_extension_at_toe_off_deg=at_toe_off,
                        hip_extension_uncertainty_deg=unc, trunk_lean_at_toe_off_deg=3.1, thigh_at_toe_off_deg=17.3,
                        trunk_lean_midpoints_deg=2.0, t_end=1.0)  # fmt: skip


def test_session_page_table_captions_and_best_stride_use_toe_off(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.start_session("Ann")["id"]
    store.add_stride(sid, _stride("left", 25.0, 14.2, 1.8), b"\xff\xd8a")  # the highest peak
    store.add_stride(sid, _stride("right", 20.0, 19.6, 0.9), b"\xff\xd8b")  # the most extension at toe-off
    html = web_app(store).test_client().get(f"/sessions/{sid}").get_data(as_text=True)
    assert "Hip ext at toe-off" in html and "14.2 ± 1.8" in html and "19.6 ± 0.9" in html
    assert "mean ext at toe-off 14.2°" in html and "Peak hip ext" in html
    best = html[html.index("Best stride") : html.index("Worst stride")]
    assert "right" in best and "19.6 ± 0.9" in best and "peak ext 20.0°" in best
    store.close()


def test_one_classified_stride_is_one_figure_with_unique_ids(tmp_path: Path) -> None:
    """Best and worst are then the same stride: shown once, as "Stride", so its tap-to-calibrate
    controls (ids by stride) are not in the page twice."""
    store = Store(tmp_path)
    sid = store.start_session("Ann")["id"]
    store.add_stride(sid, _stride("left", 25.0, 14.2, 1.8), b"\xff\xd8a")
    html = web_app(store).test_client().get(f"/sessions/{sid}").get_data(as_text=True)
    assert "Best stride" not in html and "Worst stride" not in html and ">Stride: left" in html
    assert html.count('id="snap-canvas-') == 1
    store.close()


def test_csv_and_json_exports_carry_the_toe_off_columns(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.start_session()["id"]
    store.add_stride(sid, _stride("left", 25.0, 14.2, 1.8))
    c = web_app(store).test_client()
    rows = list(csv.DictReader(io.StringIO(c.get(f"/api/sessions/{sid}/export.csv").get_data(as_text=True))))
    assert all(name in rows[0] for name in NEW)
    assert rows[0]["hip_extension_at_toe_off_deg"] == "14.2" and rows[0]["hip_extension_uncertainty_deg"] == "1.8"
    stride = c.get(f"/api/sessions/{sid}/export.json").get_json()["strides"][0]
    assert stride["trunk_lean_at_toe_off_deg"] == 3.1 and stride["trunk_lean_midpoints_deg"] == 2.0
    store.close()


def test_live_leg_summary_has_the_toe_off_means() -> None:
    state = LiveState()
    state.publish(t_s=0.0, frame_index=0, captured_at=0.0, metrics=LiveMetrics(),
                  strides=[_stride("left", 25.0, 14.0, 1.0), _stride("left", 21.0, 16.0, 2.0)])  # fmt: skip
    left = state.snapshot()["legs"]["left"]
    assert left["hip_extension_at_toe_off_deg"] == 15.0 and left["trunk_lean_at_toe_off_deg"] == 3.1
    assert left["hip_extension_deg"] == 23.0  # the peak, kept
    assert state.snapshot()["strides"][-1]["hip_extension_uncertainty_deg"] == 2.0
