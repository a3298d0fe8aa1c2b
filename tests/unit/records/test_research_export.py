"""The researchers' exports (hipcam.records.research_export), from sessions recorded in a real Store
with their stride landmarks: a TRC with every frame once in time order across overlapping strides
(metres from the runner's height, else pixels), and the zip of per-stride landmarks files that
hipcam.records.landmarks_file reads back."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from report_session import record_session

from hipcam.records import landmarks_file, research_export, side_lengths, trc
from hipcam.records.research_export import NothingToExport
from hipcam.records.store import Store


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    yield s
    s.close()


def test_trc_has_every_frame_once_in_time_order(store: Store) -> None:
    rec = record_session(store, seconds=5.0, seed=5)
    strides = research_export.stride_frames(store, rec.session_id)
    assert len(strides) == len(rec.stride_ids) >= 10
    total = sum(len(s.landmarks.series) for s in strides)
    back = trc.parse(research_export.session_trc(store, rec.session_id))
    assert len(back.times) == rec.frames < total  # the legs' strides overlap: each frame once
    assert np.all(np.diff(back.times) > 0)
    assert back.markers == trc.MARKER_NAMES and back.xyz.shape == (rec.frames, 23, 3)
    assert back.rate == rec.synth.spec.fps and back.name == f"hipcam-session-{rec.session_id}.trc"


def test_trc_in_metres_from_the_runners_height_else_pixels(store: Store) -> None:
    tall = record_session(store, runner="Tall", height_cm=190.0, seed=1)
    unknown = record_session(store, runner="No height", height_cm=None, seed=1)
    m = trc.parse(research_export.session_trc(store, tall.session_id))
    px = trc.parse(research_export.session_trc(store, unknown.session_id))
    assert m.units == "m" and px.units == "px"
    # The trunk (Hip to Neck) reads the runner's estimated trunk length.
    trunk_cm = side_lengths.trunk_cm(190.0)
    assert trunk_cm is not None
    assert abs(trc.trunk_px(m.xyz) * 100 - trunk_cm) < 0.5  # type: ignore[operator]
    # Same footage: metres are pixels times one scale, and the runner is about 1.9 m tall in them.
    ratio = m.xyz[..., 1] / px.xyz[..., 1]
    assert np.nanstd(ratio) < 1e-3 * np.nanmean(ratio)
    names = list(m.markers)
    standing = np.nanmedian(m.xyz[:, names.index("Nose"), 1] - m.xyz[:, names.index("RHeel"), 1])
    assert 1.2 < standing < 2.0


def test_trc_is_levelled_for_the_stored_roll(store: Store) -> None:
    rec = record_session(store, seed=2)  # filmed with a 1.5 deg roll
    t = trc.parse(research_export.session_trc(store, rec.session_id))
    names = list(t.markers)
    # The synthetic runner's pelvis moves only vertically: levelled, the hip's X barely drifts with Y.
    hip = t.xyz[:, names.index("Hip")]
    ok = ~np.isnan(hip[:, 0])
    slope = np.polyfit(hip[ok, 1], hip[ok, 0], 1)[0]
    assert abs(slope) < 0.01


def test_zip_holds_one_readable_landmarks_file_per_stride(store: Store, tmp_path: Path) -> None:
    rec = record_session(store, seed=7)
    data = research_export.landmarks_zip(store, rec.session_id)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        index = json.loads(zf.read(research_export.INDEX_NAME))
        assert index["session_id"] == rec.session_id
        assert [e["stride_id"] for e in index["strides"]] == rec.stride_ids
        assert sorted(zf.namelist()) == sorted([research_export.INDEX_NAME, *(e["file"] for e in index["strides"])])
        zf.extractall(tmp_path / "out")
    strides = {s.stride_id: s for s in store.strides(rec.session_id)}
    for entry in index["strides"]:
        back = landmarks_file.load(tmp_path / "out" / entry["file"])
        stored = store.replay.stride_landmarks(rec.session_id, entry["stride_id"])
        assert stored is not None
        assert entry["leg"] == strides[entry["stride_id"]].leg and entry["roll_deg"] == 1.5
        assert entry["frames"] == len(back) == len(entry["frame_times_s"]) == len(entry["frame_numbers"])
        assert entry["frame_numbers"][0] == entry["foot_strike_frame"]
        assert back.fps == stored.series.fps and (back.width, back.height) == (
            stored.series.width,
            stored.series.height,
        )
        assert np.array_equal(back.found, stored.series.found)
        assert np.allclose(back.image_landmarks, stored.series.image_landmarks, equal_nan=True)


def test_nothing_to_export_without_stored_landmarks(store: Store) -> None:
    rec = record_session(store, landmarks=False)
    empty = int(store.start_session()["id"])
    store.stop_session(empty)
    for session_id in (rec.session_id, empty):
        with pytest.raises(NothingToExport):
            research_export.session_trc(store, session_id)
        with pytest.raises(NothingToExport):
            research_export.landmarks_zip(store, session_id)


def test_facing_left_runs_forward_along_x(store: Store) -> None:
    rec = record_session(store, seed=3)
    strides = research_export.stride_frames(store, rec.session_id)
    right = research_export.build_trc(strides, "r.trc", None)
    mirrored = []
    for s in strides:
        lm = s.landmarks
        img = lm.series.image_landmarks.copy()
        img[..., 0] = 1.0 - img[..., 0]  # the same run filmed from the other side
        series = landmarks_file.LandmarkSeries(img, lm.series.found, lm.series.fps, lm.series.width, lm.series.height)
        flipped = type(lm)(series, lm.numbers, lm.times, -lm.roll_deg, "left", "left")
        mirrored.append(research_export.StrideFrames(s.stride, flipped))
    left = research_export.build_trc(mirrored, "l.trc", None)
    assert np.allclose(left.xyz, right.xyz, atol=1e-6, equal_nan=True)
