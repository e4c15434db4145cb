"""Op inventory of any .tflite file, read straight from the flatbuffer.

A small bounds-checked FlatBuffers reader for the handful of TFLite schema fields we
need (operator codes, subgraphs, tensors, operators, buffers). Every read is checked
against the file size and the total work is capped, so garbage, truncated or fuzzed
bytes end in a DocscanError, never a crash or a hang. Enum names (operators, tensor
types) come from the schema that ai-edge-litert ships, with a numeric fallback.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from docscan.convert import runtime_versions
from docscan.errors import DocscanError

MAX_WORK = 20_000_000   # elements read before we call a file pathological


class _Bad(Exception):
    pass


def _enum_names(cls_name: str) -> dict[int, str]:
    """Number -> name of one of the TFLite schema's enums (ai-edge-litert ships the schema)."""
    from ai_edge_litert import schema_py_generated as schema

    cls = getattr(schema, cls_name)
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


OP_NAMES = _enum_names("BuiltinOperator")
TYPE_NAMES = _enum_names("TensorType")


class _Reader:
    def __init__(self, buf: bytes):
        self.buf = buf
        self.n = len(buf)
        self.work = 0

    def _need(self, pos, size):
        if pos < 0 or pos + size > self.n:
            raise _Bad(f"offset {pos} (+{size}) is outside the file ({self.n} bytes)")

    def u8(self, pos):
        self._need(pos, 1)
        return self.buf[pos]

    def i8(self, pos):
        self._need(pos, 1)
        return struct.unpack_from("<b", self.buf, pos)[0]

    def u16(self, pos):
        self._need(pos, 2)
        return struct.unpack_from("<H", self.buf, pos)[0]

    def u32(self, pos):
        self._need(pos, 4)
        return struct.unpack_from("<I", self.buf, pos)[0]

    def i32(self, pos):
        self._need(pos, 4)
        return struct.unpack_from("<i", self.buf, pos)[0]

    def u64(self, pos):
        self._need(pos, 8)
        return struct.unpack_from("<Q", self.buf, pos)[0]

    def root(self):
        return self.u32(0)

    # -- tables -------------------------------------------------------------------
    def field_pos(self, table, i):
        """Absolute position of field ``i`` of the table at ``table``, or None if absent."""
        vt = table - self.i32(table)
        vt_size = self.u16(vt)
        if vt_size < 4 or vt_size % 2:
            raise _Bad(f"vtable at {vt} has a bad size {vt_size}")
        slot = 4 + 2 * i
        if slot + 2 > vt_size:
            return None
        off = self.u16(vt + slot)
        return table + off if off else None

    def scalar(self, table, i, fn, default):
        p = self.field_pos(table, i)
        return default if p is None else fn(p)

    def ref(self, table, i):
        p = self.field_pos(table, i)
        return None if p is None else p + self.u32(p)

    def vector(self, table, i, elem_size):
        """(start, length) of a vector field, or (0, 0) if absent."""
        v = self.ref(table, i)
        if v is None:
            return 0, 0
        length = self.u32(v)
        self._need(v + 4, length * elem_size)
        if elem_size > 1:          # byte vectors (weights) are measured, never walked
            self.work += length
        if self.work > MAX_WORK:
            raise _Bad("too many elements (pathological file)")
        return v + 4, length

    def int_vector(self, table, i):
        start, n = self.vector(table, i, 4)
        return list(struct.unpack_from(f"<{n}i", self.buf, start)) if n else []

    def tables(self, table, i):
        start, n = self.vector(table, i, 4)
        return [start + 4 * k + self.u32(start + 4 * k) for k in range(n)]

    def string(self, table, i):
        s = self.ref(table, i)
        if s is None:
            return None
        n = self.u32(s)
        self._need(s + 4, n)
        return self.buf[s + 4:s + 4 + n].decode("utf-8", "replace")


@dataclass
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: list[int]
    quantized: bool = False


@dataclass
class OpInfo:
    index: int
    subgraph: int
    op: str
    version: int
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    macs: int | None = None
    min_runtime: str | None = None


@dataclass
class Inventory:
    size_bytes: int
    schema_version: int
    subgraphs: int
    ops: list[OpInfo]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    weight_bytes: int
    description: str | None = None
    counts: dict = field(default_factory=dict)

    @property
    def total_macs(self) -> int:
        return sum(o.macs or 0 for o in self.ops)

    @property
    def min_runtime(self) -> str | None:
        return runtime_versions.max_version([o.min_runtime for o in self.ops])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["counts"] = dict(Counter(o.op for o in self.ops).most_common())
        d["total_macs"] = self.total_macs
        d["min_runtime"] = self.min_runtime
        return d


def _op_name(r: _Reader, code_table) -> str:
    deprecated = r.scalar(code_table, 0, r.i8, 0)
    builtin = r.scalar(code_table, 3, r.i32, 0)
    code = max(deprecated, builtin)
    if code == 32:  # CUSTOM
        custom = r.string(code_table, 1)
        return f"CUSTOM:{custom}" if custom else "CUSTOM"
    return OP_NAMES.get(code, f"BUILTIN_{code}")


