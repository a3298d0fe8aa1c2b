"""HTTPS from the real server, with a certificate made by `hipcam tls-cert`.

The page and the login work over TLS with the certificate as the only trust anchor, and the login
cookie is Secure; plain HTTP to the TLS port gets no page; a client that never completes its
handshake is closed by the header timeout while others get through; a long event stream and a
static file arrive intact. `hipcam tls-cert` prints the certificate's own fingerprint, keeps an
existing pair, and a bad certificate or key stops `hipcam serve` with one line.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_server import PIN, Served, serve_app

from hipcam.commands.cli import main
from hipcam.commands.tls_cert import fingerprint
from hipcam.config import HipcamConfig
from hipcam.errors import ConfigError
from web_ui.server import make_server

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="hipcam tls-cert needs the openssl command")

HIPCAM = Path(sys.executable).parent / "hipcam"
HEADER_TIMEOUT_S = 2.0
STATIC = Path(__file__).resolve().parents[2] / "web_ui" / "static" / "label.js"


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tls")
    assert main(["tls-cert", "--out", str(out)]) == 0
    return out


@pytest.fixture
def served(tmp_path: Path, tls_dir: Path) -> Iterator[Served]:
    keys = {"tls_cert": str(tls_dir / "cert.pem"), "tls_key": str(tls_dir / "key.pem"),
            "header_timeout_s": HEADER_TIMEOUT_S}  # fmt: skip
    with serve_app(tmp_path, server=keys) as served:
        yield served


def _https(tls_dir: Path, port: int) -> http.client.HTTPSConnection:
    """A client that trusts only the made certificate and checks that it is for 127.0.0.1."""
    context = ssl.create_default_context(cafile=str(tls_dir / "cert.pem"))
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)


def send_tls(
    tls_dir: Path, port: int, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One HTTPS request; header names are written with ``_`` for ``-``. Status, headers, body."""
    conn = _https(tls_dir, port)
    try:
        conn.request(method, path, body, {k.replace("_", "-"): v for k, v in headers.items()})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def _cookies(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Set-Cookie lines by cookie name."""
    return {v.split("=", 1)[0]: v for k, v in headers if k.lower() == "set-cookie"}


def test_login_over_https_sets_a_secure_cookie(served: Served, tls_dir: Path) -> None:
    status, _, page = send_tls(tls_dir, served.port, "GET", "/login")
    assert status == 200 and b"<html" in page.lower()
    status, headers, body = send_tls(tls_dir, served.port, "GET", "/api/auth")
    assert status == 200
    session = _cookies(headers)["hipcam_session"]
    token = json.loads(body)["csrf_token"]
    status, headers, body = send_tls(
        tls_dir, served.port, "POST", "/api/login", json.dumps({"pin": PIN}).encode(),
        Cookie=session.split(";", 1)[0], Content_Type="application/json", X_CSRF_Token=token,
    )  # fmt: skip
    assert status == 200, body
    cookie = _cookies(headers)["hipcam_session"]
    assert "; Secure" in cookie and "HttpOnly" in cookie, cookie


def test_plain_http_to_the_tls_port_gets_no_page(served: Served) -> None:
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n\r\n".encode())
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except ConnectionResetError:
            pass
    assert b"HTTP/1.1 200" not in got and b"<html" not in got.lower()
    assert time.monotonic() - start < 1.0, "closed at once, not left to the header timeout"


def test_a_client_that_never_handshakes_is_closed_while_others_get_through(served: Served, tls_dir: Path) -> None:
    silent = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    partial = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    try:
        partial.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # the start of a ClientHello
        opened = time.monotonic()
        assert send_tls(tls_dir, served.port, "GET", "/login")[0] == 200  # meanwhile, another client
        lived = []
        for sock in (silent, partial):
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1) == b""
            lived.append(time.monotonic() - opened)
    finally:
        silent.close()
        partial.close()
    assert min(lived) > HEADER_TIMEOUT_S - 0.2 and max(lived) < HEADER_TIMEOUT_S + 2.5, lived


def _publisher(served: Served, stop: threading.Event) -> None:
    n = 0
    while not stop.wait(1 / 30):
        n += 1
        served.deps.state.set_status("running", f"{n:08d}" + "x" * 40_000)


def test_an_event_stream_and_a_static_file_arrive_intact(served: Served, tls_dir: Path) -> None:
    status, _, body = send_tls(tls_dir, served.port, "GET", "/static/label.js")
    assert status == 200 and body == STATIC.read_bytes()
    stop = threading.Event()
    publisher = threading.Thread(target=_publisher, args=(served, stop), daemon=True)
    conn = _https(tls_dir, served.port)
    events, received = 0, 0
    try:
        publisher.start()
        conn.request("GET", "/stream/events")
        resp = conn.getresponse()
        assert resp.status == 200
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            line = resp.readline()
            assert line, "the stream ended early"
            received += len(line)
            if line.startswith(b"data: "):
                payload = json.loads(line[6:])  # a whole, undamaged JSON document per event
                events += 1
                assert re.search(r"\d{8}x{40000}", json.dumps(payload)) or events == 1
    finally:
        stop.set()
        publisher.join(5)
        conn.close()
    print(f"{events} events, {received} bytes over TLS in 1.5 s")
    assert events >= 10 and received > 400_000


def test_tls_cert_prints_the_certificate_s_fingerprint_and_keeps_a_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tls"
    assert main(["tls-cert", "--out", str(out), "--name", "cam.clinic.lan", "--name", "10.1.2.3"]) == 0
    printed = capsys.readouterr().out
    cert, key = out / "cert.pem", out / "key.pem"
    shown = re.search(r"SHA-256 fingerprint: ([0-9A-F:]{95})\n", printed)
    assert shown is not None, printed
    assert shown.group(1) == fingerprint(cert.read_text())
    openssl = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256"],
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert openssl.stdout.strip().split("=", 1)[1] == shown.group(1)
    assert f'tls_cert = "{cert}"\ntls_key = "{key}"' in printed
    assert key.stat().st_mode & 0o777 == 0o600
    sans = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    host = socket.gethostname().lower()
    for name in ("DNS:localhost", f"DNS:{host}", f"DNS:{host}.local", "DNS:cam.clinic.lan", "IP Address:10.1.2.3",
                 "IP Address:127.0.0.1"):  # fmt: skip
        assert name in sans, sans
    before = cert.read_bytes()
    assert main(["tls-cert", "--out", str(out)]) == 2
    assert "already has cert.pem and key.pem; --force replaces them" in capsys.readouterr().err
    assert cert.read_bytes() == before
    assert main(["tls-cert", "--out", str(out), "--force"]) == 0 and cert.read_bytes() != before
    assert main(["tls-cert", "--out", str(out / "x"), "--name", "no such;name"]) == 2
    assert "--name 'no such;name': neither a host name nor an IP address" in capsys.readouterr().err


def _server_cfg(cert: Path, key: Path) -> HipcamConfig:
    return HipcamConfig.model_validate({"server": {"tls_cert": str(cert), "tls_key": str(key)}})


def test_a_bad_certificate_or_key_is_one_clear_message(tmp_path: Path, tls_dir: Path) -> None:
    other = tmp_path / "other"
    assert main(["tls-cert", "--out", str(other)]) == 0
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    cases = {
        (tmp_path / "missing.pem", key): f"server.tls_cert {tmp_path / 'missing.pem'}: cannot read it (No such file",
        (cert, other / "key.pem"): f"server.tls_key {other / 'key.pem'} is not the private key of server.tls_cert",
        (junk, key): f"server.tls_cert {junk} is not a PEM certificate",
        (cert, junk): f"server.tls_key {junk} is not a PEM private key",
    }
    for (c, k), message in cases.items():
        with pytest.raises(ConfigError) as err:
            make_server(lambda *a: None, _server_cfg(c, k), "127.0.0.1", 0)
        assert str(err.value).startswith(message), str(err.value)


def test_serve_with_a_mismatched_key_prints_one_line(tmp_path: Path, tls_dir: Path) -> None:
    other = tmp_path / "other"
    assert main(["tls-cert", "--out", str(other)]) == 0
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = 18231\ntls_cert = "{tls_dir / "cert.pem"}"\n'
        f'tls_key = "{other / "key.pem"}"\n[storage]\ndata_dir = "{tmp_path / "data"}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIPCAM_")}
    proc = subprocess.run(
        [str(HIPCAM), "serve", "--config", str(config), "--source", "rtsp://127.0.0.1:9/none"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "is not the private key of server.tls_cert" in proc.stderr, proc.stderr
