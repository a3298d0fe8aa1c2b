"""Config values that would silently break the device are refused at load with one clear line:
a malformed pin_hash, a bad host, allowed_hosts, a file that is not UTF-8; a wrong value from an
environment variable is attributed to the variable, not the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hipcam.auth import hash_pin, verify_pin
from hipcam.config import load_config
from hipcam.errors import ConfigError

HIPCAM = Path(sys.executable).parent / "hipcam"


def _file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_pin_hash_from_pin_hash_accepted() -> None:
    stored = hash_pin("2468")
    cfg = load_config(environ={"HIPCAM_SERVER__PIN_HASH": stored})
    assert cfg.server.pin_hash == stored and verify_pin("2468", cfg.server.pin_hash)


@pytest.mark.parametrize(
    "bad",
    ["2468", "scrypt$16384$8$1$abc", "bcrypt$16384$8$1$c2FsdHNhbHQ=$ZGlnZXN0ZGlnZXN0ZGlnZXN0",
     "scrypt$1000$8$1$c2FsdHNhbHRzYWx0$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0",  # N not a power of two
     "scrypt$16384$8$1$c2FsdHNhbHRzYWx0$not*base64", "scrypt$16384$8$1$c2FsdA==$ZGlnZXN0"],
)  # fmt: skip
def test_malformed_pin_hash_refused_at_load(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_file(tmp_path, f'[server]\npin_hash = "{bad}"\n'), environ={})
    message = str(err.value)
    assert "server.pin_hash" in message and "hipcam pin-hash" in message and "\n" not in message


def test_env_error_is_attributed_to_the_variable(tmp_path: Path) -> None:
    path = _file(tmp_path, "[server]\nport = 8080\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={"HIPCAM_SERVER__PORT": "99999"})
    assert str(err.value).startswith("environment variable HIPCAM_SERVER__PORT: server.port")
    with pytest.raises(ConfigError) as err:
        load_config(_file(tmp_path, "[server]\nport = 99999\n"), environ={"HIPCAM_SERVER__HOST": "127.0.0.1"})
    assert str(err.value).startswith(f"{path}: server.port")


@pytest.mark.parametrize("host", ["bad host!", "", "999.1.1.1", "-x.lan", "a" * 64 + ".lan"])
def test_bad_host_refused(host: str) -> None:
    with pytest.raises(ConfigError, match=r"environment variable HIPCAM_SERVER__HOST: server\.host"):
        load_config(environ={"HIPCAM_SERVER__HOST": host})


def test_allowed_hosts_from_file_and_environment(tmp_path: Path) -> None:
    cfg = load_config(_file(tmp_path, '[server]\nallowed_hosts = ["Cam.Clinic.LAN", "[fe80::1]"]\n'), environ={})
    assert cfg.server.allowed_hosts == ["cam.clinic.lan", "fe80::1"]
    env = load_config(environ={"HIPCAM_SERVER__ALLOWED_HOSTS": "cam.clinic.lan, 10.0.0.5"})
    assert env.server.allowed_hosts == ["cam.clinic.lan", "10.0.0.5"]
    assert load_config(environ={"HIPCAM_SERVER__ALLOWED_HOSTS": '["a.lan"]'}).server.allowed_hosts == ["a.lan"]
    with pytest.raises(ConfigError, match=r"server\.allowed_hosts"):
        load_config(environ={"HIPCAM_SERVER__ALLOWED_HOSTS": "http://evil/"})


def test_config_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(_file(tmp_path, b"[server]\nport = 8080\n# caf\xe9\n"), environ={})


@pytest.mark.parametrize(
    ("env", "content", "message"),
    [({}, b"# caf\xe9\n", "not UTF-8"), ({"HIPCAM_SERVER__HOST": "bad host!"}, b"", "HIPCAM_SERVER__HOST"),
     ({"HIPCAM_SERVER__HOST": "nosuch.invalid"}, b"", "cannot listen on nosuch.invalid")],
)  # fmt: skip
def test_serve_prints_one_hipcam_line(
    tmp_path: Path, models_dir: Path, env: dict[str, str], content: bytes, message: str
) -> None:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("HIPCAM_")}
    proc = subprocess.run(
        [str(HIPCAM), "--config", str(_file(tmp_path, content)), "serve", "--source", "demo", "--port", "1"],
        env={**keep, "HIPCAM_STORAGE__DATA_DIR": str(tmp_path), "HIPCAM_PATHS__MODELS_DIR": str(models_dir), **env}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("hipcam: ") and message in lines[0] and "internal error" not in lines[0]
