"""Logging a Flask test client in with the PIN, as the page does: the CSRF token first, then the PIN."""

from __future__ import annotations

from flask.testing import FlaskClient


def login_headers(client: FlaskClient, pin: str) -> dict[str, str]:
    """Log in; the headers a state-changing request then needs (the session's CSRF token)."""
    token = client.get("/api/auth").get_json()["csrf_token"]
    r = client.post("/api/login", json={"pin": pin}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.get_data(as_text=True)
    return {"X-CSRF-Token": str(r.get_json()["csrf_token"])}
