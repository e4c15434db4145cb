"""Deterministic mode: instructions executed per inference, instead of wall time.

* ``host``: valgrind's callgrind runs a tiny inference script under the host interpreter
  (ai-edge-litert). Collection is toggled on only inside the runtime's Python binding
  ``InterpreterWrapper::Invoke`` and a profile is dumped after each call, so each dump is
  exactly one ``invoke()``: the last one is a steady-state inference (the first carries
  one-off set-up). Its per-function self costs give a per-kernel table.
* ``emu:armv7`` / ``emu:aarch64``: Debian's dynamic qemu-user with qemu's own
  instruction-counting TCG plugin (tests/plugin/insn.c, built on first use) runs the same
  script inside the emulated device's rootfs. The plugin counts the whole process, so the
  script runs twice, with 1 and 1+K timed invokes after a warm-up, and the difference is
  divided by K: start-up and import costs cancel (to ~0.02 %: the guest's start-up is not
  bit-for-bit repeatable, unlike callgrind's count inside Invoke). The guest sees a phone's
  CPU (``bench/devices/emulated.py``: an ARM /proc/cpuinfo and /sys cpu lists), and the
  count's ``tool`` and ``xnnpack`` say which kernels ran (XNNPACK applied or not, and why).

Same model, runtime and input -> the same count, run after run, whatever else the machine
does. What it sees: more arithmetic, more ops, worse kernels, extra copies, a runtime that
falls back to a slower path. What it cannot see: cache misses and memory bandwidth (an
instruction that waits 100 cycles counts once), multi-thread scaling and contention, CPU
frequency, and (under qemu) how a real core executes NEON: guest instructions are counted,
not cycles.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from docscan.errors import DocscanError
from docscan.machine import VALGRIND_FLAGS, host_cpu_flags
from docscan.progress import Progress, silent

# Runs on the host and inside the ARM rootfs (Debian's python3 3.11, numpy 1.24): no docscan.
GUEST_SCRIPT = r'''
import sys
import numpy as np
try:
    from tflite_runtime import interpreter as mod
except ImportError:
    from ai_edge_litert import interpreter as mod
invokes, threads, xnnpack = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
kw = {}
if not xnnpack:
    kw["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
try:
    from device_runner import xnnpack_status  # copied beside this script
except ImportError:
    xnnpack_status = None
for path in sys.argv[4:]:
    it = mod.Interpreter(model_path=path, num_threads=threads, **kw)
    it.allocate_tensors()
    if xnnpack_status is not None:
        print("DOCSCAN-XNNPACK:", xnnpack_status(it, xnnpack))
    rng = np.random.RandomState(0)
    for d in it.get_input_details():
        dt = np.dtype(d["dtype"])
        x = rng.rand(*d["shape"]) if dt.kind == "f" else rng.randint(-128, 128, size=d["shape"])
        it.set_tensor(d["index"], x.astype(dt))
    it.invoke()  # warm-up: lazy set-up (XNNPACK weight packing, arena) happens here
    for _ in range(invokes):
        it.invoke()
    del it
print("DOCSCAN-INVOKES-DONE", invokes)
'''

INVOKE_SYMBOLS = ("tflite::interpreter_wrapper::InterpreterWrapper::Invoke(int)",
                  "tflite::interpreter_wrapper::InterpreterWrapper::Invoke()")


@dataclass
class Count:
    device: str
    per_inference: int
    tool: str
    repeats: list[int] = field(default_factory=list)      # per-inference counts of the repeated invokes
    functions: dict[str, int] = field(default_factory=dict)  # per-function self cost of one inference (host)
    runtime: str = ""
    # Host: the x86 features that decide XNNPACK's kernels under valgrind (which hides
    # AVX-512); counts compare only between CPUs offering the same ones. None elsewhere.
    cpu_features: list[str] | None = None
    xnnpack: str = ""       # emulated: "applied (...)" / "not applied (why)" (device_runner.xnnpack_status)


def host_runtime() -> str:
    from importlib.metadata import version
    return f"ai-edge-litert {version('ai-edge-litert')}"


_CACHE: dict[tuple, Count] = {}


def count(model: str | Path, device: str = "host", *, threads: int = 1, xnnpack: bool = True,
          use_cache: bool = True, progress: Progress = silent) -> Count:
    """Instructions per inference of ``model`` on ``device`` (its ``count_instructions``).

    Host counts are cached per process by (file SHA-256, threads, variant): a count is a
    pure function of those, and ``count_host_many`` fills the cache for several models in
    one valgrind start-up. ``use_cache=False`` forces a fresh count (the gate's
    confirmation does, to prove the count repeats).
    """
    from docscan.bench.devices import parse_device

    return parse_device(device).count_instructions(Path(model), threads=threads, xnnpack=xnnpack,
                                                   use_cache=use_cache, progress=progress)


def _key(model, threads, xnnpack, invokes) -> tuple:
    import hashlib
    try:
        digest = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    except OSError:
        raise DocscanError(f"{model}: no such model") from None
    return digest, threads, xnnpack, invokes


def count_host(model, *, threads: int = 1, xnnpack: bool = True, invokes: int = 2, use_cache: bool = False) -> Count:
    """One model on the host (``use_cache``: a count this process already made, if any)."""
    key = _key(model, threads, xnnpack, invokes)
    if use_cache and key in _CACHE:
        return _CACHE[key]
    return count_host_many([model], threads=threads, xnnpack=xnnpack, invokes=invokes)[0]


def count_host_many(models, *, threads: int = 1, xnnpack: bool = True, invokes: int = 2) -> list[Count]:
    """Count several models in one valgrind process (its start-up dominates: ~10 s)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise DocscanError("valgrind: not installed (apt package valgrind; `make system-deps`)")
    if invokes < 2:
        raise DocscanError("instruction counting needs >= 2 invokes after the warm-up")
    paths = [Path(m).resolve() for m in models]
    for p in paths:
        if not p.is_file():
            raise DocscanError(f"{p}: no such model")
    with tempfile.TemporaryDirectory(prefix="docscan-callgrind-") as tmp:
        tmp = Path(tmp)
        script = tmp / "infer.py"
        script.write_text(GUEST_SCRIPT)
        out = tmp / "cg.out"
        argv = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
                "--toggle-collect=*InterpreterWrapper::Invoke*",
                *[f"--dump-after={s}" for s in INVOKE_SYMBOLS],
                # sys.executable, not a `python3` shim script: valgrind must see the real binary.
                sys.executable, str(script), str(invokes), str(threads), "1" if xnnpack else "0", *map(str, paths)]
        env = {**os.environ, "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
        proc = subprocess.run(argv, capture_output=True, text=True, env=env)
        names = ", ".join(p.name for p in paths)
        if proc.returncode != 0 or "DOCSCAN-INVOKES-DONE" not in proc.stdout:
            raise DocscanError(f"{names}: inference under callgrind failed: {_tail(proc.stderr)}")
        parts = sorted(tmp.glob("cg.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        # One dump per invoke, in order: per model a warm-up, then the counted ones; the
        # final dump at program exit is empty.
        totals = [(p, _total(p)) for p in parts]
        totals = [t for t in totals if t[1] > 0]
        per_model = 1 + invokes
        if len(totals) != per_model * len(paths):
            raise DocscanError(f"{names}: callgrind saw {len(totals)} invokes, expected {per_model * len(paths)} "
                               "(runtime's Invoke symbol not found?)")
        tool = f"valgrind callgrind {_valgrind_version()}, Ir inside InterpreterWrapper::Invoke, last of {invokes}"
        runtime = host_runtime()
        counts = []
        for i, p in enumerate(paths):
            mine = totals[i * per_model:(i + 1) * per_model]
            repeats = [t for _, t in mine[1:]]
            c = Count("host", repeats[-1], tool, repeats, parse_self_costs(mine[-1][0]), runtime,
                      host_cpu_flags(among=VALGRIND_FLAGS))
            _CACHE[_key(p, threads, xnnpack, invokes)] = c
            counts.append(c)
    return counts


def _valgrind_version() -> str:
    try:
        return subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip().split("-")[-1]
    except OSError:
        return "?"


def _total(path: Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    return 0


def parse_self_costs(path: Path) -> dict[str, int]:
    """Self instruction count per function from a callgrind dump (name compression handled)."""
    names: dict[str, str] = {}
    costs: dict[str, int] = defaultdict(int)
    current = None
    skip_next = False
    for line in path.read_text(errors="replace").splitlines():
        if not line:
            continue
        if line.startswith("fn="):
            current = _name(line[3:], names)
            continue
        if line.startswith("cfn=") or line.startswith("cfi=") or line.startswith("cfl="):
            if line.startswith("cfn="):
                _name(line[4:], names)
            continue
        if line.startswith("calls="):
            skip_next = True   # the next cost line is the call's inclusive cost
            continue
        first = line[0]
        if first.isdigit() or first in "+-*":
            if skip_next:
                skip_next = False
                continue
            fields = line.split()
            if current is not None and len(fields) > 1:
                costs[current] += int(fields[1])
    return dict(costs)


def _name(spec: str, names: dict[str, str]) -> str:
    m = re.match(r"\((\d+)\)(?: (.*))?$", spec)
    if not m:
        return spec
    if m.group(2) is not None:
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), spec)


def _tail(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and not ln.startswith("==")]
    return (lines[-1] if lines else "no output")[:300]


# --- emulated ARM: qemu insn plugin -------------------------------------------------------

def count_emulated(model, isa_name: str, *, threads: int = 1, xnnpack: bool = True, invokes: int = 3,
                   repeatability: bool = False, progress: Progress = silent) -> Count:
    from docscan.bench.rootfs import ensure_rootfs, get_isa
    from docscan.regress.qemu_plugin import ensure_plugin, parse_count, qemu_binary

    isa = get_isa(isa_name)
    model = Path(model).resolve()
    if not model.is_file():
        raise DocscanError(f"{model}: no such model")
    qemu = qemu_binary(isa.qemu)
    root = ensure_rootfs(isa.name, progress=progress)
    plugin = ensure_plugin(smoke_root=root, qemu_name=isa.qemu, progress=progress)
    lib = root / "usr" / "lib" / isa.triplet
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "HOME": "/tmp", "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2",
           # Debian's libblas.so.3 is an absolute symlink via /etc/alternatives (see bench/devices/emulated.py).
           "LD_LIBRARY_PATH": f"{lib / 'blas'}:{lib / 'lapack'}"}
    from docscan.bench import device_runner
    from docscan.bench.devices.emulated import guest_cpu_label, qemu_prefix

    seen: list[str] = []
    with tempfile.TemporaryDirectory(prefix="docscan-insn-") as tmp:
        script = Path(tmp) / "infer.py"
        script.write_text(GUEST_SCRIPT)
        shutil.copyfile(device_runner.__file__, Path(tmp) / "device_runner.py")
        # The guest sees a phone's CPU (ARM /proc/cpuinfo and /sys cpu lists), as in bench runs.
        prefix = qemu_prefix(root, Path(tmp) / "root", isa.name, threads)

        def run(n: int) -> int:
            argv = [qemu, "-plugin", str(plugin), "-d", "plugin", "-L", str(prefix), str(root / "usr/bin/python3"),
                    str(script), str(n), str(threads), "1" if xnnpack else "0", str(model)]
            proc = subprocess.run(argv, capture_output=True, text=True, env=env)
            if proc.returncode != 0 or "DOCSCAN-INVOKES-DONE" not in proc.stdout:
                raise DocscanError(f"emu:{isa.name}: {model.name}: inference under qemu failed: {_tail(proc.stderr)}")
            seen.extend(ln.split(": ", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("DOCSCAN-XNNPACK: "))
            return parse_count(proc.stdout + proc.stderr)

        # (long - short) / K per inference. With ``repeatability`` a third run gives two
        # independent single-inference increments, to show how well counts repeat.
        c1, c3 = run(1), run(1 + invokes)
        repeats = []
        if repeatability:
            c2 = run(2)
            repeats = [c2 - c1, round((c3 - c2) / max(invokes - 1, 1))]
    per = round((c3 - c1) / invokes)
    runtime = guest_runtime(root)
    status = seen[-1] if seen else "unknown"
    return Count(f"emu:{isa.name}", per, f"qemu {_qemu_version(qemu)} insn plugin, guest instructions "
                 f"((N={1 + invokes}) - (N=1)) / {invokes}; guest /proc/cpuinfo {guest_cpu_label(threads)}; "
                 f"XNNPACK {status}", repeats, {}, runtime, xnnpack=status)


def guest_runtime(root: Path) -> str:
    from docscan.bench.rootfs import read_marker
    marker = read_marker(root) or {}
    return marker.get("runtime") or f"tflite-runtime {marker.get('tflite_runtime', '2.14.0')}"


def _qemu_version(qemu: str) -> str:
    try:
        first = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        return first.split("version", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"
