"""Compare two landmark files (e.g. hipcam against MediaPipe's reference).

Per frame: is a person found in both? For the body landmarks (shoulders to foot tips), the distance
in pixels divided by the reference torso length (shoulder-midpoint to hip-midpoint) of that frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hipcam.domain import BODY_LANDMARKS, HIPS, NAMES, SHOULDERS
from hipcam.errors import LandmarksFileError
from hipcam.records import landmarks_file
from hipcam.records.landmarks_file import LandmarkSeries


@dataclass(frozen=True)
class Comparison:
    frames: int
    found_reference: int
    found_candidate: int
    found_both: int
    missed: tuple[int, ...]  # frames with a person in the reference only
    extra: tuple[int, ...]  # frames with a person in the candidate only
    median: float  # of distance / reference torso length, over body landmarks x frames found in both
    p95: float
    max: float
    per_landmark_median: dict[str, float]
    per_landmark_p95: dict[str, float]

    @property
    def detection_agreement(self) -> float:
        """Share of frames where both agree on whether a person is there."""
        return 1.0 - (len(self.missed) + len(self.extra)) / self.frames if self.frames else 1.0


def _pixels(series: LandmarkSeries, idx: tuple[int, ...] | list[int]) -> np.ndarray:
    return series.image_landmarks[:, idx, :2].astype(np.float64) * [series.width, series.height]


def compare(reference: LandmarkSeries, candidate: LandmarkSeries) -> Comparison:
    if len(reference) != len(candidate):
        raise LandmarksFileError(f"frame counts differ: reference {len(reference)}, candidate {len(candidate)}")
    if (reference.width, reference.height) != (candidate.width, candidate.height):
        raise LandmarksFileError(
            f"frame sizes differ: reference {reference.width}x{reference.height}, "
            f"candidate {candidate.width}x{candidate.height}"
        )
    ref_found = reference.found & np.isfinite(reference.image_landmarks[:, BODY_LANDMARKS, :2]).all(axis=(1, 2))
    cand_found = candidate.found & np.isfinite(candidate.image_landmarks[:, BODY_LANDMARKS, :2]).all(axis=(1, 2))
    both = ref_found & cand_found
    torso_pts = _pixels(reference, [*SHOULDERS, *HIPS])
    torso = np.linalg.norm(torso_pts[:, :2].mean(axis=1) - torso_pts[:, 2:].mean(axis=1), axis=1)
    both &= torso > 0
    dist = np.linalg.norm(_pixels(candidate, BODY_LANDMARKS) - _pixels(reference, BODY_LANDMARKS), axis=2)
    rel = dist[both] / torso[both, None]
    names = [NAMES[i] for i in BODY_LANDMARKS]

    def stat(q: float, axis: int | None = None) -> np.ndarray:
        if rel.size == 0:
            return np.full(len(names) if axis == 0 else 1, np.nan)
        return np.atleast_1d(np.percentile(rel, q, axis=axis))

    return Comparison(
        frames=len(reference),
        found_reference=int(ref_found.sum()),
        found_candidate=int(cand_found.sum()),
        found_both=int(both.sum()),
        missed=tuple(int(i) for i in np.flatnonzero(ref_found & ~cand_found)),
        extra=tuple(int(i) for i in np.flatnonzero(cand_found & ~ref_found)),
        median=float(stat(50)[0]),
        p95=float(stat(95)[0]),
        max=float(stat(100)[0]),
        per_landmark_median=dict(zip(names, map(float, stat(50, 0)), strict=True)),
        per_landmark_p95=dict(zip(names, map(float, stat(95, 0)), strict=True)),
    )


def compare_files(reference: Path, candidate: Path) -> Comparison:
    return compare(landmarks_file.load(reference), landmarks_file.load(candidate))


def _frames(frames: tuple[int, ...], limit: int = 10) -> str:
    shown = ", ".join(map(str, frames[:limit]))
    return shown + (f", ... ({len(frames)} in all)" if len(frames) > limit else "")


def format_comparison(c: Comparison) -> str:
    lines = [
        f"frames: {c.frames}; person found: reference {c.found_reference}, candidate {c.found_candidate}, "
        f"both {c.found_both}; detection agreement {c.detection_agreement:.1%}",
    ]
    if c.missed:
        lines.append(f"  missed (reference only): {_frames(c.missed)}")
    if c.extra:
        lines.append(f"  extra (candidate only): {_frames(c.extra)}")
    lines.append(
        f"body landmarks, distance / reference torso length: median {c.median:.2%}, p95 {c.p95:.2%}, max {c.max:.2%}"
    )
    for name in c.per_landmark_median:
        lines.append(f"  {name:<18} median {c.per_landmark_median[name]:6.2%}  p95 {c.per_landmark_p95[name]:6.2%}")
    return "\n".join(lines)
