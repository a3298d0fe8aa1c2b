"""Hostile requests get a clean 4xx, never a 500 or a traceback: a safe ``next`` after login,
bounded ids, bounded JSON nesting, text without control or direction characters, no form body
read as an empty object, and guarded responses that no shared cache keeps."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from service_fakes import web_app
from web_login import login_headers

from hipcam.auth import hash_pin
from hipcam.config import HipcamConfig
from hipcam.records.store import Store
from hipcam.records.stride import StrideRecord
from web_ui.api.body import MAX_JSON_DEPTH, json_depth

PIN = "2468"


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[tuple[FlaskClient, Store]]:
    cfg = HipcamConfig.model_validate({"server": {"pin_hash": hash_pin(PIN), "max_request_bytes": 64 * 1024}})
    store = Store(tmp_path)
    app = web_app(store, cfg)
    app.testing = True
    yield app.test_client(), store
    store.close()


def _login(client: FlaskClient) -> dict[str, str]:
    return login_headers(client, PIN)


def _next(client: FlaskClient, target: str) -> str:
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    return page.split('data-next="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("target", ["/\\evil.example:8080/x", "//evil.example", "/\\/evil.example", "https://evil.example",
                                    "/%5Cevil.example", "\\\\evil.example", "/ /evil.example", "/sessions?x=//evil",
                                    "javascript:alert(1)", "/nowhere", "/static/app.css", "/sessions/1/../../x",
                                    "/\t/evil.example", "http:/evil.example", ""])  # fmt: skip
def test_next_off_site_or_unknown_goes_home(env: tuple[FlaskClient, Store], target: str) -> None:
    assert _next(env[0], target) == "/"


def test_next_to_own_pages_honoured(env: tuple[FlaskClient, Store]) -> None:
    client = env[0]
    assert _next(client, "/settings") == "/settings" and _next(client, "/sessions/12") == "/sessions/12"
    assert _next(client, "/%2F%5Cevil.example") == "/"  # decoded once by the query string: /\/\evil...


@pytest.mark.parametrize("path", ["/api/sessions/99999999999999999999", "/sessions/99999999999999999999",
                                  "/api/sessions/9223372036854775808/strides", "/api/sessions/1/strides/"
                                  "99999999999999999999/snapshot.jpg", "/api/sessions/99999999999999999999/export.csv"])  # fmt: skip
def test_huge_ids_are_404(env: tuple[FlaskClient, Store], path: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        r = env[0].get(path)
    assert r.status_code == 404 and "Traceback" not in r.get_data(as_text=True)
    assert len(caplog.records) <= 1 and not any(rec.exc_info for rec in caplog.records)


def test_largest_id_still_answers(env: tuple[FlaskClient, Store]) -> None:
    assert env[0].get(f"/api/sessions/{2**63 - 1}").status_code == 404  # an unknown session, not a crash


def test_deep_json_is_400_with_one_log_line(env: tuple[FlaskClient, Store], caplog: pytest.LogCaptureFixture) -> None:
    client, store = env
    headers = _login(client) | {"Content-Type": "application/json"}
    deep = '{"runner": "a", "x": ' + "[" * 20_000 + "]" * 20_000 + "}"
    with caplog.at_level(logging.INFO):
        r = client.post("/api/sessions", data=deep, headers=headers)
    assert r.status_code == 400 and "nested too deeply" in r.get_json()["error"]
    assert len(caplog.records) == 1 and not caplog.records[0].exc_info
    assert store.list_sessions() == []
    ok = '{"runner": "a", "x": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    assert client.post("/api/sessions", data=ok, headers=headers).status_code == 201


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(json.dumps({"a": "[[[[{{{{", "b": [[1]]})) == 3 and json_depth(b'"\\"[["') == 0


@pytest.mark.parametrize("name", ["Ann\u202eeniL", "A\x00nn", "Ann\u200b", "A\nB", "\u2066Ann"])
def test_control_and_direction_characters_refused(env: tuple[FlaskClient, Store], name: str) -> None:
    client, store = env
    r = client.post("/api/sessions", json={"runner": name}, headers=_login(client))
    assert r.status_code == 400 and "control or direction" in r.get_json()["error"]
    assert store.list_sessions() == []


def test_notes_keep_line_breaks_but_not_overrides(env: tuple[FlaskClient, Store]) -> None:
    client = env[0]
    headers = _login(client)
    sid = client.post("/api/sessions", json={"runner": "Zoë \u200d"}, headers=headers).get_json()["id"]
    assert (
        client.patch(f"/api/sessions/{sid}", json={"notes": "line 1\nline 2\tok"}, headers=headers).status_code == 200
    )
    assert client.patch(f"/api/sessions/{sid}", json={"notes": "x\u202ey"}, headers=headers).status_code == 400


@pytest.mark.parametrize(
    "ctype", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=b"]
)
def test_non_json_body_is_415(env: tuple[FlaskClient, Store], ctype: str) -> None:
    client, store = env
    token = _login(client)["X-CSRF-Token"]
    body: Any = f"runner=Ann&csrf_token={token}"
    if ctype.startswith("multipart"):
        body = '--b\r\nContent-Disposition: form-data; name="runner"\r\n\r\nAnn\r\n--b--\r\n'
    r = client.post("/api/sessions", data=body, headers={"Content-Type": ctype, "X-CSRF-Token": token})
    assert r.status_code == 415 and "not JSON" in r.get_json()["error"]
    # The CSRF token sent as a form field (no header): the form is read for it, then still refused.
    r = client.post("/api/sessions", data=f"runner=Ann&csrf_token={token}",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 415 and store.list_sessions() == []


def test_empty_body_still_means_defaults(env: tuple[FlaskClient, Store]) -> None:
    client = env[0]
    assert client.post("/api/sessions", headers=_login(client)).status_code == 201


def test_guarded_responses_are_private(env: tuple[FlaskClient, Store]) -> None:
    client, store = env
    headers = _login(client)
    sid = client.post("/api/sessions", json={"runner": "Ann"}, headers=headers).get_json()["id"]
    store.add_stride(sid, StrideRecord.from_json({"leg": "left", "class": "B", "hip_extension_deg": 14}), b"\xff\xd8x")
    stride = client.get(f"/api/sessions/{sid}/strides").get_json()["strides"][0]["stride_id"]
    with client.get(f"/api/sessions/{sid}/strides/{stride}/snapshot.jpg") as r:
        assert r.status_code == 200 and r.headers["Cache-Control"] == "private, no-store"
    for path in ("/api/state", "/api/sessions", "/sessions", f"/sessions/{sid}"):
        assert client.get(path).headers["Cache-Control"] == "private, no-store", path
    with client.get("/static/app.css") as r:
        assert "no-store" not in r.headers.get("Cache-Control", "")
