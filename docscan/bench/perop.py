"""Per-op timings where the runtime offers none to Python: one-op models cut from the real one.

Neither tflite-runtime 2.14's nor ai-edge-litert 2.3's Python ``Interpreter`` exposes an
op profiler: the wrapper's methods are AllocateTensors/Invoke/tensor access only; the .so
holds ``tflite::Subgraph::SubgraphAwareProfiler`` and ``Interpreter::SetProfiler`` but no
binding reaches them, and the only knob, ``experimental_force_delegate_node_profiling``
(ai-edge-litert), matters once a profiler is installed, which Python cannot do. So each operator of the
model's main subgraph is cut out as a
model of its own, keeping its op code and version, builtin options, tensor shapes, dtypes,
quantisation parameters and constant buffers (weights) byte for byte; its runtime inputs
become the one-op model's inputs. Integer/bool runtime inputs (shapes, indices) are frozen
to the values they take in a host run of the full model, so data-dependent ops stay valid.
Each one-op model is then timed on the same device, by the same loop, as the full model.

What this cannot see, and what the per-op-sum-vs-whole gap measures: per-invoke overhead
paid once per op instead of once per model, caches warmed by running one op in a loop,
and anything a delegate (XNNPACK) fuses across ops.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docscan.errors import DocscanError

METHOD = ("one-op models cut from the .tflite (same op, options, shapes, dtypes, quantisation, "
          "weights), each timed on the same device by the same loop; median per op")
NO_CUT = {"WHILE", "IF", "CALL_ONCE", "CALL", "CUSTOM"}   # ops that need other subgraphs or code


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


def _op_names() -> dict[int, str]:
    s = _schema()
    return {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


@dataclass
class OneOp:
    index: int
    op_type: str
    name: str             # first output tensor's name
    data: bytes | None    # the one-op model, or None where it cannot be cut
    why_not: str = ""


def load_model(data: bytes, source: str = "model"):
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise DocscanError(f"{source}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        return _schema().ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as exc:  # noqa: BLE001 - a corrupt flatbuffer raises anything
        raise DocscanError(f"{source}: cannot read the TFLite flatbuffer ({type(exc).__name__})") from None


def op_type_of(code) -> str:
    builtin = max(int(code.builtinCode or 0), int(code.deprecatedBuiltinCode or 0))
    name = _op_names().get(builtin, f"OP_{builtin}")
    if name == "CUSTOM" and code.customCode:
        return "CUSTOM:" + _s(code.customCode)
    return name


def _s(b) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, (bytes, bytearray)) else str(b or "")


def _has_data(buf) -> bool:
    return buf is not None and buf.data is not None and len(buf.data) > 0


def runtime_values(data: bytes, wanted: set[int], seed: int = 0) -> dict[int, np.ndarray]:
    """Values of tensors ``wanted`` in a host run of the full model on the runner's input."""
    if not wanted:
        return {}
    from ai_edge_litert.interpreter import Interpreter

    from docscan.bench.device_runner import make_input

    interp = Interpreter(model_content=data, experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    rng = np.random.RandomState(seed)
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], make_input(d, rng))
    interp.invoke()
    return {i: np.array(interp.get_tensor(i)) for i in wanted}


def cut_ops(data: bytes, source: str = "model", seed: int = 0) -> list[OneOp]:
    """Every operator of subgraph 0 as a one-op .tflite (in execution order)."""
    s = _schema()
    model = load_model(data, source)
    if not model.subgraphs:
        raise DocscanError(f"{source}: the model has no subgraph")
    sub = model.subgraphs[0]
    buffers = model.buffers or []
    tensors = sub.tensors or []

    def const(t: int) -> bool:
        b = tensors[t].buffer
        return 0 <= b < len(buffers) and _has_data(buffers[b])

    # Integer runtime inputs (shape arithmetic, indices) are frozen to their real values.
    frozen = set()
    for op in sub.operators or []:
        for t in _ids(op.inputs):
            if not const(t) and tensors[t].type in (s.TensorType.INT32, s.TensorType.INT64, s.TensorType.BOOL) \
                    and t not in _ids(sub.inputs):
                frozen.add(t)
    try:
        values = runtime_values(data, frozen, seed)
    except Exception:  # noqa: BLE001 - then those inputs stay random; the op may fail and say so
        values = {}

    out = []
    for i, op in enumerate(sub.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        op_type = op_type_of(code)
        name = _s(tensors[op.outputs[0]].name) if op.outputs is not None and len(op.outputs) else ""
        if op_type.split(":")[0] in NO_CUT:
            out.append(OneOp(i, op_type, name, None, f"{op_type} needs other subgraphs or custom code"))
            continue
        out.append(OneOp(i, op_type, name, _one_op_model(s, model, sub, op, code, const, values)))
    return out


def _ids(arr) -> list[int]:
    return [int(t) for t in (arr if arr is not None else []) if int(t) >= 0]


def _one_op_model(s, model, sub, op, code, const, values) -> bytes:
    import flatbuffers

    new_buffers = [s.BufferT()]           # buffer 0 is the conventional empty one
    new_tensors, remap = [], {}

    def add_tensor(t: int) -> int:
        if t in remap:
            return remap[t]
        tensor = copy.copy(sub.tensors[t])
        if const(t):
            src = model.buffers[tensor.buffer]
            buf = s.BufferT()
            buf.data = src.data
            new_buffers.append(buf)
            tensor.buffer = len(new_buffers) - 1
        elif t in values:
            buf = s.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(values[t]).tobytes(), dtype=np.uint8)
            new_buffers.append(buf)
            tensor.buffer = len(new_buffers) - 1
        else:
            tensor.buffer = 0
        new_tensors.append(tensor)
        remap[t] = len(new_tensors) - 1
        return remap[t]

    new_op = copy.copy(op)
    new_op.opcodeIndex = 0
    new_op.inputs = [add_tensor(int(t)) if int(t) >= 0 else -1 for t in (op.inputs if op.inputs is not None else [])]
    new_op.outputs = [add_tensor(int(t)) for t in (op.outputs if op.outputs is not None else [])]
    if op.intermediates is not None and len(op.intermediates):
        new_op.intermediates = [add_tensor(int(t)) for t in op.intermediates]
    inputs = []
    for t in _ids(op.inputs):
        nt = remap[t]
        if new_tensors[nt].buffer == 0 and nt not in inputs and not new_tensors[nt].isVariable:
            inputs.append(nt)

    g = s.SubGraphT()
    g.tensors, g.operators = new_tensors, [new_op]
    g.inputs, g.outputs = inputs, list(new_op.outputs)
    g.name = b"docscan_one_op"
    m = s.ModelT()
    m.version = model.version
    m.operatorCodes = [copy.copy(code)]
    m.subgraphs = [g]
    m.buffers = new_buffers
    m.description = b"docscan per-op cut"
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def write_cuts(cuts: list[OneOp], folder: Path) -> list[tuple[OneOp, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for c in cuts:
        if c.data is None:
            continue
        p = folder / f"op{c.index:04d}_{c.op_type.replace(':', '_')}.tflite"
        p.write_bytes(c.data)
        out.append((c, p))
    return out

