"""The session's PDF report for the patient file, made on the device with fpdf2 (docs/report.md).

One or two A4 pages, readable in black and white: classes and marks are letters and words, tables
are ruled with grey only as a background. Page 1: runner, date, set-up, the per-leg table with norms
and sources, the best and worst strides' key frames with the lines drawn on them. Then the change
from the runner's previous session with the SDD marks, the clinician's notes and the references.
What goes in is gathered by hipcam.records.report_content; this module lays it out.

Text is set in DejaVu Sans where the system has it (Debian's fonts-dejavu-core: every script a
runner's name may be written in that it covers); otherwise in the PDF core font Helvetica, which
holds Latin-1 only, so other characters print as "?".
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from PIL import Image

from hipcam import __version__
from hipcam.domain import CLASS_INFO, LEGS
from hipcam.records import progress, report_content
from hipcam.records.report_content import NOT_RECORDED, SOURCES, ChangeCell, LegRow, SetUp
from hipcam.records.schema import UNASSIGNED_RUNNER
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
PAGE_W, MARGIN = 210.0, 12.0
BODY_W = PAGE_W - 2 * MARGIN
SETUP_SAMPLE = 12  # strides whose stored landmarks the set-up is read from
MAX_NOTES_CHARS = 1800  # keeps the report within two pages; the page keeps the whole text
_GREY = (225, 225, 225)
_LATIN1_SUBS = {"→": "->", "–": "-", "—": "-", "·": "-", "≥": ">=", "≤": "<="}


@dataclass(frozen=True)
class KeyFrame:
    label: str  # "Best stride"
    caption: str
    image: Path | None  # the key frame with its overlay (or the plain snapshot); None: no picture


@dataclass(frozen=True)
class ReportData:
    session_id: int
    runner: str
    facts: Sequence[tuple[str, str]]  # runner, date, set-up ...: label, value
    rows: Sequence[LegRow]
    key_frames: Sequence[KeyFrame]
    change_title: str  # "Change from session 3 (1 Dec 2026)", or why there is none
    change_rows: Sequence[tuple[str, dict[str, ChangeCell]]]
    notes: str
    no_strides: bool = False
    sources: Sequence[str] = field(default_factory=tuple)  # SOURCES keys cited


def session_pdf(store: Store, session_id: int) -> bytes:
    """The session's report as PDF bytes; LookupError for an unknown session."""
    return render(gather(store, session_id))


def gather(store: Store, session_id: int) -> ReportData:
    session = store.get_session(session_id)
    if session is None:
        raise LookupError(f"no session {session_id}")
    strides = store.strides(session_id)
    runner = store.runners.get(int(session["runner_id"])) if session.get("runner_id") is not None else None
    name = str(runner["name"]) if runner else ""
    if not name or name == UNASSIGNED_RUNNER:  # an unassigned session keeps its own runner text
        name = str(session.get("runner") or "") or f"{UNASSIGNED_RUNNER} runner"
    height = runner.get("height_cm") if runner else None
    rows = report_content.leg_rows(strides, float(height) if height else None)
    change = progress.session_change(store, session_id)
    cited = [key for key in SOURCES if any(key in r.source for r in rows)]
    return ReportData(
        session_id=session_id,
        runner=name,
        facts=_session_facts(store, session, strides, name, height),
        rows=rows,
        key_frames=_key_frames_of(store, session_id, strides),
        change_title=_change_title(store, change),
        change_rows=report_content.change_rows(change) if change else (),
        notes=str(session.get("notes") or ""),
        no_strides=not strides,
        sources=cited,
    )


def _when(ts: float | None) -> str:
    return NOT_RECORDED if ts is None else time.strftime("%d %b %Y %H:%M", time.localtime(ts))