def _tensor(r: _Reader, tables, idx) -> TensorInfo:
    if idx < 0:                 # optional input left out (e.g. no bias)
        return TensorInfo(idx, "", "NONE", [])
    if idx >= len(tables):
        raise _Bad(f"operator refers to tensor {idx}, the subgraph has {len(tables)}")
    t = tables[idx]
    dtype = r.scalar(t, 1, r.u8, 0)
    q = r.ref(t, 4)
    quantized = False
    if q is not None:
        _, n_scale = r.vector(q, 2, 4)
        quantized = n_scale > 0
    return TensorInfo(idx, r.string(t, 3) or "", TYPE_NAMES.get(dtype, f"TYPE_{dtype}"),
                      r.int_vector(t, 0), quantized)


def _prod(shape):
    p = 1
    for d in shape:
        if d < 0:
            return None
        p *= d
    return p


def op_macs(op: str, inputs: list[TensorInfo], outputs: list[TensorInfo]) -> int | None:
    """Multiply-accumulates of conv-like ops from tensor shapes; None where not defined."""
    try:
        if op == "CONV_2D":
            f = inputs[1].shape                       # [Cout, kh, kw, Cin/groups]
            out = _prod(outputs[0].shape)
            return None if out is None or len(f) != 4 else out * f[1] * f[2] * f[3]
        if op == "DEPTHWISE_CONV_2D":
            f = inputs[1].shape                       # [1, kh, kw, Cout]
            out = _prod(outputs[0].shape)
            return None if out is None or len(f) != 4 else out * f[1] * f[2]
        if op == "TRANSPOSE_CONV":
            f = inputs[1].shape                       # [Cout, kh, kw, Cin]
            x = _prod(inputs[2].shape)                # every input pixel scatters a kh*kw*Cout patch
            return None if x is None or len(f) != 4 else x * f[0] * f[1] * f[2]
        if op == "FULLY_CONNECTED":
            f = inputs[1].shape                       # [units, in]
            out = _prod(outputs[0].shape)
            return None if out is None or len(f) != 2 else out * f[1]
    except IndexError:
        return None
    return None


def read_inventory(data: bytes, source: str = "model") -> Inventory:
    """Parse .tflite bytes; any malformation raises DocscanError naming ``source``."""
    if len(data) < 8:
        raise DocscanError(f"{source}: not a TFLite model (only {len(data)} bytes)")
    if data[4:8] != b"TFL3":
        raise DocscanError(f"{source}: not a TFLite model (no 'TFL3' file identifier)")
    r = _Reader(data)
    try:
        model = r.root()
        version = r.scalar(model, 0, r.u32, 0)
        codes = r.tables(model, 1)
        subgraphs = r.tables(model, 2)
        if not subgraphs:
            raise _Bad("no subgraphs")
        description = r.string(model, 3)
        weight_bytes = 0
        for b in r.tables(model, 4):
            _, n = r.vector(b, 0, 1)
            weight_bytes += n or r.scalar(b, 2, r.u64, 0)
        ops, io_in, io_out = [], [], []
        for si, sg in enumerate(subgraphs):
            tensors = r.tables(sg, 0)
            if si == 0:
                io_in = [_tensor(r, tensors, i) for i in r.int_vector(sg, 1)]
                io_out = [_tensor(r, tensors, i) for i in r.int_vector(sg, 2)]
            for op_table in r.tables(sg, 3):
                code_idx = r.scalar(op_table, 0, r.u32, 0)
                if code_idx >= len(codes):
                    raise _Bad(f"operator uses opcode {code_idx}, the model has {len(codes)}")
                name = _op_name(r, codes[code_idx])
                ver = r.scalar(codes[code_idx], 2, r.i32, 1)
                ins = [_tensor(r, tensors, i) for i in r.int_vector(op_table, 1)]
                outs = [_tensor(r, tensors, i) for i in r.int_vector(op_table, 2)]
                ops.append(OpInfo(len(ops), si, name, ver, ins, outs, op_macs(name, ins, outs),
                                  runtime_versions.min_runtime(name, ver)))
    except (_Bad, struct.error, RecursionError, OverflowError, MemoryError) as exc:
        raise DocscanError(f"{source}: corrupt or truncated TFLite model ({exc})") from None
    return Inventory(len(data), version, len(subgraphs), ops, io_in, io_out, weight_bytes, description)


def inspect_file(path: str | Path) -> Inventory:
    p = Path(path)
    if not p.exists():
        raise DocscanError(f"{p}: no such file")
    if p.is_dir():
        raise DocscanError(f"{p}: is a directory, expected a .tflite file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DocscanError(f"{p}: cannot read ({exc.strerror})") from None
    return read_inventory(data, str(p))
