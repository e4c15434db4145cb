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
import json, os, sys
import numpy as np
from device_runner import load_interpreter_class, make_input
Interpreter = load_interpreter_class()[0]
spec = json.load(open(sys.argv[1]))

def mark(i):
    try:
        os.lseek(%d, i, 0)
    except OSError:
        pass

for k, path in enumerate(spec["models"]):
    it = Interpreter(model_path=path, num_threads=spec["threads"])
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


def trace_models(models: list[Path], isa_name: str, *, qemu_cpu: str = "max", threads: int = 1, invokes: int = 1,
                 seed: int = 0, progress: Progress = silent) -> Trace:
    """Block executions per inference of each model, in one guest process on ``isa_name``.

    ``qemu_cpu``: the CPU qemu emulates (its features decide which kernels XNNPACK picks).
    """
    from docscan.bench.rootfs import ensure_rootfs, get_isa
    from docscan.regress.instructions import guest_runtime
    from docscan.regress.qemu_plugin import qemu_binary

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
        (tmp / "trace.py").write_text(GUEST_SCRIPT)
        shutil.copyfile(device_runner.__file__, tmp / "device_runner.py")
        (tmp / "spec.json").write_text(json.dumps({"models": [str(p) for p in paths], "threads": threads,
                                                   "invokes": invokes, "seed": seed}))
        out = tmp / "blocks.txt"
        argv = [qemu, "-cpu", qemu_cpu, "-plugin", f"{plugin},out={out}", "-L", str(root), str(root / "usr/bin/python3"),
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
    return Trace(isa.name, blocks, per_model, plugin=f"docscan blocks.c ({_source_hash()}), qemu -cpu {qemu_cpu}",
                 runtime=guest_runtime(root))


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
