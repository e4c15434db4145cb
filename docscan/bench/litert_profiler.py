"""Per-op timings from LiteRT's own profiler (``libLiteRt.so`` C API, ai-edge-litert 2.3), via ctypes.

The Python wrapper has no binding to the profiler (see ``perop.py``), but ``libLiteRt.so``
exports the CompiledModel C API with one: runtime options ``enable_profiling = true``
(opaque options ``runtime_options_string``, a TOML payload) make the compiled model own a
profiler; ``LiteRtStartProfiler`` then records, per run, one event per XNNPACK operator
(``DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT``, metadata1 = operator index) inside the one
delegate node, plus TFLite-node events for any op XNNPACK does not take. The headers are not
shipped; the signatures below follow LiteRT's public ``litert/c`` headers of that release and
were checked against this .so (e.g. ``LiteRtCreateModelFromFile`` takes the environment
first; the event record is 104 bytes because the C++ ``MemoryUsage`` it embeds is 32 bytes,
not the 16 the C header's mirror declares).

XNNPACK operators are mapped back to the model's operators by order: when every pair is a
known XNNPACK-for-TFLite pairing (1x1 CONV_2D runs as a "Fully Connected" GEMM,
CONCATENATION as "Copy", ...) each row gets the TFLite op index and type; otherwise rows keep
the XNNPACK name only and ``mapped`` is False, never a guessed mapping. The one gap allowed:
an elementwise op with no event of its own (XNNPACK fuses a MUL or ADD by a constant into
its neighbour, e.g. a weighted sum's bias) gets a 0 us row, named in the notes; its time is
inside the neighbour's.

The measuring part (``measure``) needs only the standard library and ``libLiteRt.so``: this
file is copied beside ``device_runner.py`` into emulated aarch64 root filesystems and run
there (ai-edge-litert's aarch64 wheel, unpacked by ``devices/emulated.py``), so nothing at
module level may import docscan or numpy. Mapping events to the model's ops (``profile``)
reads the model with docscan's flatbuffer schema, on the host.

Inputs: every input buffer is zero-filled once (the same on every device); XNNPACK's
kernels do not branch on values, so timings do not depend on them.
"""

from __future__ import annotations

import contextlib
import ctypes as C
import importlib.util
import os
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    from docscan.errors import DocscanError
except ImportError:      # inside an emulated device, beside device_runner.py: no docscan there
    class DocscanError(Exception):
        """A one-line error (docscan's own class on the host)."""

METHOD = ("LiteRT CompiledModel profiler (libLiteRt.so C API via ctypes, enable_profiling runtime "
          "option): per-operator events of the real run, mean over the profiled runs whose total is in "
          "the middle half")

_EVENT_SIZE = 104            # checked: tag ptr, type, start, elapsed, 2x32-byte MemoryUsage, 2 metadata, source
_OPERATOR_INVOKE = 2         # TFLite node run by the interpreter itself (metadata1 = node index)
_DELEGATE_PROFILED = 8       # XNNPACK operator inside the delegate node (metadata1 = xnn op index)
_HW_CPU = 1
_NEEDED = ("LiteRtCreateEnvironment", "LiteRtCreateModelFromFile", "LiteRtCreateOptions",
           "LiteRtSetOptionsHardwareAccelerators", "LiteRtCreateOpaqueOptions", "LiteRtAddOpaqueOptions",
           "LiteRtCreateCompiledModel", "LiteRtGetModelSignature", "LiteRtGetNumSignatureInputs",
           "LiteRtGetNumSignatureOutputs", "LiteRtGetSignatureInputTensorByIndex",
           "LiteRtGetSignatureOutputTensorByIndex", "LiteRtGetRankedTensorType",
           "LiteRtGetCompiledModelInputBufferRequirements", "LiteRtGetCompiledModelOutputBufferRequirements",
           "LiteRtCreateManagedTensorBufferFromRequirements", "LiteRtRunCompiledModel",
           "LiteRtCompiledModelGetProfiler", "LiteRtStartProfiler", "LiteRtStopProfiler", "LiteRtResetProfiler",
           "LiteRtGetNumProfilerEvents", "LiteRtGetProfilerEvents")
