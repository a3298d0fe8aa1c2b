"""The report and export endpoints (web_ui/api/reports.py) on a real app and Store: the PDF, the TRC
and the landmarks zip as attachments named like the CSV/JSON exports; unknown, bad and deleted
sessions a clean JSON 404; nothing to export a 409; a session without strides still a PDF."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from report_session import record_session
from service_fakes import web_app

from hipcam.records import trc
from hipcam.records.store import Store

ROUTES = ("report.pdf", "export.trc", "landmarks.zip")


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[tuple[FlaskClient, Store]]:
    store = Store(tmp_path)
    app = web_app(store)
    app.testing = True
    yield app.test_client(), store
    store.close()


def _attachment(r: Any) -> str:
    return str(r.headers["Content-Disposition"])


def test_pdf_trc_and_landmarks_of_a_session(env: tuple[FlaskClient, Store], tmp_path: Path) -> None:
    client, store = env
    rec = record_session(store, seed=4)
    sid = rec.session_id
    r = client.get(f"/api/sessions/{sid}/report.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF-")
    assert _attachment(r) == f'attachment; filename="hipcam-session-{sid}.pdf"'
    assert "no-store" in r.headers["Cache-Control"]  # notes and strides change: never a stale report
    if shutil.which("pdftotext"):
        (tmp_path / "r.pdf").write_bytes(r.data)
        text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True).stdout
        assert "Ana Souza" in text
    r = client.get(f"/api/sessions/{sid}/export.trc")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    assert _attachment(r) == f'attachment; filename="hipcam-session-{sid}.trc"'
    parsed = trc.parse(r.get_data(as_text=True))
    assert parsed.units == "m" and len(parsed.times) == rec.frames and parsed.markers == trc.MARKER_NAMES
    r = client.get(f"/api/sessions/{sid}/landmarks.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert _attachment(r) == f'attachment; filename="hipcam-session-{sid}-landmarks.zip"'
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        assert len([n for n in zf.namelist() if n.endswith(".npz")]) == len(rec.stride_ids)


@pytest.mark.parametrize("route", ROUTES)
def test_unknown_bad_and_deleted_sessions_are_a_json_404(env: tuple[FlaskClient, Store], route: str) -> None:
    client, store = env
    rec = record_session(store, seconds=3.0, seed=8)
    assert store.delete_session(rec.session_id)
    for sid in (str(rec.session_id), "999", "0", "-1", "abc", "1.5", "9" * 30, "%00"):
        r = client.get(f"/api/sessions/{sid}/{route}")
        assert r.status_code == 404, (sid, r.status_code)
        assert r.is_json and r.get_json()["status"] == 404, sid
    assert store.list_sessions() == []  # nothing was made for them


@pytest.mark.parametrize("route", ("export.trc", "landmarks.zip"))
def test_nothing_to_export_is_a_409(env: tuple[FlaskClient, Store], route: str) -> None:
    client, store = env
    without = record_session(store, seconds=3.0, landmarks=False).session_id
    empty = int(store.start_session()["id"])
    store.stop_session(empty)
    for sid in (without, empty):
        r = client.get(f"/api/sessions/{sid}/{route}")
        assert r.status_code == 409 and "no stored stride landmarks" in r.get_json()["error"]
        assert "Content-Disposition" not in r.headers


def test_session_without_strides_still_gets_a_pdf(env: tuple[FlaskClient, Store]) -> None:
    client, store = env
    sid = int(store.start_session()["id"])  # still running: the report says so
    r = client.get(f"/api/sessions/{sid}/report.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF-")


def test_writes_are_not_allowed(env: tuple[FlaskClient, Store]) -> None:
    client, store = env
    sid = record_session(store, seconds=3.0).session_id
    for route in ROUTES:
        # Refused (CSRF first, then the method), never served or acted on.
        assert client.post(f"/api/sessions/{sid}/{route}").status_code in (403, 405)
        assert client.delete(f"/api/sessions/{sid}/{route}").status_code in (403, 405)
    assert store.get_session(sid) is not None


def test_session_page_links_the_downloads(env: tuple[FlaskClient, Store]) -> None:
    client, store = env
    sid = record_session(store, seconds=3.0).session_id
    page = client.get(f"/sessions/{sid}").get_data(as_text=True)
    for route in ROUTES:
        assert f'href="/api/sessions/{sid}/{route}" download' in page
    assert "Download PDF" in page
