"""The compute budget per frame, counted from the model graphs themselves (``hipcam bench --budget``).

Multiply-accumulates are counted for the operators that hold nearly all the work (CONV_2D,
DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED) from the tensor shapes stored in the
.tflite flatbuffer: nothing is hand-entered, so a different model (another build, an int8 one)
counts itself. Element-wise operators (ADD, PAD, resizes) are reported as a share of the
elements they produce, not as MACs. The graph "as run" is the one ``prune_outputs`` leaves when
the segmentation mask is not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hipcam.errors import AssetError
from hipcam.pose.runtime import prune_outputs


@dataclass(frozen=True)
class GraphBudget:
    name: str
    macs: int  # multiply-accumulates per invoke
    elementwise: int  # elements produced by the other (cheap) operators
    operators: int

    @property
    def gmac(self) -> float:
        return self.macs / 1e9


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        raise AssetError("counting the graphs needs LiteRT's flatbuffer schema (pip install ai-edge-litert)") from None
    return schema


def _op_names(schema: Any) -> dict[int, str]:
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def _macs(op_name: str, shapes: list[list[int]], out_shape: list[int]) -> int | None:
    """MACs of one operator from its input and output shapes; None if it is not a MAC operator."""
    out = int(np.prod(out_shape)) if out_shape else 0
    if op_name == "CONV_2D":  # filter [Cout, kh, kw, Cin]
        _, kh, kw, cin = shapes[1]
        return out * kh * kw * cin
    if op_name == "DEPTHWISE_CONV_2D":  # filter [1, kh, kw, Cout]: one multiply per tap per output
        _, kh, kw, _ = shapes[1]
        return out * kh * kw
    if op_name == "TRANSPOSE_CONV":  # inputs: output shape, filter [Cout, kh, kw, Cin], input
        _, kh, kw, _ = shapes[1]
        return int(np.prod(shapes[2])) * kh * kw * shapes[1][0]
    if op_name == "FULLY_CONNECTED":  # filter [out, in]
        return out * shapes[1][1]
    return None


def count_graph(model: bytes, name: str) -> GraphBudget:
    """Count one .tflite model's first subgraph."""
    schema = _schema()
    if model[4:8] != b"TFL3":
        raise AssetError(f"{name}: not a TFLite flatbuffer")
    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph, names = tree.subgraphs[0], _op_names(schema)
    macs = elementwise = 0
    for op in graph.operators:
        code = tree.operatorCodes[op.opcodeIndex]
        op_name = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "")
        if op_name in ("DEQUANTIZE", "DENSIFY"):
            continue  # weight unpacking: done once at load by the runtime, not per frame
        shapes = [[int(d) for d in graph.tensors[t].shape] if t >= 0 else [] for t in op.inputs]
        out_shape = [int(d) for d in graph.tensors[op.outputs[0]].shape]
        counted = _macs(op_name, shapes, out_shape)
        if counted is None:
            elementwise += int(np.prod(out_shape)) if out_shape else 0
        else:
            macs += counted
    return GraphBudget(name, macs, elementwise, len(graph.operators))


def count_file(path: Path, drop_outputs: tuple[str, ...] = ()) -> GraphBudget:
    if not path.is_file():
        raise AssetError(f"{path}: missing; run `hipcam fetch`")
    model = path.read_bytes()
    label = path.name + (" without " + ", ".join(drop_outputs) if drop_outputs else "")
    return count_graph(prune_outputs(model, drop_outputs) if drop_outputs else model, label)


@dataclass(frozen=True)
class Configuration:
    """One way of running the pose pipeline, as MACs per analysed frame."""

    name: str
    landmark_gmac: float
    detector_gmac_per_frame: float  # amortized: the detector runs at re-detection checks only

    @property
    def gmac_per_frame(self) -> float:
        return self.landmark_gmac + self.detector_gmac_per_frame