_OPTIONAL = ("LiteRtLockTensorBuffer", "LiteRtUnlockTensorBuffer", "LiteRtGetTensorBufferSize")
_LOCK_WRITE = 1              # kLiteRtTensorBufferLockModeWrite
_VOID = ("LiteRtDestroyTensorBuffer", "LiteRtDestroyCompiledModel", "LiteRtDestroyOptions",
         "LiteRtDestroyModel", "LiteRtDestroyEnvironment")

# Which TFLite op types an XNNPACK operator name (its prefix) can stand for.
_XNN_TO_TFLITE = {
    "Convolution": {"CONV_2D", "DEPTHWISE_CONV_2D"},
    "Fully Connected": {"CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL"},
    "Deconvolution": {"TRANSPOSE_CONV"},
    "Add": {"ADD"}, "Multiply": {"MUL"}, "Subtract": {"SUB"}, "Divide": {"DIV"},
    "Mean": {"MEAN"}, "Sigmoid": {"LOGISTIC"}, "Resize Bilinear": {"RESIZE_BILINEAR"},
    "Copy": {"CONCATENATION", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PAD"},
    "Concatenate": {"CONCATENATION"}, "Max Pooling": {"MAX_POOL_2D"}, "Average Pooling": {"AVERAGE_POOL_2D"},
    "Clamp": {"RELU", "RELU6", "RELU_N1_TO_1"}, "Softmax": {"SOFTMAX"}, "Transpose": {"TRANSPOSE"},
    "Convert": {"QUANTIZE", "DEQUANTIZE"}, "Constant Pad": {"PAD"}, "HardSwish": {"HARD_SWISH"},
    "Leaky ReLU": {"LEAKY_RELU"}, "Tanh": {"TANH"},
    "Depth To Space": {"DEPTH_TO_SPACE"}, "Space To Depth": {"SPACE_TO_DEPTH"},
    # a binary op with a static scalar operand, rewritten by XNNPACK as a unary op that this
    # release's name table lacks
    "Invalid Unary Op": {"MUL", "ADD", "SUB", "DIV"},
}


@dataclass(frozen=True)
class OpEvent:
    """One operator's profiled time (median over the profiled runs)."""
    position: int            # order in the run
    runtime_name: str        # what the runtime calls it ("Convolution (NHWC, F32) IGEMM", or the TFLite type)
    delegated: bool          # run by XNNPACK inside its delegate node
    us: float
    op_index: int | None = None      # the model's operator index, when mapped
    op_type: str | None = None       # the model's op type, when mapped
    median_us: float | None = None   # its median over all profiled runs (``us``: see ``measure``)


@dataclass
class Profile:
    model: str
    ops: list[OpEvent]
    mapped: bool                     # every row has the model's op index and type
    whole_ms: list[float]            # unprofiled whole runs, wall clock around LiteRtRunCompiledModel
    profiled_invoke_ms: list[float]  # the runtime's own "Invoke" span in each profiled run
    run_sum_ms: list[float] = field(default_factory=list)   # operator events added up, per profiled run
    method: str = METHOD
    notes: list[str] = field(default_factory=list)
    runtime: str = ""

    @property
    def per_op_sum_ms(self) -> float:
        return sum(o.us for o in self.ops) / 1000.0

    @property
    def whole_median_ms(self) -> float:
        return statistics.median(self.whole_ms)


def library_path(explicit: str | Path | None = None) -> Path:
    """``libLiteRt.so``: ``explicit`` where given, else the one in the importable ai_edge_litert
    package (found without importing it: its ``__init__`` pulls in far more than ctypes needs)."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise DocscanError(f"LiteRT profiler: {path} is missing")
        return path
    spec = importlib.util.find_spec("ai_edge_litert")
    if spec is None or not spec.origin:
        raise DocscanError("LiteRT profiler: ai-edge-litert is not installed (pip install ai-edge-litert==2.3.0)")
    path = Path(spec.origin).parent / "libLiteRt.so"
    if not path.is_file():
        raise DocscanError(f"LiteRT profiler: {path} is missing (ai-edge-litert 2.3 ships it; reinstall it)")
    return path


def runtime_label(lib_path: str | Path | None = None) -> str:
    """"ai-edge-litert VERSION (CompiledModel C API)" for reports; the version from the
    installed distribution, else from a ``*.dist-info`` folder beside the package."""
    version = "?"
    try:
        from importlib.metadata import version as dist_version
        if lib_path is None:
            version = dist_version("ai-edge-litert")
    except Exception:  # noqa: BLE001 - only a label
        pass
    if version == "?":
        where = library_path(lib_path).parent.parent
        found = sorted(where.glob("ai_edge_litert-*.dist-info"))
        if found:
            version = found[0].name[len("ai_edge_litert-"):-len(".dist-info")]
    return f"ai-edge-litert {version} (CompiledModel C API)"


_LIBS: dict[str, C.CDLL] = {}


def _lib(explicit: str | Path | None = None) -> C.CDLL:
    key = str(library_path(explicit))
    if key not in _LIBS:
        lib = C.CDLL(key)
        missing = [n for n in _NEEDED + _VOID if not hasattr(lib, n)]
        if missing:
            raise DocscanError(f"LiteRT profiler: libLiteRt.so lacks {', '.join(missing)} (needs ai-edge-litert 2.3)")
        for n in _NEEDED + tuple(n for n in _OPTIONAL if hasattr(lib, n)):
            getattr(lib, n).restype = C.c_int
        for n in _VOID:
            getattr(lib, n).restype = None
        _LIBS[key] = lib
    return _LIBS[key]


def _call(lib, name: str, *args) -> None:
    status = getattr(lib, name)(*args)
    if status != 0:
        raise DocscanError(f"LiteRT profiler: {name} failed with LiteRtStatus {status}")


_NOOP = C.CFUNCTYPE(None, C.c_void_p)(lambda _p: None)   # payload stays owned by Python (kept alive below)


@contextlib.contextmanager
def _runtime_chatter():
    """libLiteRt.so logs INFO/WARNING lines (accelerator registry, environment) straight to fd 2
    on every model it compiles and frees, with no C API to quiet it: those lines are dropped,
    anything else it says is passed on."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = [ln for ln in sink.read().decode(errors="replace").splitlines(keepends=True)
                    if ln.strip() and not ln.startswith(("INFO: ", "WARNING: "))]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _Compiled:
    """Environment, model, profiling-enabled CPU compiled model and its buffers; freed on close."""

    def __init__(self, path: Path, lib_path: str | Path | None = None):
        with _runtime_chatter():
            self._open(path, lib_path)

    def _open(self, path: Path, lib_path: str | Path | None) -> None:
        self.lib = lib = _lib(lib_path)
        P = C.c_void_p
        self.env, self.model, self.opts, self.cm = P(), P(), P(), P()
        self._buffers: list = []
        _call(lib, "LiteRtCreateEnvironment", C.c_int(0), None, C.byref(self.env))
        try:
            _call(lib, "LiteRtCreateModelFromFile", self.env, str(path).encode(), C.byref(self.model))
            _call(lib, "LiteRtCreateOptions", C.byref(self.opts))
            _call(lib, "LiteRtSetOptionsHardwareAccelerators", self.opts, C.c_int(_HW_CPU))
            self._payload = C.create_string_buffer(b"enable_profiling = true\n")
            opaque = P()
            _call(lib, "LiteRtCreateOpaqueOptions", b"runtime_options_string", C.cast(self._payload, P),
                  _NOOP, C.byref(opaque))
            _call(lib, "LiteRtAddOpaqueOptions", self.opts, opaque)
            _call(lib, "LiteRtCreateCompiledModel", self.env, self.model, self.opts, C.byref(self.cm))
            sig = P()
            _call(lib, "LiteRtGetModelSignature", self.model, C.c_size_t(0), C.byref(sig))
            self.ins = self._make(sig, "Input")
            self.outs = self._make(sig, "Output")
            self.prof = P()
            _call(lib, "LiteRtCompiledModelGetProfiler", self.cm, C.byref(self.prof))
            if not self.prof.value:
                raise DocscanError("LiteRT profiler: the compiled model has no profiler (enable_profiling ignored)")
        except BaseException:
            self._close()
            raise

    def _make(self, sig, kind: str):
        lib, P = self.lib, C.c_void_p
        n = C.c_size_t()
        _call(lib, f"LiteRtGetNumSignature{kind}s", sig, C.byref(n))
        made = []
        for i in range(n.value):
            tensor, req, buf = P(), P(), P()
            _call(lib, f"LiteRtGetSignature{kind}TensorByIndex", sig, C.c_size_t(i), C.byref(tensor))
            # LiteRtRankedTensorType is only passed back to the runtime, never read: an
            # over-sized opaque block avoids mirroring its bit-field layout.
            ttype = C.create_string_buffer(512)
            _call(lib, "LiteRtGetRankedTensorType", tensor, ttype)
            _call(lib, f"LiteRtGetCompiledModel{kind}BufferRequirements", self.cm, C.c_size_t(0),
                  C.c_size_t(i), C.byref(req))
            _call(lib, "LiteRtCreateManagedTensorBufferFromRequirements", self.env, ttype, req, C.byref(buf))
            made.append(buf)
            self._buffers.append(buf)
            if kind == "Input":
                self._zero(buf)
        return (P * len(made))(*made), len(made)

    def _zero(self, buf) -> None:
        """Zero-fill an input buffer (managed buffers start with whatever memory held)."""
        lib = self.lib
        if not all(hasattr(lib, n) for n in _OPTIONAL):
            return
        size, addr = C.c_size_t(), C.c_void_p()
        _call(lib, "LiteRtGetTensorBufferSize", buf, C.byref(size))
        _call(lib, "LiteRtLockTensorBuffer", buf, C.byref(addr), C.c_int(_LOCK_WRITE))
        try:
            if addr.value and size.value:
                C.memset(addr, 0, size.value)
        finally:
            _call(lib, "LiteRtUnlockTensorBuffer", buf)

    def run(self) -> None:
        (ins, ni), (outs, no) = self.ins, self.outs
        _call(self.lib, "LiteRtRunCompiledModel", self.cm, C.c_size_t(0), C.c_size_t(ni), ins,
              C.c_size_t(no), outs)

    def events(self) -> list[tuple[str, int, int, int]]:
        """(tag, event type, elapsed us, metadata1) of every event since the last reset."""
        lib = self.lib
        n = C.c_int()
        _call(lib, "LiteRtGetNumProfilerEvents", self.prof, C.byref(n))
        if n.value <= 0:
            return []
        raw = C.create_string_buffer(n.value * _EVENT_SIZE)
        _call(lib, "LiteRtGetProfilerEvents", self.prof, n, raw)
        data, out = raw.raw, []
        for i in range(n.value):
            base = i * _EVENT_SIZE
            tag, etype = struct.unpack_from("<Qi", data, base)
            elapsed, = struct.unpack_from("<Q", data, base + 24)
            meta1, = struct.unpack_from("<q", data, base + 80)
            out.append((C.string_at(tag).decode(errors="replace") if tag else "", etype, elapsed, meta1))
        return out

    def close(self) -> None:
        with _runtime_chatter():
            self._close()

    def _close(self) -> None:
        lib = self.lib
        for b in self._buffers:
            lib.LiteRtDestroyTensorBuffer(b)
        self._buffers = []
        for name, handle in (("LiteRtDestroyCompiledModel", self.cm), ("LiteRtDestroyOptions", self.opts),
                             ("LiteRtDestroyModel", self.model), ("LiteRtDestroyEnvironment", self.env)):
            if handle.value:
                getattr(lib, name)(handle)
                handle.value = None


