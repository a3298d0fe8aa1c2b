"""Graph edits the int8 build needs around Google's quantizer (``hipcam build-int8``).

MediaPipe's landmark model stores its weights as FP16 constants, each widened by a DEQUANTIZE op, and
has no SignatureDef; ai-edge-quantizer refuses both. ``prepare_for_quantizer`` folds every such
constant into an FP32 one (the values are exact: FP16 -> FP32 is lossless), drops the orphaned FP16
tensors and adds a ``serving_default`` signature. ``restore_output_names`` gives the quantized
model's float outputs back their original names (the quantizer renames them ``<name>_dequant``), so
the runtime addresses it exactly like the float model. Which ops stay float is decided here too, by
position in the graph, not by hand-copied tensor names.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils

SIGNATURE = "serving_default"
_DEQUANT_SUFFIX = b"_dequant"


def _read(model: bytes) -> Any:
    """The model as objects, with buffers kept after the flatbuffer (as the quantizer writes them,
    by offset and size) moved inside it, so that writing it back keeps them (and other tools can
    read it: hipcam.pose.runtime.prune_outputs)."""
    tree = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    for buffer in tree.buffers:
        if buffer.offset > 1:
            buffer.data = np.frombuffer(model, np.uint8, count=buffer.size, offset=buffer.offset)
            buffer.offset = buffer.size = 0
    return tree


def _write(model: Any) -> bytes:
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _opcode(model: Any, op: Any) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return int(max(code.builtinCode, code.deprecatedBuiltinCode))


def _fold_fp16_constant(model: Any, graph: Any, op: Any) -> bool:
    """Give a DEQUANTIZE's output the FP32 values of its constant FP16 input; False if it is not one."""
    source = graph.tensors[op.inputs[0]]
    buffer = model.buffers[source.buffer]
    if source.type != schema.TensorType.FLOAT16 or buffer.data is None or not len(buffer.data):
        return False
    values = np.frombuffer(bytes(buffer.data), np.float16).astype(np.float32)
    folded = schema.BufferT()
    folded.data = np.frombuffer(values.tobytes(), np.uint8)
    model.buffers.append(folded)
    graph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1
    buffer.data = None  # nothing reads the FP16 copy any more
    return True


def _drop_unused_tensors(graph: Any) -> None:
    """Renumber the tensors the ops and the graph still use (the quantizer reads every tensor)."""
    used = sorted(
        {i for op in graph.operators for i in [*op.inputs, *op.outputs] if i >= 0} | {*graph.inputs, *graph.outputs}
    )
    index = {old: new for new, old in enumerate(used)}
    graph.tensors = [graph.tensors[i] for i in used]
    for op in graph.operators:
        op.inputs = [index[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [index[i] for i in op.outputs]
    graph.inputs = [index[i] for i in graph.inputs]
    graph.outputs = [index[i] for i in graph.outputs]


def _signature(graph: Any) -> Any:
    def tensor_map(i: int) -> Any:
        entry = schema.TensorMapT()
        entry.name, entry.tensorIndex = graph.tensors[i].name.decode(), i
        return entry

    signature = schema.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = SIGNATURE, 0
    signature.inputs = [tensor_map(i) for i in graph.inputs]
    signature.outputs = [tensor_map(i) for i in graph.outputs]
    return signature


def prepare_for_quantizer(float_model: bytes) -> bytes:
    """The same network with FP32 constants instead of DEQUANTIZE'd FP16 ones, and a signature."""
    model = _read(float_model)
    graph = model.subgraphs[0]
    kept = [
        op
        for op in graph.operators
        if _opcode(model, op) != schema.BuiltinOperator.DEQUANTIZE or not _fold_fp16_constant(model, graph, op)
    ]
    graph.operators = kept
    _drop_unused_tensors(graph)
    model.signatureDefs = [_signature(graph)]
    return _write(model)


def restore_output_names(quantized_model: bytes) -> bytes:
    """``Identity_dequant`` -> ``Identity`` (the int8 tensor it reads from becomes ``Identity_int8``)."""
    model = _read(quantized_model)
    graph = model.subgraphs[0]
    by_name = {t.name: t for t in graph.tensors}
    for i in graph.outputs:
        tensor = graph.tensors[i]
        if tensor.name.endswith(_DEQUANT_SUFFIX):
            base = tensor.name[: -len(_DEQUANT_SUFFIX)]
            if base in by_name:
                by_name[base].name = base + b"_int8"
            tensor.name = base
    return _write(model)


def op_scopes(model: bytes) -> list[str]:
    """Each op's scope as the quantizer's recipes match it: its output tensors' names, ``;``-joined."""
    graph = _read(model).subgraphs[0]
    return ["".join(graph.tensors[o].name.decode() + ";" for o in op.outputs if o >= 0) for op in graph.operators]


def head_ops(model: bytes, outputs: tuple[str, ...]) -> list[int]:
    """The ops that only compute the named outputs: from each output back to a tensor other ops share."""
    graph = _read(model).subgraphs[0]
    producer = {o: k for k, op in enumerate(graph.operators) for o in op.outputs}
    readers: dict[int, int] = {}
    for op in graph.operators:
        for i in op.inputs:
            readers[i] = readers.get(i, 0) + 1
    wanted = {i for i in graph.outputs if graph.tensors[i].name.decode() in outputs}
    heads: set[int] = set()
    for tensor in wanted:
        while tensor in producer:
            k = producer[tensor]
            heads.add(k)
            tensor = graph.operators[k].inputs[0]
            if readers.get(tensor, 0) != 1:
                break
    return sorted(heads)
