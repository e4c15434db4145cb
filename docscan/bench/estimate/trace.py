"""Block traces of real inferences in the emulated ARM rootfs (qemu-user + ``blocks.c``).

The plugin is compiled from ``blocks.c`` (in this package) against ``qemu-plugin.h`` of
Debian's qemu source for exactly the installed qemu-user version, like the instruction
counter of ``docscan.regress.qemu_plugin``, and cached with a stamp naming that version
and the source's hash. Only a plugin that has traced a real guest program is cached.

One guest process loads each model in turn, runs a warm-up inference, then marks, runs
``invokes`` inferences and marks again: each model's segment holds the blocks run by its
timed inferences alone (start-up, imports, loading and warm-up fall into other segments).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from docscan.bench import device_runner
from docscan.errors import DocscanError
from docscan.paths import cache_dir
from docscan.progress import Progress, silent

SOURCE = Path(__file__).with_name("blocks.c")
LIB = "libdocscan_blocks.so"
MARK_FD = 0x7D0C5CA     # DOCSCAN_MARK_FD in blocks.c

# Runs inside the ARM rootfs (Debian's python3 3.11, numpy 1.24, tflite-runtime): no docscan, but
# device_runner.py beside it, so its inputs are the ones every other device is timed with.
GUEST_SCRIPT = r'''
import ctypes, glob, json, os, sys
import numpy as np
from device_runner import load_interpreter_class, make_input
Interpreter = load_interpreter_class()[0]
spec = json.load(open(sys.argv[1]))

def mark(i):
    try:
        os.lseek(%d, i, 0)
    except OSError:
        pass

def xnnpack_all():
    # The XNNPACK delegate with its quantized (QS8/QU8) paths on, as LiteRT applies it by
    # default; tflite-runtime 2.14's default delegate leaves int8 ops to the built-in kernels.
    import tflite_runtime
    try:
        lib = ctypes.CDLL(glob.glob(os.path.join(os.path.dirname(tflite_runtime.__file__),
                                                 "_pywrap_tensorflow_interpreter_wrapper*.so"))[0])
        create, default = lib.TfLiteXNNPackDelegateCreate, lib.TfLiteXNNPackDelegateOptionsDefault
    except (OSError, IndexError, AttributeError):
        return None
    class Opts(ctypes.Structure):
        _fields_ = [("num_threads", ctypes.c_int32), ("flags", ctypes.c_uint32), ("weights_cache", ctypes.c_void_p),
                    ("handle_variable_ops", ctypes.c_bool), ("spare", ctypes.c_uint8 * 64)]
    default.restype = Opts
    create.restype, create.argtypes = ctypes.c_void_p, [ctypes.POINTER(Opts)]
    opts = default()
    opts.flags |= 3                      # TFLITE_XNNPACK_DELEGATE_FLAG_QS8 | _QU8
    opts.num_threads = spec["threads"] if spec["threads"] > 1 else 0
    ptr = create(ctypes.byref(opts))
    if not ptr:
        return None
    class Delegate:
        def _get_native_delegate_pointer(self):
            return ptr
    return Delegate()

def interpreter_args():
    import tflite_runtime.interpreter as tfl
    bare = {"experimental_op_resolver_type": tfl.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    if spec["delegate"] == "none":
        return bare
    delegate = xnnpack_all() if spec["delegate"] == "xnnpack" else None
    return {"experimental_delegates": [delegate], **bare} if delegate is not None else {}

args = interpreter_args()
print("DOCSCAN-XNNPACK: " + ("none (built-in kernels only)" if spec["delegate"] == "none" else
                            "fp32 and int8 (QS8/QU8 on)" if args else "the runtime's default"))
for k, path in enumerate(spec["models"]):
    it = Interpreter(model_path=path, num_threads=spec["threads"], **interpreter_args())
    it.allocate_tensors()
    rng = np.random.RandomState(spec["seed"])
    for d in it.get_input_details():
        it.set_tensor(d["index"], make_input(d, rng))
    it.invoke()
    mark(2 * k + 1)
    for _ in range(spec["invokes"]):
        it.invoke()
    mark(2 * k + 2)
    del it
print("DOCSCAN-TRACE-DONE")
''' % MARK_FD


@dataclass(frozen=True)
class Block:
    vaddr: int
    sizes: tuple[int, ...]      # bytes per instruction
    code: bytes
    symbol: str = ""            # the ELF symbol qemu found for its first instruction ("" if none)

    @property
    def key(self) -> str:
        """What the costing cache keys on (the bytes; the mode and core are added there)."""
        return hashlib.sha1(self.code + bytes(self.sizes)).hexdigest()


@dataclass
class Trace:
    isa: str
    blocks: dict[int, Block]
    segments: list[dict[int, float]]       # per model: block -> executions per inference
    plugin: str = ""
    runtime: str = ""
    notes: list[str] = field(default_factory=list)

    def instructions(self, k: int) -> float:
        return sum(n * len(self.blocks[b].sizes) for b, n in self.segments[k].items())


def plugin_dir() -> Path:
    return cache_dir("estimate-plugin")


def _source_hash() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]


def plugin_path() -> Path | None:
    """The cached block plugin if it was built from today's blocks.c for the installed qemu."""
    from docscan.regress.qemu_plugin import built_plugin

    return built_plugin(plugin_dir(), LIB, source=_source_hash())