def _compatible(xnn_name: str, op_type: str) -> bool:
    for prefix, types in _XNN_TO_TFLITE.items():
        if xnn_name.startswith(prefix):
            return op_type in types
    return False


def _run_ops(events) -> list[tuple[str, bool, int]]:
    """The operator events of one run, in order: (name, delegated, elapsed us)."""
    return [(tag, etype == _DELEGATE_PROFILED, us) for tag, etype, us, _ in events
            if etype in (_OPERATOR_INVOKE, _DELEGATE_PROFILED)]


def measure(path: str | Path, runs: int = 50, warmup: int = 5, lib_path: str | Path | None = None,
            progress=None) -> dict:
    """Whole-model wall times and per-operator profiler times of one .tflite (standalone part).

    Returns {"latency_ms": [unprofiled whole runs], "invoke_ms": [profiled "Invoke" spans],
    "run_sum_ms": [operator events' sum in each profiled run], "ops": [[runtime name,
    delegated, us, median us], ...]} in run order. ``progress(label, done, total)`` after
    each profiled run, where given.

    An op's ``us`` is its mean over the profiled runs whose total (the ops of the run added
    up) lies in the middle half of all runs' totals, so the ops add up to a typical run, as
    the whole-model median is one. A sum of per-op medians does not: on a loaded host each
    op's median drops the preemptions that every whole run has somewhere (measured here at
    load 6 on 2 cores: -35% to -53% against the whole median, while the run totals stayed
    within 3% of it and covered 99.5% of each run's own "Invoke" span). Medians are kept too.
    """
    path = Path(path)
    if not path.is_file():
        raise DocscanError(f"{path}: no such model")
    cm = _Compiled(path, lib_path)
    try:
        for _ in range(warmup):
            cm.run()
        # Unprofiled and profiled runs alternate so load drift on a shared host hits both alike.
        whole, per_run, invoke_ms = [], [], []
        for i in range(runs):
            t0 = time.perf_counter()
            cm.run()
            whole.append((time.perf_counter() - t0) * 1000.0)
            # Reset also stops the profiler (checked: no events otherwise), so restart it each run.
            _call(cm.lib, "LiteRtResetProfiler", cm.prof)
            _call(cm.lib, "LiteRtStartProfiler", cm.prof)
            cm.run()
            _call(cm.lib, "LiteRtStopProfiler", cm.prof)
            ev = cm.events()
            per_run.append(_run_ops(ev))
            invoke_ms += [us / 1000.0 for tag, et, us, _ in ev if tag == "Invoke" and et == 1]
            if progress:
                progress("profiled runs", i + 1, runs)
    finally:
        cm.close()
    shape = [(n, d) for n, d, _ in per_run[0]]
    if any([(n, d) for n, d, _ in r] != shape for r in per_run):
        raise DocscanError(f"{path}: the profiler's operator list changed between runs")
    run_sum = [sum(us for _, _, us in r) / 1000.0 for r in per_run]
    central = _middle_half(per_run, run_sum)
    ops = [[name, delegated, sum(r[k][2] for r in central) / len(central),
            float(statistics.median(r[k][2] for r in per_run))]
           for k, (name, delegated) in enumerate(shape)]
    return {"latency_ms": whole, "invoke_ms": invoke_ms, "run_sum_ms": run_sum, "ops": ops}