def configurations(
    full: GraphBudget,
    pruned: GraphBudget,
    detector: GraphBudget,
    fps: float,
    recheck_interval_s: float,
    mask_share: float,
) -> list[Configuration]:
    """The live configurations: the mask on every frame, never, or on ``mask_share`` of frames."""
    det = detector.gmac / max(1.0, fps * recheck_interval_s) if recheck_interval_s > 0 else 0.0
    scheduled = mask_share * full.gmac + (1.0 - mask_share) * pruned.gmac
    return [
        Configuration("full model, mask every frame", full.gmac, det),
        Configuration("full model, no mask", pruned.gmac, det),
        Configuration(f"mask scheduled ({mask_share:.0%} of frames, 30 fps)", scheduled, det),
    ]


def budget_table(graphs: Iterable[GraphBudget], configs: Iterable[Configuration]) -> str:
    lines = ["graph                                             GMAC/invoke  other elements  operators"]
    lines += [f"{g.name:<50}{g.gmac:10.3f}  {g.elementwise:14,d}  {g.operators:9d}" for g in graphs]
    lines += ["", "configuration                                     GMAC/frame (landmark + amortized detector)"]
    lines += [
        f"{c.name:<50}{c.gmac_per_frame:10.3f}  ({c.landmark_gmac:.3f} + {c.detector_gmac_per_frame:.4f})"
        for c in configs
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class BoardAnchor:
    """A board's measured FP32 throughput on a published model, turned into GMAC/s."""

    board: str
    anchor_ms: float  # MobileNet v2 1.0 (224 px), 4 threads, XNNPACK, FP32
    source: str

    @property
    def gmac_per_s(self) -> float:
        return MOBILENET_V2_GMAC / (self.anchor_ms / 1e3)


MOBILENET_V2_GMAC = 0.300  # 300 M multiply-adds (Sandler et al. 2018, MobileNetV2, table 4)
ANCHORS = (
    BoardAnchor("Pi 4", 44.0, "XNNPACK README, Raspberry Pi table (BCM2711, 4 threads, Feb 2020)"),
    BoardAnchor("Pi 5", 10.9, "issue 12's anchor for the Pi 5 (4 threads); not re-measured here"),
)
# Speed-ups over FP32 assumed for the other precisions (estimates, to be replaced by `hipcam bench`
# on the board): FP16 needs ARMv8.2 (the Pi 5's Cortex-A76; the Pi 4's A72 has none); int8 runs anywhere.
PRECISION_SPEEDUP = {"fp32": 1.0, "fp16": 1.6, "int8": 1.6}
EFFICIENCY = 0.7  # share of MobileNet v2's MAC rate this graph reaches (its resizes, pads and adds)


def estimated_fps(config: Configuration, anchor: BoardAnchor, precision: str) -> float:
    return anchor.gmac_per_s * EFFICIENCY * PRECISION_SPEEDUP[precision] / config.gmac_per_frame


def estimates_table(configs: Iterable[Configuration]) -> str:
    configs = list(configs)
    head = f"{'configuration':<40}" + "".join(f"{a.board + ' ' + p:>12}" for a in ANCHORS for p in PRECISION_SPEEDUP)
    lines = ["estimated frames/s (model only, 4 threads):", head]
    for c in configs:
        cells = "".join(
            f"{'-' if p == 'fp16' and a.board == 'Pi 4' else f'{estimated_fps(c, a, p):.0f}':>12}"
            for a in ANCHORS
            for p in PRECISION_SPEEDUP
        )
        lines.append(f"{c.name:<40}{cells}")
    lines.append(f"assumptions: MobileNet v2 = {MOBILENET_V2_GMAC} GMAC; efficiency {EFFICIENCY:.0%} of its MAC rate;")
    lines.append(
        "  speed-up over FP32: " + ", ".join(f"{p} x{s}" for p, s in PRECISION_SPEEDUP.items()) + " (no FP16 on a Pi 4)"
    )
    lines += [
        f"  {a.board}: {a.anchor_ms} ms for MobileNet v2 = {a.gmac_per_s:.1f} GMAC/s ({a.source})" for a in ANCHORS
    ]
    return "\n".join(lines)
