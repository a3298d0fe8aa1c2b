"""`hipcam config check`: one clear line naming the key, non-zero exit, for each kind of fault."""

from __future__ import annotations

import io
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from paths import FETCHED

from hipcam.commands.config_check import check_camera_device, check_config, check_port


@pytest.fixture(autouse=True)
def _only_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """HIPCAM_* variables override the file; the file under test must be all that counts."""
    for name in [n for n in os.environ if n.startswith("HIPCAM_")]:
        monkeypatch.delenv(name)


def _write(tmp_path: Path, body: str) -> Path:
    """A config whose models dir holds the fetched files' names (the check looks for files, it does
    not load them), so these tests need no `hipcam fetch`."""
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    for name in FETCHED:
        (models / name).touch()
    path = tmp_path / "config.toml"
    data_dir = tmp_path / "data"
    path.write_text(f'[storage]\ndata_dir = "{data_dir}"\n[paths]\nmodels_dir = "{models}"\n' + body)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(path: Path, **kw: bool) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check_config(path, out=out, err=err, **kw)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ("[server]\nprot = 8080\n", "server.prot", "Extra inputs"),
        ("[server]\nport = 70000\n", "server.port", "less than or equal"),
        ('[capture]\nfps = "fast"\n', "capture.fps", "valid number"),
        ('[level]\nmode = "sideways"\n', "level.mode", "auto"),
        ("[pose\nthreads = 2\n", "not valid TOML", "line"),
        ("[server]\nthreads = 8\nmax_viewers = 20\n", "server.max_viewers (20)", "server.threads - 2 (6)"),
    ],
)
def test_bad_file_one_line_naming_the_key(tmp_path: Path, body: str, key: str, words: str) -> None:
    code, out, err = _run(_write(tmp_path, body))
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert key in lines[0] and words in lines[0], lines[0]
    assert "Traceback" not in err


def test_missing_and_unreadable_file(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path / "nope.toml")
    assert code != 0 and "not found" in err and len(err.strip().splitlines()) == 1
    if os.geteuid() != 0:  # root reads anything
        path = _write(tmp_path, "")
        path.chmod(0)
        code, _, err = _run(path)
        assert code != 0 and "permission denied" in err


def test_good_file(tmp_path: Path) -> None:
    code, out, err = _run(_write(tmp_path, f'[capture]\nsource = "demo"\n[server]\nport = {_free_port()}\n'))
    assert code == 0, err
    assert out.strip().endswith(": ok")
    assert "pin_hash" in err  # a warning, not an error


def test_models_not_fetched(tmp_path: Path) -> None:
    path = _write(tmp_path, '[capture]\nsource = "demo"\n')
    (tmp_path / "models" / "pose_detection.tflite").unlink()
    code, out, err = _run(path, check_port_free=False)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "paths.models_dir" in err and "pose_detection.tflite" in err, err
    assert "run `hipcam fetch`" in err


def test_port_in_use(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        assert check_port("127.0.0.1", port) is not None
        code, _, err = _run(
            _write(tmp_path, f'[capture]\nsource = "demo"\n[server]\nhost = "127.0.0.1"\nport = {port}\n')
        )
    finally:
        busy.close()
    assert code != 0
    assert err.count("\n") == 1 and "server.port" in err and "already in use" in err
    assert check_port("127.0.0.1", port) is None


def test_camera_device_missing_and_not_a_device(tmp_path: Path) -> None:
    assert "no such camera device" in (check_camera_device("/dev/video97") or "")
    assert "not a camera device" in (check_camera_device(str(tmp_path)) or "")
    code, _, err = _run(_write(tmp_path, '[capture]\nsource = "/dev/video97"\n'), check_port_free=False)
    assert code != 0 and "capture.source" in err and "/dev/video97" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a device node we cannot open")
def test_camera_device_unreadable() -> None:
    # pytest's tmp_path is private to root; nobody must be able to reach the node itself.
    folder = Path(tempfile.mkdtemp(prefix="hipcam-dev-"))
    folder.chmod(0o755)
    node = folder / "video0"
    os.mknod(node, 0o600 | 0o020000, os.makedev(1, 3))  # a char device (/dev/null's numbers)
    node.chmod(0o600)
    # Probe as nobody in a forked child: the node is root-only, as /dev/video0 is to a user
    # outside group 'video'.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to nobody, probe, report, never return into pytest
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, str(check_camera_device(str(node))).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as fh:
        message = fh.read()
    shutil.rmtree(folder)
    assert "permission denied" in message and "group 'video'" in message, message


def test_tls_files_checked(tmp_path: Path) -> None:
    from hipcam.commands.config_check import check_tls
    from hipcam.config import HipcamConfig

    missing = HipcamConfig.model_validate({"server": {"tls_cert": tmp_path / "c.pem", "tls_key": tmp_path / "k.pem"}})
    problem = check_tls(missing)
    assert problem is not None and problem.startswith("server.tls_cert") and "cannot read" in problem
    (tmp_path / "c.pem").write_text("not a certificate")
    (tmp_path / "k.pem").write_text("not a key")
    problem = check_tls(missing)
    assert problem is not None and "server.tls" in problem
    assert check_tls(HipcamConfig()) is None
