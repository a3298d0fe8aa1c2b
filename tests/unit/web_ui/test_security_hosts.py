"""DNS rebinding: the Host header is checked before anything else (login, CSRF, viewing), and an
unsafe request whose Origin is another site is refused; the labelling page shares the check."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from service_fakes import web_app

from hipcam.auth import hash_pin
from hipcam.config import HipcamConfig
from hipcam.records.store import Store
from web_ui.security import DeviceHosts, host_allowed, host_name, interface_addresses

PIN = "2468"


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[FlaskClient]:
    cfg = HipcamConfig.model_validate(
        {"server": {"pin_hash": hash_pin(PIN), "open_viewing": False, "allowed_hosts": ["cam.clinic.lan"]}}
    )
    store = Store(tmp_path)
    app = web_app(store, cfg)
    app.testing = True
    yield app.test_client()
    store.close()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "localhost.evil.example", "[2001:db8::1]:80",
                                  "203.0.113.9", "cam.clinic.lan.evil"])  # fmt: skip
@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", "/api/state"), ("POST", "/api/login"),
                                              ("GET", "/login"), ("GET", "/static/app.css"), ("GET", "/healthz")])  # fmt: skip
def test_foreign_host_refused_before_anything_else(client: FlaskClient, host: str, method: str, path: str) -> None:
    # No CSRF token, no login, viewing closed: the host check answers first all the same.
    r = client.open(path, method=method, headers={"Host": host}, json={"pin": PIN} if method == "POST" else None)
    assert r.status_code == 421, r.data
    assert "not this device" in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    assert "hipcam_session" not in r.headers.get("Set-Cookie", "")  # no cookie, no CSRF token handed out


def test_foreign_host_gets_json_on_the_api_and_html_on_pages(client: FlaskClient) -> None:
    assert client.get("/api/auth", headers={"Host": "evil.example"}).get_json()["status"] == 421
    assert client.get("/sessions", headers={"Host": "evil.example"}).mimetype == "text/html"


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080", "127.0.0.5", "[::1]:8080",
                                  "cam.clinic.lan", "CAM.clinic.lan.:8080", socket.gethostname(),
                                  socket.gethostname() + ".local:8080"])  # fmt: skip
def test_own_names_and_addresses_allowed(client: FlaskClient, host: str) -> None:
    assert client.get("/api/auth", headers={"Host": host}).status_code == 200


def test_foreign_host_is_logged_once(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        client.get("/api/state", headers={"Host": "evil.example"})
    assert [r.getMessage() for r in caplog.records if "evil.example" in r.getMessage()] != []
    assert len(caplog.records) == 1


def test_unsafe_request_from_another_origin_refused(client: FlaskClient) -> None:
    token = client.get("/api/auth").get_json()["csrf_token"]
    headers = {"X-CSRF-Token": token}
    for origin in ("http://evil.example", "http://localhost:9999", "null", "https://evil.example:80"):
        r = client.post("/api/login", json={"pin": PIN}, headers={**headers, "Origin": origin})
        assert r.status_code == 403 and "another site" in r.get_json()["error"], origin
    assert (
        client.post("/api/login", json={"pin": PIN}, headers={**headers, "Origin": "http://localhost"}).status_code
        == 200
    )
    assert client.post("/api/logout", headers={"X-CSRF-Token": client.get("/api/auth").get_json()["csrf_token"]}).status_code == 200  # fmt: skip


def test_reads_need_no_origin_match(client: FlaskClient) -> None:
    assert client.get("/login", headers={"Origin": "http://evil.example"}).status_code == 200


def _fixed(*addresses: str) -> Any:
    calls: list[int] = []

    def read() -> frozenset[str]:
        calls.append(1)
        return frozenset(addresses)

    read.calls = calls  # type: ignore[attr-defined]
    return read


def test_device_addresses_when_bound_to_all() -> None:
    read = _fixed("192.168.1.50", "fe80::1")
    hosts = DeviceHosts("0.0.0.0", addresses=read)
    assert hosts.allows("192.168.1.50:8080") and hosts.allows("[fe80::1]:8080") and hosts.allows("127.0.0.1")
    assert not hosts.allows("192.168.1.51") and not hosts.allows("10.0.0.1:8080")
    assert len(read.calls) == 1  # the interfaces are re-read at most every ADDRESS_REFRESH_S


def test_bound_address_is_the_only_lan_address() -> None:
    hosts = DeviceHosts("192.168.1.50", addresses=_fixed("192.168.1.50", "10.0.0.7"))
    assert hosts.allows("192.168.1.50:8080") and hosts.allows("localhost")
    assert not hosts.allows("10.0.0.7")


def test_host_name_parsing() -> None:
    assert host_name("Example.COM.:8080") == "example.com"
    assert host_name("[::1]:80") == "::1" and host_name("::1") == "::1" and host_name("10.0.0.1") == "10.0.0.1"


def test_interface_addresses_from_proc(tmp_path: Path) -> None:
    (tmp_path / "fib_trie").write_text(
        "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 192.168.1.50\n        /32 host LOCAL\n"
        "     |-- 192.168.1.255\n        /32 link BROADCAST\n     |-- 10.1.2.3\n        /32 host LOCAL\n"
    )
    (tmp_path / "if_inet6").write_text("fe800000000000000000000000000001 02 40 20 80 eth0\n")
    found = interface_addresses(tmp_path)
    assert {"192.168.1.50", "10.1.2.3", "fe80::1"} <= found and "192.168.1.255" not in found


def test_shared_check_used_by_labelling_and_machine_defaults() -> None:
    assert host_allowed("localhost:8088") and host_allowed("127.0.0.1") and not host_allowed("evil.example")


def test_waitress_queue_warnings_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    from web_ui.server import QUEUE_LOGGER, QueueWarnings

    now = [0.0]
    logger = logging.getLogger(QUEUE_LOGGER + ".test")
    rate = QueueWarnings(every_s=60.0, clock=lambda: now[0])
    logger.addFilter(rate)
    try:
        with caplog.at_level(logging.WARNING, logger=logger.name):
            for depth in range(500):
                logger.warning("Task queue depth is %d", depth)
            now[0] = 61.0
            logger.warning("Task queue depth is %d", 7)
    finally:
        logger.removeFilter(rate)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["Task queue depth is 0", "Task queue depth is 7 (499 more such warnings in the last 60 s)"]
