"""pose.precision per board (hipcam.pose.precision): what auto picks, and what each choice loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hipcam.config import HipcamConfig
from hipcam.errors import AssetError
from hipcam.pose import precision
from hipcam.pose.tracker import LANDMARK_FILE, BlazePose


def _record(models: Path, validated: bool) -> None:
    record = {"validated": validated, "median_pct": 1.2 if validated else 1.6, "p95_pct": 4.0 if validated else 17.0}
    (models / precision.INT8_RECORD).write_text(json.dumps(record))


def test_auto_picks_fp16_on_a_cpu_with_it_a_validated_int8_where_built_else_fp32(tmp_path: Path) -> None:
    assert precision.choose("auto", tmp_path, has_fp16=True).precision == "fp16"
    assert precision.choose("auto", tmp_path, has_fp16=False).precision == "fp32"
    (tmp_path / precision.INT8_FILE).write_bytes(b"built")
    assert "no readable" in precision.choose("auto", tmp_path, has_fp16=False).reason
    _record(tmp_path, validated=False)
    not_validated = precision.choose("auto", tmp_path, has_fp16=False)
    assert not_validated.precision == "fp32"
    assert "not validated (median 1.60%, p95 17.00%" in not_validated.reason
    assert precision.choose("int8", tmp_path, has_fp16=False).precision == "int8"  # asked for: runs anyway
    _record(tmp_path, validated=True)
    assert precision.choose("auto", tmp_path, has_fp16=False).precision == "int8"
    assert precision.choose("auto", tmp_path, has_fp16=True).precision == "fp16"  # FP16 first where the CPU has it
    assert "no FP16" in precision.choose("fp16", tmp_path, has_fp16=False).reason


def test_int8_without_a_built_model_is_refused_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="not built"):
        precision.choose("int8", tmp_path, has_fp16=False)


def test_fp16_detection_reads_the_cpu_features(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor : 0\nFeatures : fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp\n")
    monkeypatch.setattr(precision.platform, "machine", lambda: "aarch64")
    assert precision.cpu_has_fp16(info)
    info.write_text("processor : 0\nFeatures : fp asimd evtstrm crc32 cpuid\n")  # a Pi 4's Cortex-A72
    assert not precision.cpu_has_fp16(info)
    monkeypatch.setattr(precision.platform, "machine", lambda: "x86_64")
    assert not precision.cpu_has_fp16(info)


def test_the_fp16_hint_changes_only_the_metadata(models_dir: Path) -> None:
    model = (models_dir / LANDMARK_FILE).read_bytes()
    hinted = precision.with_fp16_hint(model)
    assert len(hinted) == len(model) and hinted != model
    assert hinted.count(b"fp16accfp16") == 1 and b"fp16accfp32" not in hinted
    assert precision.with_fp16_hint(b"TFL3 without the metadata") == b"TFL3 without the metadata"


def test_auto_threads_leave_a_core_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision.os, "cpu_count", lambda: 4)
    assert precision.inference_threads("auto") == 3
    monkeypatch.setattr(precision.os, "cpu_count", lambda: 2)
    assert precision.inference_threads("auto") == 1
    assert precision.inference_threads(2) == 2


def test_the_pose_pipeline_runs_in_the_chosen_precision(models_dir: Path) -> None:
    cfg = HipcamConfig.model_validate({"pose": {"precision": "fp16", "threads": 1}})
    pose = BlazePose.from_config(cfg, models_dir=models_dir)
    assert pose.precision.precision == "fp16" and pose.threads == 1
    frame = np.zeros((240, 320, 3), np.uint8)
    assert pose.process(frame, 0.0) is None  # the hinted model loads and runs (nobody in an empty frame)
