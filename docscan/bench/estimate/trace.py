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

import functools
import hashlib
import json
import platform
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

GUEST = Path(__file__).with_name("trace_guest.py")


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

    if delegate not in ("xnnpack", "default", "none"):
        raise DocscanError(f"delegate {delegate!r}: use xnnpack, default or none")
    isa = get_isa(isa_name)
    paths = [Path(m).resolve() for m in models]
    for p in paths:
        if not p.is_file():
            raise DocscanError(f"{p}: no such model")
    root = ensure_rootfs(isa.name, progress=progress)
    lib = root / "usr" / "lib" / isa.triplet
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "HOME": "/tmp", "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2",
           "LD_LIBRARY_PATH": f"{lib / 'blas'}:{lib / 'lapack'}"}
    spec = {"models": [str(p) for p in paths], "threads": threads, "invokes": invokes, "seed": seed,
            "delegate": delegate, "mark_fd": MARK_FD}
    proc = run_traced(isa, root, GUEST, spec, env, qemu_cpu=qemu_cpu, cpuinfo=cpuinfo,
                      extra_files=(Path(device_runner.__file__),), progress=progress,
                      what=f"core estimate: tracing {len(paths)} model(s) under qemu {isa.name}")
    if proc.returncode != 0 or "DOCSCAN-TRACE-DONE" not in proc.stdout:
        raise DocscanError(f"emu:{isa.name}: inference under the block plugin failed: {proc.failure()}")
    blocks, segments = proc.blocks, proc.segments
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


@dataclass
class TracedRun:
    """A guest Python script run under qemu with the block plugin: its output and trace."""
    returncode: int
    stdout: str
    stderr: str
    blocks: dict = field(default_factory=dict)      # block id -> Block (empty when the run left no trace)
    segments: dict = field(default_factory=dict)    # marker segment -> {block id: executions}

    def failure(self) -> str:
        """The last non-empty line of the guest's stderr (else stdout), or its exit status."""
        for text in (self.stderr, self.stdout):
            lines = [ln for ln in text.strip().splitlines() if ln.strip()]
            if lines:
                return lines[-1][:300]
        return f"exit {self.returncode}"

    def report(self, begin: str, end: str, failed: str) -> dict:
        """The JSON the guest printed between ``begin`` and ``end`` on stdout; a one-line
        DocscanError, ``failed`` and the guest's last line, when it failed or printed none."""
        i, j = self.stdout.find(begin), self.stdout.find(end)
        if self.returncode != 0 or i < 0 or j < 0:
            raise DocscanError(f"{failed}: {self.failure()}")
        return json.loads(self.stdout[i + len(begin):j])


def run_traced(isa, root: Path, script: Path, spec: dict, env: dict, *, qemu_cpu: str | None = None,
               cpuinfo: str | None = None, extra_files: tuple[Path, ...] = (), progress: Progress = silent,
               what: str = "") -> TracedRun:
    """Run ``script`` (copied beside ``extra_files`` and its ``spec.json``, its one argument)
    with ``root``'s python3 under qemu-user for ``isa`` and docscan's block plugin: the one
    way every traced guest starts. ``qemu_cpu``: qemu's ``-cpu``; ``cpuinfo``: the guest's
    /proc/cpuinfo (an overlay of ``root``). qemu runs without address randomisation
    (``no_aslr``), so the same run gives the same counts (but for what reads the clock
    inside: ruy re-resolves its tuning every 250 ms of wall time)."""
    from docscan.regress.qemu_plugin import qemu_binary

    qemu = qemu_binary(isa.qemu)
    plugin = ensure_plugin(root, isa.qemu, progress)
    with tempfile.TemporaryDirectory(prefix="docscan-trace-") as tmp:
        tmp = Path(tmp)
        prefix = overlay_root(root, tmp / "root", cpuinfo) if cpuinfo is not None else root
        shutil.copyfile(script, tmp / script.name)
        for f in extra_files:
            shutil.copyfile(f, tmp / f.name)
        (tmp / "spec.json").write_text(json.dumps(spec))
        out = tmp / "blocks.txt"
        argv = [*no_aslr(), qemu, *(["-cpu", qemu_cpu] if qemu_cpu else []), "-plugin", f"{plugin},out={out}",
                "-L", str(prefix), str(root / "usr/bin/python3"), str(tmp / script.name), str(tmp / "spec.json")]
        if what:
            progress(what)
        proc = subprocess.run(argv, capture_output=True, text=True, env=env)
        run = TracedRun(proc.returncode, proc.stdout, proc.stderr)
        if proc.returncode == 0 and out.is_file():   # a failed run's trace may be cut short
            run.blocks, run.segments = parse_blocks(out.read_text())
    return run


@functools.cache
def no_aslr() -> tuple[str, ...]:
    """``setarch -R``: the host's address randomisation moves qemu's guest memory, and with it
    the alignment of numpy's and OpenCV's buffers, which changes how many iterations their
    vector loops peel: ~0.05 % run to run without it (the pipeline's counts)."""
    setarch = shutil.which("setarch")
    if setarch is None or subprocess.run([setarch, platform.machine(), "-R", "true"], capture_output=True).returncode:
        return ()
    return (setarch, platform.machine(), "-R")


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
