"""Per-stride class: A neutral, B true hip extension, C lean-forward extension, D arched-back extension.

Rules (thresholds are GaitParams fields, sources in docs/gait.md), on the stride's peak thigh angle,
the trunk lean at that frame and, when the mask gives it, the lumbar arch change (how much the back
outline's lumbar depth grows from the stride's least-extended phase to peak extension, in trunk
lengths; strides.lumbar_arch). The absolute depth is not used: it measures build and clothing.
1. the thigh looks extended (thigh >= thigh_extended_deg) and the back is arched (trunk tipped back by
   >= trunk_back_tilt_deg, or lumbar arch change >= lumbar_arch_increase_min)        -> D
2. the thigh looks extended, the trunk leans forward >= trunk_lean_max_deg and the hip extension
   (thigh - trunk lean) stays below hip_extension_min_deg                            -> C
3. the thigh looks extended and hip extension >= hip_extension_min_deg              -> B
4. otherwise                                                                           -> A
Confidence = data quality x (0.5 + 0.5 tanh(margin)), the margin being how far (in confidence_scale
units) the deciding measures are from their thresholds: 0.5 on a threshold, ~0.88 one scale away.
"""

from __future__ import annotations

import math

from hipcam.config.gait import GaitParams
from hipcam.domain import UNKNOWN, GaitClass


def arch_margin(trunk_lean_deg: float, lumbar_change: float | None, params: GaitParams) -> float:
    """>= 0 when the back counts as arched (in confidence-scale units), < 0 when it does not.

    lumbar_change: the mask's lumbar depth gained at peak extension (trunk lengths), None without a mask.
    """
    tilt = (-trunk_lean_deg - params.trunk_back_tilt_deg) / params.confidence_scale_deg
    if lumbar_change is None or not math.isfinite(lumbar_change):
        return tilt
    lumbar = (lumbar_change - params.lumbar_arch_increase_min) / params.confidence_scale_ratio
    return max(tilt, lumbar)


def classify(
    thigh_deg: float, trunk_lean_deg: float, lumbar_change: float | None, quality: float, params: GaitParams
) -> tuple[str, float]:
    """(class, confidence) for one stride; 'unknown' when a measure is missing or confidence is low."""
    if not (math.isfinite(thigh_deg) and math.isfinite(trunk_lean_deg)) or quality <= 0:
        return UNKNOWN, 0.0
    s = params.confidence_scale_deg
    hip_ext = thigh_deg - trunk_lean_deg
    extended = (thigh_deg - params.thigh_extended_deg) / s
    true_ext = (hip_ext - params.hip_extension_min_deg) / s
    lean = (trunk_lean_deg - params.trunk_lean_max_deg) / s
    arch = arch_margin(trunk_lean_deg, lumbar_change, params)
    if extended >= 0 and arch >= 0:
        cls, margin = GaitClass.D, min(extended, arch)
    elif extended >= 0 and lean >= 0 and true_ext < 0:
        cls, margin = GaitClass.C, min(extended, lean, -true_ext, -arch)
    elif extended >= 0 and true_ext >= 0:
        cls, margin = GaitClass.B, min(extended, true_ext, -arch)
    else:
        # Neutral: either the thigh does not look extended, or it does without lean or true extension.
        cls = GaitClass.A
        margin = -extended if extended < 0 else min(-true_ext, -lean, -arch)
    confidence = max(0.0, min(1.0, quality)) * (0.5 + 0.5 * math.tanh(margin))
    if confidence < params.min_confidence:
        return UNKNOWN, confidence
    return cls, confidence
