"""scripts/install-pi.sh: --dry-run shows every step and touches nothing; shellcheck is clean."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from paths import REPO as ROOT

SCRIPT = ROOT / "scripts" / "install-pi.sh"
# Every command the installer could use to change the system. In a dry run none may run.
MUTATING = (
    "apt-get", "apt", "dpkg", "useradd", "usermod", "groupadd", "install", "rsync", "python3", "pip",
    "chown", "chmod", "mkdir", "cp", "mv", "rm", "ln", "tee", "mktemp", "systemctl", "curl", "sudo",
)  # fmt: skip


def _stub_bin(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH directory where each mutating command only records that it was called."""
    # Outside pytest's root-only tmp tree, so an unprivileged run sees the stubs too.
    base = Path(tempfile.mkdtemp(prefix="hipcam-stubs-"))
    base.chmod(0o755)
    bin_dir = base / "bin"
    bin_dir.mkdir()
    calls = base / "calls.log"
    calls.touch()
    calls.chmod(0o666)
    for name in MUTATING:
        stub = bin_dir / name
        if name == "systemctl":
            # `systemctl is-active` is a read-only query the script may make: answer "inactive".
            body = f'if [ "$1" = is-active ]; then exit 3; fi\necho "{name} $*" >> {calls}\nexit 1\n'
        else:
            body = f'echo "{name} $*" >> {calls}\nexit 1\n'
        stub.write_text("#!/bin/sh\n" + body)
        stub.chmod(0o755)
    return bin_dir, calls


def _run(tmp_path: Path, *args: str, as_nobody: bool = False) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir, calls = _stub_bin(tmp_path)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    kwargs: dict[str, Any] = {"user": 65534, "group": 65534, "extra_groups": []} if as_nobody else {}
    proc = subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, check=False, **kwargs
    )
    log = calls.read_text()
    shutil.rmtree(bin_dir.parent)
    return proc, log


