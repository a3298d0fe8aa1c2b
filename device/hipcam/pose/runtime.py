"""The only module that touches the TFLite interpreter (LiteRT, else the older tflite-runtime).

A ``TfliteModel`` is opened and allocated once. The hot path writes straight into the input
tensor and reads outputs as views (no copies): call ``input_view()``, fill it, drop it, ``invoke()``,
then read ``output_view(name)`` and drop the views before the next ``invoke()``. The interpreter
refuses to run while a view into its buffers is alive, which is why views are never cached.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from hipcam.errors import AssetError
from hipcam.pose.graph_split import needed_ops


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise AssetError(
                "no TFLite interpreter installed: `pip install ai-edge-litert` (or tflite-runtime on older Pis)"
            ) from None
    return Interpreter


def prune_outputs(model: bytes, drop: tuple[str, ...]) -> bytes:
    """The model without the named outputs and the operators that only they need.

    The kept outputs are computed by the very same operators and weights, so they are bit-identical;
    BlazePose's segmentation branch is about a quarter of the landmark model's time. Needs LiteRT's
    flatbuffer schema; without it (tflite-runtime) the model is returned whole.
    """
    try:
        import flatbuffers
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        return model
    if model[4:8] != b"TFL3":
        return model  # not a TFLite flatbuffer: let the interpreter say so
    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = tree.subgraphs[0]
    names = [t.name.decode() if isinstance(t.name, bytes) else str(t.name) for t in graph.tensors]
    outputs = [int(o) for o in graph.outputs if names[o] not in drop]
    needed = needed_ops(graph, outputs)
    graph.operators = [op for i, op in enumerate(graph.operators) if i in needed]
    graph.outputs = outputs
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null for a moment.

    The runtime's C++ logging ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") writes to
    the descriptor directly, below sys.stderr, and cannot be configured from Python. Only model
    loading is wrapped; errors still arrive as exceptions and become one-line AssetErrors.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class TfliteModel:
    """One .tflite model, allocated once, with inputs and outputs addressed by tensor name.

    ``drop_outputs`` removes outputs nobody reads, and the work only they need, before loading.
    ``content``: the model's bytes as already read (and changed, e.g. hipcam.pose.precision's FP16
    hint) from ``path``, which then only names it in messages.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        num_threads: int = 2,
        drop_outputs: tuple[str, ...] = (),
        content: bytes | None = None,
    ) -> None:
        p = Path(path)
        if content is None and not p.is_file():
            raise AssetError(f"{p}: missing; run `hipcam fetch`")
        interpreter_class = _interpreter_class()
        content = p.read_bytes() if content is None else content
        if not content:
            raise AssetError(f"{p}: empty file; run `hipcam fetch`")
        try:
            if drop_outputs:
                content = prune_outputs(content, drop_outputs)
            with _native_stderr_silenced():
                self._interp = interpreter_class(model_content=content, num_threads=num_threads)
                self._interp.allocate_tensors()
        except (IndexError, TypeError, struct.error):
            raise AssetError(f"{p}: not a usable TFLite model (truncated or corrupt); run `hipcam fetch`") from None
        except (ValueError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            raise AssetError(f"{p}: not a usable TFLite model ({reason}); run `hipcam fetch`") from None
        self.path = p
        inputs = self._interp.get_input_details()
        if not inputs:
            raise AssetError(f"{p}: the model has no input tensor")
        self._inputs: dict[str, int] = {d["name"]: d["index"] for d in inputs}
        self._input_index: int = inputs[0]["index"]
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in inputs[0]["shape"])
        self.input_dtype = np.dtype(inputs[0]["dtype"])
        self._outputs: dict[str, int] = {d["name"]: d["index"] for d in self._interp.get_output_details()}

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(self._outputs)

    def input_view(self, name: str | None = None) -> np.ndarray:
        """A writable view of the (first, or named) input tensor; release it before ``invoke()``."""
        index = self._input_index if name is None else self._inputs[name]
        view: np.ndarray = self._interp.tensor(index)()
        return view

    def output_view(self, name: str) -> np.ndarray:
        """A read-only view of an output tensor; valid until the next ``invoke()``."""
        try:
            index = self._outputs[name]
        except KeyError:
            raise AssetError(f"{self.path}: has no output {name!r} (outputs: {', '.join(self._outputs)})") from None
        view: np.ndarray = self._interp.tensor(index)()
        return view

    def invoke(self) -> None:
        self._interp.invoke()

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Convenience path (tests, tools): set the input, invoke, return copies of all outputs."""
        self._interp.set_tensor(self._input_index, np.asarray(x, dtype=self.input_dtype).reshape(self.input_shape))
        self._interp.invoke()
        return {name: self._interp.get_tensor(index) for name, index in self._outputs.items()}