def _middle_half(per_run: list, totals: list[float]) -> list:
    """The runs whose total lies between the lower and upper quartile (all of them under 4)."""
    if len(per_run) < 4:
        return per_run
    q1, _, q3 = statistics.quantiles(totals, n=4)
    return [r for r, t in zip(per_run, totals) if q1 <= t <= q3] or per_run


# --- host side: the model's ops (docscan's flatbuffer reader) ---------------------------

def model_ops(path: Path) -> list[tuple[str, str]]:
    """(op type, first output tensor's name) of each op of subgraph 0, in execution order."""
    from docscan.bench import perop
    model = perop.load_model(path.read_bytes(), str(path))
    sub = model.subgraphs[0]
    out = []
    for op in sub.operators or []:
        name = ""
        if op.outputs is not None and len(op.outputs):
            raw = sub.tensors[int(op.outputs[0])].name
            name = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw or "")
        out.append((perop.op_type_of(model.operatorCodes[op.opcodeIndex]).split(":")[0], name))
    return out


def map_ops(raw_ops: list, op_types: list[str]) -> tuple[list[OpEvent], bool, list[str]]:
    """``measure``'s op rows as ``OpEvent``s, mapped in order to the model's op types where every
    pair is a known XNNPACK-for-TFLite pairing, elementwise ops XNNPACK fused away getting 0 us
    rows (see the module doc); (events, mapped, notes)."""
    shape = [(str(row[0]), bool(row[1])) for row in raw_ops]
    match = _align(shape, op_types)
    if match is None:
        ops = [OpEvent(k, str(row[0]), bool(row[1]), float(row[2]), None, None,
                       float(row[3]) if len(row) > 3 else float(row[2])) for k, row in enumerate(raw_ops)]
        return ops, False, [f"{len(shape)} profiled operators vs {len(op_types)} model ops: not mapped to op types"]
    ops, fused = [], []
    for j, t in enumerate(op_types):
        k = match[j]
        if k is None:
            ops.append(OpEvent(len(ops), FUSED, True, 0.0, j, t, 0.0))
            fused.append(f"{j} {t}")
            continue
        row = raw_ops[k]
        ops.append(OpEvent(len(ops), str(row[0]), bool(row[1]), float(row[2]), j, t,
                           float(row[3]) if len(row) > 3 else float(row[2])))
    notes = [f"no profiler event for op {', '.join(fused)}: XNNPACK fused it into a neighbouring operator, "
             "whose time includes it (0 us here)"] if fused else []
    return ops, True, notes