def _session_facts(
    store: Store, session: dict[str, Any], strides: Sequence[StrideRecord], name: str, height: Any
) -> list[tuple[str, str]]:
    start, end = float(session["started_at"]), session.get("ended_at")
    if end is None:
        length = "still recording"
    else:
        minutes, seconds = divmod(round(float(end) - start), 60)
        length = f"{minutes} min {seconds:02d} s"
    speed = session.get("treadmill_speed")
    return [
        ("Runner", name),
        ("Height", f"{float(height):.0f} cm" if height else NOT_RECORDED),
        ("Date", f"{_when(start)} (session {session['id']})"),
        ("Duration", length),
        ("Treadmill speed", f"{float(speed):g} km/h" if speed is not None else NOT_RECORDED),
        ("Strides", report_content.class_counts_line(strides)),
        *report_content.setup_lines(_setup(store, int(session["id"]), strides)),
    ]


def _setup(store: Store, session_id: int, strides: Sequence[StrideRecord]) -> SetUp:
    """From the landmarks of up to SETUP_SAMPLE strides spread over the session (decoding every
    stride's would cost a long session seconds on a Pi), else what the snapshots and strides hold."""
    step = max(1, len(strides) // SETUP_SAMPLE)
    stored = [
        lm for s in strides[::step]
        if s.stride_id is not None and (lm := store.replay.stride_landmarks(session_id, s.stride_id)) is not None
    ]  # fmt: skip
    if stored:
        first = stored[0]
        return SetUp(statistics.median(lm.series.fps for lm in stored), "as analysed", first.direction,
                     first.near_leg, "as analysed", tuple(lm.roll_deg for lm in stored))  # fmt: skip
    fps = report_content.frame_rate(strides)
    pose = next((p for s in strides if (p := _pose(store, s)) is not None), None)
    return SetUp(
        fps, "from the strides' frame numbers and times",
        pose.get("direction") if pose else None, pose.get("near_leg") if pose else None, "from the stride snapshots",
    )  # fmt: skip


def _pose(store: Store, stride: StrideRecord) -> dict[str, Any] | None:
    if stride.stride_id is None or stride.session_id is None:
        return None
    pose = store.snapshot_pose(stride.session_id, stride.stride_id)
    return pose if pose is not None and pose.get("direction") in ("left", "right") else None


def _key_frames_of(store: Store, session_id: int, strides: Sequence[StrideRecord]) -> list[KeyFrame]:
    """Best and worst: the classified strides of most and least hip extension at toe-off (the
    session page's choice)."""
    rated = [s for s in strides if s.classified and s.hip_extension_at_toe_off_deg is not None]
    if not rated:
        return []
    by_ext = sorted(rated, key=lambda s: s.hip_extension_at_toe_off_deg or 0.0)
    picks = [("Best stride", by_ext[-1]), ("Worst stride", by_ext[0])] if len(by_ext) > 1 else [("Stride", by_ext[0])]
    out = []
    for label, s in picks:
        sid = s.stride_id or 0
        image = store.replay.overlay_snapshot_path(session_id, sid) or store.snapshot_path(session_id, sid)
        out.append(KeyFrame(f"{label} (#{sid}, {s.leg} leg)", _caption(s), image))
    return out


def _caption(s: StrideRecord) -> str:
    def deg(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}°"

    info = CLASS_INFO[s.cls]
    return (
        f"class {s.cls} ({info.name.lower()}) · hip extension at toe-off {deg(s.hip_extension_at_toe_off_deg)}"
        f" · trunk lean {deg(s.trunk_lean_at_toe_off_deg)}"
    )


def _change_title(store: Store, change: dict[str, Any] | None) -> str:
    if change is None:
        return "Change from the previous session: none to compare with (first session, or runner unassigned)"
    prev = store.get_session(int(change["previous_session_id"]))
    when = _when(prev["started_at"]) if prev else NOT_RECORDED
    return f"Change from the previous session (session {change['previous_session_id']}, {when})"


class _Pdf(FPDF):
    def __init__(self, session_id: int, unicode_font: bool) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.session_id = session_id
        self.family = "dejavu" if unicode_font else "helvetica"
        if unicode_font:
            self.add_font(self.family, "", str(DEJAVU / "DejaVuSans.ttf"))
            self.add_font(self.family, "B", str(DEJAVU / "DejaVuSans-Bold.ttf"))
        self.unicode_font = unicode_font
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=14)
        self.set_creator(f"hipcam {__version__}")

    def text_for_font(self, text: str) -> str:
        """The core font holds Latin-1 only: what it cannot print becomes a plain twin or "?"."""
        if self.unicode_font:
            return text
        for ch, plain in _LATIN1_SUBS.items():
            text = text.replace(ch, plain)
        return text.encode("latin-1", "replace").decode("latin-1")

    def write_cell(self, w: float, h: float, text: str, bold: bool = False, size: float = 9, **kw: object) -> None:
        self.set_font(self.family, "B" if bold else "", size)
        self.cell(w, h, self.text_for_font(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT, **kw)  # type: ignore[arg-type]

    def heading(self, text: str, need: float = 12.0) -> None:
        """A section title, on a new page when fewer than ``need`` mm would follow it on this one."""
        if self.get_y() + need > self.page_break_trigger:
            self.add_page()
        self.ln(2)
        self.write_cell(0, 6, text, bold=True, size=11)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(self.family, "", 7)
        made = time.strftime("%d %b %Y %H:%M")
        line = f"hipcam {__version__} · session {self.session_id} · made {made} · page {self.page_no()}/{{nb}}"
        self.cell(0, 5, self.text_for_font(line), align="C")


def unicode_font_available() -> bool:
    return (DEJAVU / "DejaVuSans.ttf").is_file() and (DEJAVU / "DejaVuSans-Bold.ttf").is_file()


def render(data: ReportData, unicode_font: bool | None = None) -> bytes:
    """The PDF's bytes. ``unicode_font``: None picks DejaVu Sans when installed."""
    pdf = _Pdf(data.session_id, unicode_font_available() if unicode_font is None else unicode_font)
    pdf.set_title(pdf.text_for_font(f"hipcam session {data.session_id}: {data.runner}"))
    pdf.add_page()
    pdf.write_cell(0, 8, f"Running assessment: {data.runner}", bold=True, size=15)
    pdf.write_cell(0, 5, "Hip extension and the side-view running analysis, stride by stride", size=8.5)
    pdf.ln(1)
    _facts(pdf, data.facts)
    if data.no_strides:
        pdf.heading("Per leg")
        pdf.write_cell(0, 6, "This session has no strides: there is nothing to measure.", size=9)
    else:
        _leg_table(pdf, data.rows)
        _key_frames(pdf, data.key_frames)
    _change(pdf, data.change_title, data.change_rows)
    _notes(pdf, data.notes)
    _references(pdf, data.sources)
    return bytes(pdf.output())


def _facts(pdf: _Pdf, facts: Sequence[tuple[str, str]]) -> None:
    pdf.set_font(pdf.family, "", 8.5)
    plain = FontFace(emphasis="")
    with pdf.table(
        col_widths=(38, BODY_W - 38), width=BODY_W, text_align="LEFT", borders_layout="NONE",
        first_row_as_headings=False, line_height=4.4, padding=(0.4, 1),
    ) as table:  # fmt: skip
        for label, value in facts:
            row = table.row()
            row.cell(pdf.text_for_font(label), style=FontFace(emphasis="BOLD"))
            row.cell(pdf.text_for_font(value), style=plain)


def _leg_table(pdf: _Pdf, rows: Sequence[LegRow]) -> None:
    pdf.heading("Per leg: mean ± SD (n strides)")
    pdf.set_font(pdf.family, "", 7.6)
    widths = (48, 22, 27, 27, 37, BODY_W - 161)
    with pdf.table(
        col_widths=widths, width=BODY_W, text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "LEFT", "LEFT"),
        borders_layout="HORIZONTAL_LINES", line_height=3.9, padding=(0.6, 1),
        headings_style=FontFace(emphasis="BOLD", fill_color=_GREY),
    ) as table:  # fmt: skip
        table.row([pdf.text_for_font(c) for c in ("Measure", "Unit", "Left", "Right", "Norm", "Source")])
        for r in rows:
            cells = (r.label, r.unit, r.cells.get(LEGS[0], "-"), r.cells.get(LEGS[1], "-"), r.norm, r.source)
            table.row([pdf.text_for_font(c) for c in cells])