def _system_paths() -> dict[str, bool]:
    return {p: os.path.exists(p) for p in ("/opt/hipcam", "/etc/hipcam", "/etc/systemd/system/hipcam.service")}


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path) -> None:
    before = _system_paths()
    proc, calls = _run(tmp_path, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert calls == "", f"dry run executed: {calls}"
    assert _system_paths() == before
    out = proc.stdout
    for expected in (
        "apt-get install -y --no-install-recommends python3-picamera2 python3-venv python3-pip",
        "python3 -m venv --system-site-packages /opt/hipcam/venv",
        "-m pip install --require-hashes --only-binary=:all: -r /opt/hipcam/src/requirements/runtime.txt"
        " -r /opt/hipcam/src/requirements/build.txt",
        "-m pip install --no-deps --no-build-isolation --force-reinstall /opt/hipcam/src\n",
        "/opt/hipcam/venv/bin/hipcam fetch --models-dir /var/lib/hipcam/models",
        "useradd --system",
        "usermod --append --groups video hipcam",
        "pin-hash",
        "write /etc/hipcam/config.toml (owner root:hipcam, mode 0640)",
        'data_dir = "/var/lib/hipcam"',
        'models_dir = "/var/lib/hipcam/models"',
        "install -m 0644 -o root -g root /opt/hipcam/src/systemd/hipcam.service /etc/systemd/system/hipcam.service",
        "systemctl daemon-reload",
        "systemctl enable --now hipcam.service",
    ):
        assert expected in out, f"missing step: {expected}\n{out}"
    # A plain install: the service runs the installed wheel, never the source tree.
    assert " -e " not in out and "--editable" not in out
    # The order matters: the venv exists before the PIN is hashed, the config before the start;
    # the locked dependencies are in before hipcam (installed without resolving any), which fetches.
    assert out.index("venv --system-site-packages") < out.index("pin-hash") < out.index("enable --now")
    assert out.index("--require-hashes") < out.index("--no-deps") < out.index("hipcam fetch")
    assert "dry run" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_dry_run_works_for_an_unprivileged_user(tmp_path: Path) -> None:
    proc, calls = _run(tmp_path, "--dry-run", as_nobody=True)
    assert proc.returncode == 0, proc.stderr
    assert calls == ""


def test_real_run_refuses_without_root(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        proc, calls = _run(tmp_path, as_nobody=True)
    else:
        proc, calls = _run(tmp_path)
    assert proc.returncode != 0
    assert "run as root" in proc.stderr and calls == ""


def test_checkout_without_the_locks_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "device" / "hipcam").mkdir(parents=True)
    (src / "pyproject.toml").touch()
    (src / "device" / "hipcam" / "assets_manifest.toml").touch()
    proc, calls = _run(tmp_path, "--dry-run", "--src", str(src))
    assert proc.returncode != 0 and calls == ""
    assert proc.stderr.strip().splitlines()[-1] == (
        f"install-pi: {src} has no requirements/runtime.txt (the pinned dependencies; make it with scripts/lock)"
    )
    proc, _ = _run(tmp_path, "--dry-run", "--src", str(tmp_path))
    assert proc.returncode != 0 and "is not a hipcam checkout" in proc.stderr


def test_unknown_option_and_help(tmp_path: Path) -> None:
    proc, _ = _run(tmp_path, "--frobnicate")
    assert proc.returncode != 0 and "unknown option: --frobnicate" in proc.stderr
    proc, calls = _run(tmp_path, "--help")
    assert proc.returncode == 0 and "--dry-run" in proc.stdout and calls == ""


def test_strict_mode() -> None:
    head = SCRIPT.read_text().splitlines()[:12]
    assert head[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in head


@pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="shellcheck not installed (apt-get install -y shellcheck)"
)
def test_shellcheck_clean() -> None:
    proc = subprocess.run(["shellcheck", "--severity=style", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def _written(out: str, path: str) -> str:
    """The text a dry run shows for ``+ write PATH``."""
    lines = out.split(f"+ write {path} ", 1)[1].splitlines()[1:]
    return "\n".join(line[6:] for line in itertools.takewhile(lambda x: x.startswith("    | "), lines)) + "\n"


def _dry_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    # The firewall and TLS steps' commands must not run in a dry run either.
    monkeypatch.setattr(sys.modules[__name__], "MUTATING", (*MUTATING, "nft", "runuser", "openssl"))
    proc, calls = _run(tmp_path, "--dry-run", *args)
    assert proc.returncode == 0, proc.stderr
    assert calls == "", f"dry run executed: {calls}"
    return proc.stdout


def test_dry_run_installs_the_per_client_firewall_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _dry_run(tmp_path, monkeypatch)
    rules = _written(out, "/etc/hipcam/firewall.nft")
    assert "table inet hipcam\ndelete table inet hipcam\ntable inet hipcam {" in rules  # loading again replaces it
    for n, family in ((4, "ip"), (6, "ip6")):
        rule = f"tcp dport 8080 ct state new add @clients{n} {{ {family} saddr ct count over 32 }} counter reject"
        assert rule in rules, rules
    unit = _written(out, "/etc/systemd/system/hipcam-firewall.service")
    assert "ExecStart=/usr/sbin/nft -f /etc/hipcam/firewall.nft" in unit and "After=nftables.service" in unit
    assert "systemctl enable hipcam-firewall.service" in out and "systemctl restart hipcam-firewall.service" in out
    assert out.index("firewall.nft") < out.index("enable --now hipcam.service")
    assert "nftables" in out.split("apt-get install", 1)[1].splitlines()[0]


def test_the_firewall_rule_is_valid_nftables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nft = shutil.which("nft") or ("/usr/sbin/nft" if os.path.exists("/usr/sbin/nft") else None)
    if nft is None:
        pytest.skip("nft not installed (apt-get install -y nftables)")
    rules = tmp_path / "firewall.nft"
    rules.write_text(_written(_dry_run(tmp_path, monkeypatch), "/etc/hipcam/firewall.nft"))
    proc = subprocess.run([nft, "-c", "-f", str(rules)], capture_output=True, text=True, check=False)  # check only
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN here")
    assert proc.returncode == 0, proc.stderr


def test_dry_run_with_tls_makes_a_certificate_as_the_service_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _dry_run(tmp_path, monkeypatch, "--tls")
    assert "install -d -m 0750 -o hipcam -g hipcam /var/lib/hipcam/tls" in out
    assert "runuser -u hipcam -- /opt/hipcam/venv/bin/hipcam tls-cert --out /var/lib/hipcam/tls" in out
    assert 'tls_cert = "/var/lib/hipcam/tls/cert.pem"\n    | tls_key = "/var/lib/hipcam/tls/key.pem"' in out
    assert out.index("pip install --no-deps") < out.index("tls-cert") < out.index("enable --now hipcam.service")
    assert "curl -fsS --insecure https://127.0.0.1:8080/healthz" in out
    plain = _dry_run(tmp_path, monkeypatch)
    assert "tls-cert" not in plain and "curl -fsS http://127.0.0.1:8080/healthz" in plain


def test_tls_lines_go_under_the_server_table(tmp_path: Path) -> None:
    """The installer's own config edit (with_tls_lines), run on configs with and without [server]."""
    text = SCRIPT.read_text()
    functions = "\n".join(re.search(rf"^{name}\(\) {{\n.*?^}}\n", text, re.M | re.S).group(0)  # type: ignore[union-attr]
                          for name in ("tls_lines", "with_tls_lines"))  # fmt: skip
    for config in ('[capture]\nsource = "auto"\n\n[server]\nport = 8080\n\n[storage]\ndata_dir = "/x"\n',
                   '[capture]\nsource = "auto"\n'):  # fmt: skip
        proc = subprocess.run(["bash", "-c", f"TLS_DIR=/var/lib/hipcam/tls\n{functions}\nwith_tls_lines"],
                              input=config, capture_output=True, text=True, check=True)  # fmt: skip
        parsed = tomllib.loads(proc.stdout)
        assert parsed["server"]["tls_cert"] == "/var/lib/hipcam/tls/cert.pem"
        assert parsed["server"]["tls_key"] == "/var/lib/hipcam/tls/key.pem"
        assert parsed["capture"] == {"source": "auto"} and parsed["server"].get("port", 8080) == 8080


def test_dry_run_hub_installs_the_hub_instead_of_the_camera(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _dry_run(tmp_path, monkeypatch, "--hub")
    apt = out.split("apt-get install", 1)[1].splitlines()[0]
    assert "python3-picamera2" not in apt and "python3-venv" in apt
    assert "usermod --append --groups video" not in out and "useradd --system" in out
    assert "hipcam fetch" not in out  # no models on the hub
    assert "-m pip install --no-deps --no-build-isolation --force-reinstall /opt/hipcam/src\n" in out
    assert "install -d -m 0750 -o root -g hipcam /etc/hipcam/tokens" in out
    assert ("install -m 0644 -o root -g root /opt/hipcam/src/systemd/hipcam-hub.service "
            "/etc/systemd/system/hipcam-hub.service") in out  # fmt: skip
    assert "systemctl enable --now hipcam-hub.service" in out and "hipcam.service" not in out
    assert "pin-hash" not in out  # the hub has no PIN: nothing on it acts on a device
    assert "curl -fsS http://127.0.0.1:8090/healthz" in out
    rules = _written(out, "/etc/hipcam/firewall.nft")
    assert "tcp dport 8090 ct state new" in rules and "dport 8080" not in rules
    assert "Before=hipcam-hub.service" in _written(out, "/etc/systemd/system/hipcam-firewall.service")
    assert out.index("--no-deps") < out.index("/etc/hipcam/config.toml") < out.index("enable --now hipcam-hub")


def test_the_hub_config_it_writes_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hipcam.config import load_config

    text = _written(_dry_run(tmp_path, monkeypatch, "--hub"), "/etc/hipcam/config.toml")
    (tmp_path / "config.toml").write_text(text)
    cfg = load_config(tmp_path / "config.toml")
    assert cfg.hub.port == 8090 and cfg.hub.database_url is None and cfg.hub.devices == []
    assert cfg.mqtt.host == "localhost" and str(cfg.storage.data_dir) == "/var/lib/hipcam"
    # The commented-out device block, uncommented, is a valid [[hub.devices]] entry too.
    lines = [ln[2:] if ln.startswith(("# [[hub.devices]]", "# id =", "# url =", "# token_file =")) else ln
             for ln in text.splitlines()]  # fmt: skip
    (tmp_path / "config.toml").write_text("\n".join(lines) + "\n")
    [device] = load_config(tmp_path / "config.toml").hub.devices
    assert device.id == "treadmill-1" and device.url == "http://treadmill-1.local:8080"


def test_dry_run_hub_with_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _dry_run(tmp_path, monkeypatch, "--hub", "--tls")
    assert "runuser -u hipcam -- /opt/hipcam/venv/bin/hipcam tls-cert --out /var/lib/hipcam/tls" in out
    assert "curl -fsS --insecure https://127.0.0.1:8090/healthz" in out