FUSED = "(fused into a neighbour by XNNPACK)"
_FUSABLE = {"ADD", "MUL", "SUB", "DIV"}


def _align(shape: list[tuple[str, bool]], op_types: list[str]) -> list[int | None] | None:
    """Per model op, the index of its event (None: an elementwise op fused away), events and
    ops both in order; None when no such alignment exists."""
    n, m = len(shape), len(op_types)
    if n > m:
        return None

    def pairs(k, j):
        name, delegated = shape[k]
        return (not delegated and name == op_types[j]) or (delegated and _compatible(name, op_types[j]))

    # ok[k][j]: events k.. align with ops j..; matching is preferred over skipping
    ok = [[False] * (m + 1) for _ in range(n + 1)]
    ok[n][m] = True
    for j in range(m - 1, -1, -1):
        ok[n][j] = ok[n][j + 1] and op_types[j] in _FUSABLE
    for k in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            ok[k][j] = (pairs(k, j) and ok[k + 1][j + 1]) or (op_types[j] in _FUSABLE and ok[k][j + 1])
    if not ok[0][0]:
        return None
    match, k = [], 0
    for j in range(m):
        if k < n and pairs(k, j) and ok[k + 1][j + 1]:
            match.append(k)
            k += 1
        else:
            match.append(None)
    return match


def _op_types(path: Path) -> list[str]:
    return [t for t, _ in model_ops(path)]


def profile(path: str | Path, runs: int = 50, warmup: int = 5, progress=None) -> Profile:
    """Whole-model wall times and per-operator profiler times of one .tflite on the host CPU."""
    path = Path(path)
    if not path.is_file():
        raise DocscanError(f"{path}: no such model")
    op_types = _op_types(path)
    raw = measure(path, runs, warmup, progress=progress)
    ops, mapped, notes = map_ops(raw["ops"], op_types)
    return Profile(str(path), ops, mapped, raw["latency_ms"], raw["invoke_ms"], raw["run_sum_ms"], notes=notes,
                   runtime=runtime_label())


def time_whole(path: str | Path, runs: int = 50, warmup: int = 5, lib_path: str | Path | None = None) -> list[float]:
    """Wall ms of each run of a .tflite through the same C API loop (used to time one-op cuts alike)."""
    cm = _Compiled(Path(path), lib_path)
    try:
        for _ in range(warmup):
            cm.run()
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            cm.run()
            out.append((time.perf_counter() - t0) * 1000.0)
        return out
    finally:
        cm.close()
