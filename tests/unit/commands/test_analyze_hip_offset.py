"""`hipcam analyze --hip-offset FORWARD,UP`: the calibration moves the hips before the analysis;
a malformed or out-of-range value is a clear one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synth_runner import RunnerSpec, generate

from hipcam.commands.cli import main
from hipcam.records import landmarks_file


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "runner.npz"
    landmarks_file.save(path, generate(RunnerSpec(peak_thigh_deg=20.0, trunk_lean_deg=3.0, seed=5)).series)
    return path


def _strides(clip: Path, out: Path, *extra: str) -> list[dict]:
    assert main(["analyze", "--landmarks", str(clip), "--json", str(out), "--no-progress", *extra]) == 0
    return [s for s in json.loads(out.read_text())["strides"] if s["thigh_peak_deg"] is not None]


def test_a_hip_moved_forward_reads_less_thigh_extension(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = _strides(clip, tmp_path / "plain.json")
    moved = _strides(clip, tmp_path / "moved.json", "--hip-offset", "0.1,0")
    capsys.readouterr()
    assert plain and len(moved) == len(plain)
    # The hip 0.1 trunk lengths further forward: the knee is further behind it at every stride.
    assert all(m["thigh_peak_deg"] > p["thigh_peak_deg"] + 2.0 for p, m in zip(plain, moved, strict=True))
    back = _strides(clip, tmp_path / "back.json", "--hip-offset=-0.1,0")
    assert all(b["thigh_peak_deg"] < p["thigh_peak_deg"] - 2.0 for p, b in zip(plain, back, strict=True))


@pytest.mark.parametrize("value", ["0.1", "a,b", "0.1,0.2,0.3", "nan,0", ""])
def test_a_malformed_offset_is_a_usage_error(clip: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "--landmarks", str(clip), f"--hip-offset={value}"])
    assert exc.value.code == 2
    assert "--hip-offset" in capsys.readouterr().err


def test_an_offset_beyond_half_a_trunk_length_is_refused(clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--landmarks", str(clip), "--hip-offset", "0.7,0"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("hipcam: ") and "0.5" in err and err.count("\n") == 1