def _key_frames(pdf: _Pdf, frames: Sequence[KeyFrame]) -> None:
    if not frames:
        return
    gap = 6.0
    w = (BODY_W - gap * (len(frames) - 1)) / len(frames)
    max_h = 68.0
    if pdf.get_y() + max_h + 14 > pdf.h - 14:
        pdf.add_page()
    pdf.heading("Key frames (thigh and trunk lines as measured)")
    top = pdf.get_y()
    bottom = top
    for i, frame in enumerate(frames):
        x = MARGIN + i * (w + gap)
        pdf.set_xy(x, top)
        pdf.set_font(pdf.family, "B", 8)
        pdf.cell(w, 4.5, pdf.text_for_font(frame.label))
        y = top + 5
        if frame.image is not None:
            iw, ih = _fit(frame.image, w, max_h)
            pdf.image(str(frame.image), x=x + (w - iw) / 2, y=y, w=iw, h=ih)
            y += ih + 1
        else:
            pdf.set_xy(x, y)
            pdf.set_font(pdf.family, "", 8)
            pdf.cell(w, 8, pdf.text_for_font("no key frame stored"), border=1, align="C")
            y += 9
        pdf.set_xy(x, y)
        pdf.set_font(pdf.family, "", 7.5)
        pdf.multi_cell(w, 3.6, pdf.text_for_font(frame.caption), align="L")
        bottom = max(bottom, pdf.get_y())
    pdf.set_xy(MARGIN, bottom + 1)


