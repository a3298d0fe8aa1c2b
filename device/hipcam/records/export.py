"""A session's summary and its exports (JSON, CSV), from the stored strides."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from hipcam.domain import CLASSES, LEGS
from hipcam.records.schema import SCHEMA_VERSION
from hipcam.records.stride import COLUMNS, StrideRecord


def session_summary(strides: Sequence[StrideRecord]) -> dict[str, Any]:
    per_leg: dict[str, dict[str, Any]] = {}
    for leg in LEGS:
        mine = [s for s in strides if s.leg == leg]
        ext = [s.hip_extension_deg for s in mine if s.hip_extension_deg is not None]
        per_leg[leg] = {
            "strides": len(mine),
            "counts": {c: sum(1 for s in mine if s.cls == c) for c in CLASSES},
            "hip_extension_mean_deg": round(sum(ext) / len(ext), 1) if ext else None,
            "hip_extension_max_deg": round(max(ext), 1) if ext else None,
        }
    # Best/worst among classified strides (an unclassified one may be a tracking glitch).
    rated = [s for s in strides if s.hip_extension_deg is not None and s.classified]
    best = max(rated, key=lambda s: s.hip_extension_deg or 0.0, default=None)
    worst = min(rated, key=lambda s: s.hip_extension_deg or 0.0, default=None)
    return {
        "legs": per_leg,
        "best_stride_id": best.stride_id if best else None,
        "worst_stride_id": worst.stride_id if worst else None,
    }


def export_json(session: dict[str, Any], strides: Sequence[StrideRecord]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "session": session,
        "summary": session_summary(strides),
        "strides": [s.to_json() for s in strides],
    }


def export_csv(strides: Sequence[StrideRecord]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for stride in strides:
        row = stride.to_json()
        writer.writerow([_csv_cell(row[c]) for c in COLUMNS])
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    # Spreadsheet formula injection: free text (a reason, a runner name) must not start a formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
