"""Config validation and the landmarks file format: clear errors, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hipcam.config import load_config
from hipcam.errors import ConfigError, LandmarksFileError
from hipcam.records import landmarks_file


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_are_valid() -> None:
    cfg = load_config(None, environ={})
    assert cfg.server.port == 8080 and cfg.server.pin_hash is None
    # Each live viewer holds a server thread and two stay free: the default limit is the real one.
    assert cfg.server.max_viewers <= cfg.server.threads - 2


def test_viewer_limit_must_fit_the_server_threads(tmp_path: Path) -> None:
    ok = load_config(write(tmp_path, "[server]\nthreads = 8\nmax_viewers = 6\n"), environ={})
    assert (ok.server.threads, ok.server.max_viewers) == (8, 6)
    for text, environ in (
        ("[server]\nthreads = 8\n", {}),  # default max_viewers no longer fits
        ("[server]\nthreads = 8\nmax_viewers = 7\n", {}),
        ("", {"HIPCAM_SERVER__MAX_VIEWERS": "15"}),
    ):
        with pytest.raises(ConfigError, match=r"server\.max_viewers .* server\.threads"):
            load_config(write(tmp_path, text), environ=environ)


def test_soak_service_config_validates(tmp_path: Path) -> None:
    from hipcam.commands.soak import service_env

    cfg = load_config(
        write(tmp_path, "[server]\nthreads = 5\nmax_viewers = 3\n[gait]\nthigh_extended_deg = 11.5\n"), environ={}
    )
    back = load_config(None, environ=service_env(cfg, tmp_path, 8123))
    assert (back.server.port, back.server.threads, back.server.max_viewers) == (8123, 5, 3)
    assert back.capture.source == "demo" and back.storage.data_dir == tmp_path / "data"
    # Every other key comes through unchanged (the child runs exactly the soaked configuration).
    expected = cfg.model_dump()
    expected["server"].update(port=8123, host="127.0.0.1")
    expected["storage"]["data_dir"] = tmp_path / "data"
    expected["capture"].update(source="demo", loop_files=True)
    assert back.model_dump() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 70000\n", "server.port"),
        ("[pose]\nthreads = 0\n", "pose.threads"),
        ("[server]\nprot = 8080\n", "server.prot"),
        ("[capture]\nfps = 'fast'\n", "capture.fps"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(write(tmp_path, text), environ={})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 8081\n")
    assert load_config(path, environ={"HIPCAM_SERVER__PORT": "9090"}).server.port == 9090
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_config(path, environ={"HIPCAM_SERVER__PORT": "many"})


@pytest.mark.needs_models  # the good file passes only where the models are fetched
def test_config_check_cli_prints_one_line_and_fails(tmp_path: Path) -> None:
    bad = write(tmp_path, "[server]\nport = 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "hipcam.commands.cli", "config", "check", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "server.port" in proc.stderr and "Traceback" not in proc.stderr
    good = write(tmp_path, "[server]\nport = 8088\n", "good.toml")
    ok = subprocess.run(
        [sys.executable, "-m", "hipcam.commands.cli", "config", "check", str(good)], capture_output=True
    )
    assert ok.returncode == 0


def series(n: int = 5) -> landmarks_file.LandmarkSeries:
    lm = np.random.default_rng(0).random((n, 33, 5), dtype=np.float32)
    return landmarks_file.LandmarkSeries(lm, np.ones(n, bool), 30.0, 640, 480)


def test_round_trip_and_atomic_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "lm.npz"
    landmarks_file.save(path, series())
    back = landmarks_file.load(path)
    np.testing.assert_array_equal(back.image_landmarks, series().image_landmarks)
    assert (back.fps, back.width, back.height) == (30.0, 640, 480)
    assert [p.name for p in tmp_path.iterdir()] == ["lm.npz"]  # no temp files left behind


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"image_landmarks": np.zeros((4, 17, 5))}, "shape"),
        ({"image_landmarks": np.zeros((0, 33, 5)), "found": np.zeros(0, bool)}, "no frames"),
        ({"fps": -1.0}, "fps"),
        ({"found": np.ones(3, bool)}, "found"),
    ],
)
def test_bad_landmark_files(tmp_path: Path, arrays: dict, message: str) -> None:
    base = {"image_landmarks": np.zeros((4, 33, 5)), "found": np.ones(4, bool), "fps": 30.0, "width": 10, "height": 10}
    path = tmp_path / "bad.npz"
    np.savez(path, **{**base, **arrays})
    with pytest.raises(LandmarksFileError, match=message):
        landmarks_file.load(path)


def test_not_a_landmarks_file(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    path.write_bytes(b"hello")
    with pytest.raises(LandmarksFileError, match="cannot read"):
        landmarks_file.load(path)
    with pytest.raises(LandmarksFileError, match="no such"):
        landmarks_file.load(tmp_path / "missing.npz")
