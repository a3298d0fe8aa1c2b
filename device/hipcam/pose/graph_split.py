"""Cut a model's branch into its own graph, so that the branch runs only on the frames that need it.

BlazePose's segmentation mask is a decoder branch of its own. It reads two feature maps of the
shared network (128x128x16 and 64x64x48) and is about a third of the landmark model's time. The
live path needs the mask only on some frames (hipcam.gait.mask_schedule), so the model is split in
two:

- the **trunk**: every op the other outputs need, with the branch's input feature maps added as
  extra outputs;
- the **branch**: only the ops that just the branch output needs. Its inputs are those feature
  maps, and its graph holds only its own weights.

On a frame that needs the mask, the trunk's feature maps are copied into the branch and it runs.
The ops and weights are the same, so the outputs are the same as the complete graph's. Compared
with loading the complete graph beside the cut one, this keeps one copy of the shared weights.
Needs LiteRT's flatbuffer schema; without it (tflite-runtime) ``split_branch`` returns None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SplitGraphs:
    trunk: bytes
    branch: bytes
    links: tuple[str, ...]  # tensor names: trunk outputs = branch inputs, in the branch's input order


def _schema() -> tuple[Any, Any] | None:
    try:
        import flatbuffers
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        return None
    return flatbuffers, schema


def needed_ops(graph: Any, outputs: list[int]) -> set[int]:
    """The indices of the ops the given tensors of ``graph`` (a schema SubGraphT) depend on."""
    producer = {int(o): i for i, op in enumerate(graph.operators) for o in op.outputs}
    needed: set[int] = set()
    stack = list(outputs)
    while stack:
        op = producer.get(stack.pop())
        if op is not None and op not in needed:
            needed.add(op)
            stack.extend(int(t) for t in graph.operators[op].inputs if t >= 0)
    return needed


def _pack(flatbuffers: Any, tree: Any, size_hint: int) -> bytes:
    builder = flatbuffers.Builder(size_hint + 4096)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _keep_only(tree: Any, ops: set[int], inputs: list[int], outputs: list[int]) -> None:
    """Reduce the (only) graph to ``ops``, renumbering its tensors and emptying unused buffers."""
    graph = tree.subgraphs[0]
    kept_ops = [op for i, op in enumerate(graph.operators) if i in ops]
    used = sorted({int(t) for op in kept_ops for t in [*op.inputs, *op.outputs] if t >= 0} | {*inputs, *outputs})
    index = {old: new for new, old in enumerate(used)}
    for op in kept_ops:
        op.inputs = [index[int(t)] if t >= 0 else int(t) for t in op.inputs]
        op.outputs = [index[int(t)] for t in op.outputs]
    graph.operators = kept_ops
    graph.tensors = [graph.tensors[i] for i in used]
    graph.inputs, graph.outputs = [index[i] for i in inputs], [index[i] for i in outputs]
    live_buffers = {t.buffer for t in graph.tensors}
    for k, buffer in enumerate(tree.buffers):
        if k not in live_buffers:
            buffer.data = None  # weights of the ops left in the other graph


def split_branch(model: bytes, output: str) -> SplitGraphs | None:
    """The model cut into a trunk (every output but ``output``) and the branch computing ``output``."""
    found = _schema()
    if found is None or model[4:8] != b"TFL3":
        return None
    flatbuffers, schema = found
    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = tree.subgraphs[0]
    names = [t.name.decode() if isinstance(t.name, bytes) else str(t.name) for t in graph.tensors]
    wanted = [int(o) for o in graph.outputs if names[o] == output]
    others = [int(o) for o in graph.outputs if names[o] != output]
    if len(wanted) != 1 or not others:
        return None
    trunk_ops = needed_ops(graph, others)
    branch_ops = needed_ops(graph, wanted) - trunk_ops
    made_by_trunk = {int(o) for i in trunk_ops for o in graph.operators[i].outputs}
    links = sorted({int(t) for i in branch_ops for t in graph.operators[i].inputs if int(t) in made_by_trunk})
    if not links:
        return None
    branch_tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    _keep_only(branch_tree, branch_ops, links, wanted)
    _keep_only(tree, trunk_ops, [int(i) for i in graph.inputs], others + links)
    return SplitGraphs(
        _pack(flatbuffers, tree, len(model)),
        _pack(flatbuffers, branch_tree, len(model)),
        tuple(names[t] for t in links),
    )
