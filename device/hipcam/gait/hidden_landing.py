"""Foot strikes whose landing was hidden: timed from the other leg's toe-off and the runner's flight.

A far foot landing behind the near leg is often not seen: BlazePose's far foot wanders there (up to
the handrail on the lab clip, at high confidence), the glitch tests drop it, and the contact is only
found once the foot is seen again on the belt, ~0.1 s late. In running, a foot lands one flight time
after the other leg's toe-off, and the flight time barely changes from step to step: it is measured
on the steps whose landing was seen. So a strike with unseen frames just before it (`_HIDDEN_S`) is
moved to the other leg's latest toe-off + the median seen flight time, when that falls before it and
after that toe-off. Walking (no flight) and footage without seen flights are left alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hipcam.gait.events import FootEvent

_HIDDEN_S = 0.05  # unseen frames this close before a strike: its landing was not seen
_MAX_FLIGHT_S = 0.25  # longer "flights" are not flights (a missed event in between)
_MIN_FLIGHTS = 1


def _latest_other_toe_off(events: list[FootEvent], strike: FootEvent) -> int | None:
    frames = [e.frame for e in events if e.type == "toe_off" and e.leg != strike.leg and e.frame < strike.frame]
    return max(frames) if frames else None


def time_hidden_strikes(events: list[FootEvent], seen: dict[str, np.ndarray], fps: float) -> list[FootEvent]:
    """`events` with each hidden strike re-timed (marked `inferred`), sorted by frame."""
    reach = max(1, round(_HIDDEN_S * fps))

    def hidden(e: FootEvent) -> bool:
        s = seen[e.leg]
        return e.type == "foot_strike" and not bool(s[max(e.frame - reach, 0) : e.frame].all())

    flights = []
    for e in events:
        if e.type == "foot_strike" and not hidden(e):
            t = _latest_other_toe_off(events, e)
            if t is not None and 0 < e.frame - t <= _MAX_FLIGHT_S * fps:
                flights.append(e.frame - t)
    if len(flights) < _MIN_FLIGHTS:
        return events
    flight = round(float(np.median(flights)))
    out = []
    for e in events:
        t = _latest_other_toe_off(events, e) if hidden(e) else None
        own_before = [x.frame for x in events if x.leg == e.leg and x.frame < e.frame]
        # Only within the hidden stretch: after the other leg left the ground and after this leg's
        # own last event (a contact broken by the glitch is not two landings).
        if t is not None and max([t, *own_before]) < t + flight < e.frame and e.frame - t <= 2 * _MAX_FLIGHT_S * fps:
            e = replace(e, frame=t + flight, inferred=True)
        out.append(e)
    return sorted(out, key=lambda e: (e.frame, e.leg))
