"""The session's PDF report (hipcam.records.pdf_report), from sessions recorded in a real Store: its
text (pdftotext: the runner, each leg's hip extension, the set-up as stored, the change from the
previous session with its marks, the notes), its pages (pdftoppm renders one or two A4 pages, saved
under test-output/report/ to look at) and its speed."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from paths import REPO
from report_session import frame_jpeg, record_session

from hipcam.records import pdf_report
from hipcam.records.store import Store

OUT = REPO / "test-output" / "report"
pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    yield s
    s.close()


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def _pages(pdf: bytes, name: str) -> list[Path]:
    """Render at 60 dpi into test-output/report/<name>-N.png."""
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob(f"{name}-*.png"):
        old.unlink()
    (OUT / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(OUT / f"{name}.pdf"), str(OUT / name)], check=True)
    return sorted(OUT.glob(f"{name}-*.png"))


def _leg_ext(store: Store, session_id: int, leg: str) -> str:
    values = [s.hip_extension_at_toe_off_deg for s in store.strides(session_id) if s.leg == leg and s.classified]
    ext = [v for v in values if v is not None]
    return f"{statistics.fmean(ext):.1f} ± {statistics.stdev(ext):.1f} ({len(ext)})"


def test_report_of_a_session_with_its_previous_one(store: Store, tmp_path: Path) -> None:
    first = record_session(store, seconds=8.0, seed=1)
    rec = record_session(store, seconds=8.0, seed=2)
    store.set_notes(rec.session_id, "Mild left knee pain after 20 min.\nCue: run tall, push the ground back.")
    best = max(store.strides(rec.session_id), key=lambda s: s.hip_extension_at_toe_off_deg or 0.0)
    assert best.stride_id is not None
    assert store.replay.save_overlay(rec.session_id, best.stride_id, frame_jpeg(rec.synth, best.peak_frame or 0, True))
    pdf = pdf_report.session_pdf(store, rec.session_id)
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf, tmp_path)
    assert "Ana Souza" in text and "172 cm" in text and "10 km/h" in text
    for leg in ("left", "right"):
        assert _leg_ext(store, rec.session_id, leg) in text, leg
    assert "Hip extension at toe-off" in text and "Novacheck 1998" in text
    assert "60 frames/s (as analysed)" in text and "+1.5°" in text and "facing image right" in text
    assert "Overstride (heel ahead of hip)" in text and " cm " in text  # in cm: the height is known
    assert f"Change from the previous session (session {first.session_id}" in text
    assert "CHANGED" in text or "within measurement error" in text
    assert "Mild left knee pain" in text and "push the ground back" in text
    assert f"Best stride (#{best.stride_id}, {best.leg} leg)" in text and "Worst stride" in text
    pages = _pages(pdf, "session")
    assert 1 <= len(pages) <= 2


def test_pdf_is_made_well_under_two_seconds(store: Store) -> None:
    rec = record_session(store, seconds=30.0, seed=3)  # ~85 strides
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        pdf_report.session_pdf(store, rec.session_id)
        times.append(time.perf_counter() - t0)
    print(f"PDF of {len(rec.stride_ids)} strides: best {min(times):.3f} s, runs {[round(t, 3) for t in times]}")
    assert min(times) < 1.0


def test_first_session_without_landmarks_or_height_says_what_is_not_recorded(store: Store, tmp_path: Path) -> None:
    rec = record_session(store, runner="Ben Okafor", height_cm=None, landmarks=False, speed=None)
    text = _text(pdf_report.session_pdf(store, rec.session_id), tmp_path)
    assert "Ben Okafor" in text
    assert "Height" in text and "Treadmill speed" in text and text.count("not recorded") >= 3
    assert "Camera roll" in text and "from the strides' frame numbers and times" in text
    assert "from the stride snapshots" in text  # the view from the snapshots' poses
    assert "trunk lengths" in text  # no height: overstride stays in trunk lengths
    assert "none to compare with" in text


def test_session_without_strides_gives_a_valid_pdf_saying_so(store: Store, tmp_path: Path) -> None:
    runner = store.runners.create("Chidi")
    session_id = int(store.start_session(runner_id=int(runner["id"]))["id"])
    store.stop_session(session_id)
    pdf = pdf_report.session_pdf(store, session_id)
    text = _text(pdf, tmp_path)
    assert "Chidi" in text and "no strides" in text
    assert len(_pages(pdf, "empty")) == 1


def test_long_notes_and_any_script_stay_within_two_pages(store: Store, tmp_path: Path) -> None:
    rec = record_session(store, runner="Zoë Łukasiewicz-Анна", seed=4)
    store.set_notes(rec.session_id, "Knee felt fine. " * 1200)
    pdf = pdf_report.session_pdf(store, rec.session_id)
    text = _text(pdf, tmp_path)
    if pdf_report.unicode_font_available():
        assert "Zoë Łukasiewicz-Анна" in text
    assert "the full notes are on the session page" in text
    assert len(_pages(pdf, "long-notes")) == 2
    # Without DejaVu Sans the core font prints what Latin-1 lacks as "?", and still makes the PDF.
    core = pdf_report.render(pdf_report.gather(store, rec.session_id), unicode_font=False)
    assert "Zoë ?ukasiewicz-????" in _text(core, tmp_path)


def test_unknown_session_is_a_lookup_error(store: Store) -> None:
    with pytest.raises(LookupError):
        pdf_report.session_pdf(store, 12345)
