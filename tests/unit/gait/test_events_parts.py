"""The parts of the contact event detector (hipcam.gait.events) and the retired event settings."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from hipcam.config.gait import GaitParams
from hipcam.gait.events import contact_events, glitches, spikes


def _stance_track(n: int, fps: float) -> np.ndarray:
    """A foot riding the belt backward at 3 trunk lengths/s on the ground (y = 3.3)."""
    t = np.arange(n) / fps
    return np.stack([1.0 - 3.0 * (t % 0.3), np.full(n, 3.3)], axis=1)


def test_a_snap_onto_the_handrail_and_back_is_a_glitch() -> None:
    track = _stance_track(120, 240.0)
    track[40:60] = [4.5, 1.6]  # 20 frames up at the handrail (BlazePose on a hidden foot)
    bad = glitches(track, 240.0, max_speed=20.0)
    assert bad[40:60].all() and not bad[:40].any() and not bad[60:70].any()


def test_a_jump_with_no_return_marks_the_rest_only_near_the_end() -> None:
    track = _stance_track(120, 240.0)
    track[100:] = [4.5, 1.6]  # live: the buffer ends mid-glitch
    assert glitches(track, 240.0, max_speed=20.0)[100:].all()
    track = _stance_track(400, 240.0)
    track[100:] = [4.5, 1.6]  # it stayed there for over max_glitch_s: a real move (another place)
    assert not glitches(track, 240.0, max_speed=20.0)[200:].any()


def test_a_one_frame_spike_is_found() -> None:
    track = _stance_track(60, 30.0)
    track[30] += [0.0, -0.4]
    found = spikes(track)
    assert found[30] and found.sum() == 1


def test_contact_events_need_the_frame_beyond_and_a_confirmed_strike() -> None:
    contact = np.zeros(40, dtype=bool)
    contact[5:15] = contact[25:38] = True
    known = np.ones(40, dtype=bool)
    known[24] = False  # the frame before the second contact is not measured: its landing was hidden
    events = contact_events({"left": contact}, {"left": known}, min_frames=4)
    assert [(e.frame, e.type) for e in events] == [
        (5, "foot_strike"),
        (14, "toe_off"),
        (25, "foot_strike"),
        (37, "toe_off"),
    ]
    known[:25] = False  # nothing measured before it (the data's start): no strike
    events = contact_events({"left": contact}, {"left": known}, min_frames=4)
    assert [(e.frame, e.type) for e in events] == [(37, "toe_off")]
    contact[36:] = False
    contact[34:36] = True  # a strike 2 frames before the data's end: not confirmed yet
    contact[25:34] = False
    events = contact_events({"left": contact}, {"left": np.ones(40, dtype=bool)}, min_frames=4)
    assert [(e.frame, e.type) for e in events] == [(5, "foot_strike"), (14, "toe_off")]


def test_retired_event_settings_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        params = GaitParams.model_validate({"ground_band": 0.3, "event_prominence": 0.05, "contact_height": 0.1})
    assert params.contact_height == 0.1
    assert "event_prominence, ground_band no longer used" in caplog.text
