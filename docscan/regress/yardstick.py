"""A fixed reference workload, timed interleaved with the model under test.

A shared CI machine changes speed from minute to minute (other jobs, frequency, noisy
neighbours). Timing the model alternately with a workload that never changes, in the same
process on the same device, and keeping the ratio model/yardstick cancels most of that
common-mode drift. The yardstick is a small TFLite model (two 3x3 convolutions) written
here byte for byte with the flatbuffer schema, so it is identical everywhere with no
TensorFlow and no binary in the repository.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

SIZE, CH = 64, 16
# Spatial sizes on offer. The gate picks the one whose time (and so working set) is
# closest to the model's when the baseline is made, and keeps it for every later check:
# cache and memory-bandwidth contention from other jobs then hits both alike.
SIZES = (32, 48, 64, 96, 128, 192, 256)


def yardstick_bytes(size: int = SIZE) -> bytes:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    rng = np.random.RandomState(1234)
    buffers = [s.BufferT()]

    def buffer(arr: np.ndarray) -> int:
        b = s.BufferT()
        b.data = np.frombuffer(np.ascontiguousarray(arr, dtype=np.float32).tobytes(), dtype=np.uint8)
        buffers.append(b)
        return len(buffers) - 1

    def tensor(name: str, shape, buf: int = 0):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), s.TensorType.FLOAT32, buf
        return t

    act = (1, size, size, CH)
    tensors = [tensor("input", act),
               tensor("w1", (CH, 3, 3, CH), buffer(rng.standard_normal((CH, 3, 3, CH)) * 0.1)),
               tensor("b1", (CH,), buffer(np.zeros(CH))),
               tensor("x1", act),
               tensor("w2", (CH, 3, 3, CH), buffer(rng.standard_normal((CH, 3, 3, CH)) * 0.1)),
               tensor("b2", (CH,), buffer(np.zeros(CH))),
               tensor("output", act)]
    ops = []
    for ins, out in (([0, 1, 2], 3), ([3, 4, 5], 6)):
        op = s.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, ins, [out]
        opt = s.Conv2DOptionsT()
        opt.padding, opt.strideW, opt.strideH = s.Padding.SAME, 1, 1
        opt.fusedActivationFunction = s.ActivationFunctionType.RELU
        op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.Conv2DOptions, opt
        ops.append(op)
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.CONV_2D
    code.version = 1
    g = s.SubGraphT()
    g.tensors, g.operators, g.inputs, g.outputs, g.name = tensors, ops, [0], [6], b"yardstick"
    m = s.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, [code], [g], buffers
    m.description = b"docscan latency yardstick"
    builder = flatbuffers.Builder(4096)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def write_yardstick(folder: str | Path, size: int = SIZE) -> tuple[Path, str]:
    """Write the yardstick model into ``folder``; (path, sha256 prefix)."""
    data = yardstick_bytes(size)
    path = Path(folder) / f"docscan-yardstick-{size}.tflite"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()[:16]


def pick_size(model_ms: float, ms_at_default: float) -> int:
    """The yardstick size whose time is nearest the model's (cost grows with size squared)."""
    import math
    want = SIZE * math.sqrt(max(model_ms, 1e-6) / max(ms_at_default, 1e-6))
    return min(SIZES, key=lambda s: abs(math.log(s / want)))