def _fit(image: Path, w: float, h: float) -> tuple[float, float]:
    """The image's size on the page within w x h, keeping its aspect (reads only its header)."""
    with Image.open(image) as im:
        px_w, px_h = im.size
    scale = min(w / px_w, h / px_h)
    return px_w * scale, px_h * scale


def _change(pdf: _Pdf, title: str, rows: Sequence[tuple[str, dict[str, ChangeCell]]]) -> None:
    pdf.heading(title, need=30 if rows else 10)
    if not rows:
        return
    pdf.set_font(pdf.family, "", 7.4)
    legend = ("Before → this session; change (smallest detectable difference, SDD). CHANGED: the change "
              "exceeds hipcam's SDD; within error: it does not (measurement error, not a change).")  # fmt: skip
    pdf.multi_cell(BODY_W, 3.5, pdf.text_for_font(legend), align="L", new_x=XPos.LMARGIN)
    pdf.ln(0.5)
    leg_cols = tuple((BODY_W - 50) / 2 * f for f in (0.36, 0.36, 0.28))
    with pdf.table(
        col_widths=(50, *leg_cols, *leg_cols), width=BODY_W, text_align="LEFT",
        borders_layout="HORIZONTAL_LINES", line_height=3.8, padding=(0.5, 1), num_heading_rows=2,
        headings_style=FontFace(emphasis="BOLD", fill_color=_GREY),
    ) as table:  # fmt: skip
        top = table.row()
        top.cell("Measure")
        for leg in LEGS:
            top.cell(f"{leg.capitalize()} leg", colspan=3)
        table.row([pdf.text_for_font(c) for c in ("", *("before → now", "change (SDD)", "mark") * len(LEGS))])
        for label, cells in rows:
            values = [c for leg in LEGS for c in cells.get(leg, ("-", "", ""))]
            table.row([pdf.text_for_font(c) for c in (label, *values)])


def _notes(pdf: _Pdf, notes: str) -> None:
    pdf.heading("Clinician's notes")
    text = notes.strip() or "none"
    if len(text) > MAX_NOTES_CHARS:
        text = text[:MAX_NOTES_CHARS].rstrip() + " … (the full notes are on the session page)"
    pdf.set_font(pdf.family, "", 8.5)
    pdf.multi_cell(BODY_W, 4.2, pdf.text_for_font(text), align="L", new_x=XPos.LMARGIN)


def _references(pdf: _Pdf, cited: Sequence[str]) -> None:
    if not cited:
        return
    pdf.heading("Sources")
    pdf.set_font(pdf.family, "", 6.8)
    for key in cited:
        pdf.multi_cell(BODY_W, 3.1, pdf.text_for_font(f"{key}: {SOURCES[key]}"), align="L", new_x=XPos.LMARGIN)