def ensure_plugin(smoke_root: Path, qemu_name: str, progress: Progress = silent) -> Path:
    """The block plugin, built first if needed (downloads Debian's qemu source once)."""
    from docscan.regress.qemu_plugin import build_plugin

    found = plugin_path()
    if found:
        return found

    def smoke(qemu: str, lib: Path, work: Path) -> None:
        out = work / "smoke.txt"
        proc = subprocess.run([qemu, "-plugin", f"{lib},out={out}", "-L", str(smoke_root),
                               str(Path(smoke_root) / "bin" / "true")], capture_output=True, text=True)
        if proc.returncode != 0 or not out.is_file() or "\nM 0" not in "\n" + out.read_text():
            raise DocscanError(f"qemu block plugin: built but traces nothing "
                               f"({(proc.stderr or proc.stdout).strip()[:200]})")

    return build_plugin(plugin_dir(), LIB, SOURCE, qemu_name, smoke, {"source": _source_hash()},
                        "docscan's qemu block plugin", progress)


def overlay_root(root: Path, folder: Path, cpuinfo: str) -> Path:
    """A guest prefix for ``qemu -L``: the rootfs's top-level entries as symlinks, plus ``/proc/cpuinfo``.

    qemu-user 7.2 does not emulate /proc/cpuinfo for ARM guests: the guest reads the host's
    (x86 here), so cpuinfo (used by XNNPACK and ruy to pick kernels) sees no ARM core, no
    MIDR, and on armv7 not even NEON. qemu looks every absolute guest path up under its
    ``-L`` prefix first, so a ``proc/cpuinfo`` file there is what the guest reads; other
    /proc paths fall through to the host's (or qemu's own /proc/self emulation).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for entry in sorted(Path(root).iterdir()):
        if entry.name != "proc":
            (folder / entry.name).symlink_to(entry)
    (folder / "proc").mkdir()
    (folder / "proc" / "cpuinfo").write_text(cpuinfo)
    return folder


def trace_models(models: list[Path], isa_name: str, *, qemu_cpu: str = "max", cpuinfo: str | None = None,
                 delegate: str = "xnnpack", threads: int = 1, invokes: int = 1, seed: int = 0,
                 progress: Progress = silent) -> Trace:
    """Block executions per inference of each model, in one guest process on ``isa_name``.

    ``qemu_cpu``: the CPU qemu emulates (its features: the HWCAPs the guest sees);
    ``cpuinfo``: the guest's /proc/cpuinfo (the MIDR there names the core, which decides
    the microarchitecture-tuned kernels XNNPACK and ruy pick); None: the host's, as qemu has it.
    ``delegate``: "xnnpack": the XNNPACK delegate with its QS8/QU8 paths on, as LiteRT applies
    it by default (tflite-runtime 2.14's own default leaves int8 ops to ruy, whose kernel
    choice in that build ignores the CPU: no dot product even on an A76); "default": the
    runtime's default; "none": built-in kernels only (ruy, optimized_ops). The armv7 wheel has
    no XNNPACK at all, so there every choice runs built-in kernels; ``Trace.notes`` says what ran.
    """
    from docscan.bench.rootfs import ensure_rootfs, get_isa
    from docscan.regress.instructions import guest_runtime
    from docscan.regress.qemu_plugin import qemu_binary

    if delegate not in ("xnnpack", "default", "none"):
        raise DocscanError(f"delegate {delegate!r}: use xnnpack, default or none")
    isa = get_isa(isa_name)
    paths = [Path(m).resolve() for m in models]
    for p in paths:
        if not p.is_file():
            raise DocscanError(f"{p}: no such model")
    qemu = qemu_binary(isa.qemu)
    root = ensure_rootfs(isa.name, progress=progress)
    plugin = ensure_plugin(root, isa.qemu, progress)
    lib = root / "usr" / "lib" / isa.triplet
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "HOME": "/tmp", "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2",
           "LD_LIBRARY_PATH": f"{lib / 'blas'}:{lib / 'lapack'}"}
    with tempfile.TemporaryDirectory(prefix="docscan-trace-") as tmp:
        tmp = Path(tmp)
        prefix = overlay_root(root, tmp / "root", cpuinfo) if cpuinfo is not None else root
        (tmp / "trace.py").write_text(GUEST_SCRIPT)
        shutil.copyfile(device_runner.__file__, tmp / "device_runner.py")
        (tmp / "spec.json").write_text(json.dumps({"models": [str(p) for p in paths], "threads": threads,
                                                   "invokes": invokes, "seed": seed,
                                                   "delegate": delegate}))
        out = tmp / "blocks.txt"
        argv = [qemu, "-cpu", qemu_cpu, "-plugin", f"{plugin},out={out}", "-L", str(prefix), str(root / "usr/bin/python3"),
                str(tmp / "trace.py"), str(tmp / "spec.json")]
        progress(f"core estimate: tracing {len(paths)} model(s) under qemu {isa.name}")
        proc = subprocess.run(argv, capture_output=True, text=True, env=env)
        if proc.returncode != 0 or "DOCSCAN-TRACE-DONE" not in proc.stdout:
            tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            raise DocscanError(f"emu:{isa.name}: inference under the block plugin failed: "
                               f"{(tail[-1] if tail else 'exit %d' % proc.returncode)[:300]}")
        blocks, segments = parse_blocks(out.read_text())
    per_model = []
    for k in range(len(paths)):
        seg = segments.get(2 * k + 2)
        if seg is None:
            raise DocscanError(f"{paths[k].name}: the block trace has no segment for it (plugin marker lost)")
        per_model.append({b: n / invokes for b, n in seg.items()})
    xnn = [ln.split(": ", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("DOCSCAN-XNNPACK: ")]
    notes = [f"XNNPACK delegate: {xnn[0] if xnn else 'unknown'}"]
    return Trace(isa.name, blocks, per_model, notes=notes, plugin=f"docscan blocks.c ({_source_hash()}), qemu -cpu {qemu_cpu}"
                 + (f", /proc/cpuinfo {cpuinfo_midr(cpuinfo)}" if cpuinfo is not None else ""),
                 runtime=guest_runtime(root))


def cpuinfo_midr(text: str) -> str:
    """'MIDR 0x410fd083' from a /proc/cpuinfo text (its first processor)."""
    f = dict(re.findall(r"^(CPU implementer|CPU variant|CPU part|CPU revision)\s*:\s*(\S+)", text, re.M))
    try:
        midr = (int(f["CPU implementer"], 16) << 24 | int(f["CPU variant"], 16) << 20 | 0xF << 16
                | int(f["CPU part"], 16) << 4 | int(f["CPU revision"]))
    except (KeyError, ValueError):
        return "MIDR ?"
    return f"MIDR 0x{midr:08x}"


def parse_blocks(text: str) -> tuple[dict[int, Block], dict[int, dict[int, int]]]:
    """The plugin's output: block definitions and per-segment execution counts."""
    blocks: dict[int, Block] = {}
    segments: dict[int, dict[int, int]] = {}
    current: dict[int, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        tag = parts[0]
        try:
            if tag == "C":
                current[int(parts[1])] = int(parts[2])
            elif tag == "D":
                symbol = parts[5] if len(parts) > 5 and parts[5] != "-" else ""
                blocks[int(parts[1])] = Block(int(parts[2], 16), tuple(int(c) for c in parts[3]),
                                              bytes.fromhex(parts[4]), symbol)
            elif tag == "M":
                segments[int(parts[1])] = current
                current = {}
        except (IndexError, ValueError):
            raise DocscanError(f"block trace: malformed line {line[:80]!r}") from None
    return blocks, segments
