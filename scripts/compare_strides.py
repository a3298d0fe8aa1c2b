#!/usr/bin/env python3
"""Stride-by-stride agreement of two `hipcam analyze --json` files of the same clip (reference first).

Strides are paired by leg and nearest foot strike (within half a stride); prints how many paired,
the hip extension at toe-off difference (median, max) and the share with the same class.
    scripts/compare_strides.py fp32.json int8.json
"""

from __future__ import annotations

import json
import statistics
import sys


def main(reference_path: str, candidate_path: str) -> int:
    with open(reference_path) as fh:
        ref = json.load(fh)["strides"]
    with open(candidate_path) as fh:
        cand = json.load(fh)["strides"]
    pairs = []
    for r in ref:
        same_leg = [c for c in cand if c["leg"] == r["leg"]]
        if not same_leg:
            continue
        c = min(same_leg, key=lambda c: abs(c["foot_strike_frame"] - r["foot_strike_frame"]))
        if abs(c["foot_strike_frame"] - r["foot_strike_frame"]) <= 0.5 * (r["end_frame"] - r["foot_strike_frame"]):
            pairs.append((r, c))
    diffs = [
        abs(r["hip_extension_at_toe_off_deg"] - c["hip_extension_at_toe_off_deg"])
        for r, c in pairs
        if r["hip_extension_at_toe_off_deg"] is not None and c["hip_extension_at_toe_off_deg"] is not None
    ]
    same = sum(r["class"] == c["class"] for r, c in pairs)
    print(f"strides: reference {len(ref)}, candidate {len(cand)}, paired {len(pairs)}")
    if diffs:
        print(
            f"hip extension at toe-off: |difference| median {statistics.median(diffs):.2f} deg, max {max(diffs):.2f} deg"
        )
    if pairs:
        print(f"same class: {same}/{len(pairs)} ({100 * same / len(pairs):.0f}%)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
