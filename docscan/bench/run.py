"""`docscan bench` as a library call: models x devices -> BenchReport.

Devices: ``host`` (ai-edge-litert here), ``emu:armv7`` / ``emu:aarch64`` (qemu-user in a
Debian rootfs with tflite-runtime 2.14.0), ``adb:SERIAL`` (a phone through
``docscan.bench.adb``, the official benchmark_model). Everything is checked before the
first run, so a typo in the last device string costs no minutes of benchmarking.
"""

from __future__ import annotations

import platform
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from docscan.bench import perop
from docscan.bench.emulated import Job
from docscan.bench.schema import BenchReport, ModelRun, OpTiming
from docscan.errors import DocscanError

# A 64-bit phone that also runs 32-bit code gives the seed's comparison on one device:
# -d adb:SERIAL/armeabi-v7a -d adb:SERIAL/arm64-v8a
PHONE_ABIS = ("armeabi-v7a", "arm64-v8a")


@dataclass(frozen=True)
class Device:
    spec: str        # as typed
    kind: str        # host | emulated | phone
    isa: str         # x86_64 / armv7 / aarch64 / "" (phone: known after connecting)
    serial: str = ""
    abi: str = ""    # phone: forced Android ABI (adb:SERIAL/armeabi-v7a), else the primary one


def parse_device(spec: str) -> Device:
    from docscan.bench.rootfs import get_isa

    s = spec.strip()
    if s == "host":
        return Device("host", "host", platform.machine() or "x86_64")
    if s.startswith("emu:"):
        return Device(f"emu:{get_isa(s[4:]).name}", "emulated", get_isa(s[4:]).name)
    if s.startswith("adb:"):
        serial, _, abi = s[4:].partition("/")
        if not serial:
            raise DocscanError(f"{spec}: adb device needs a serial (adb:SERIAL; see `adb devices`)")
        if abi and abi not in PHONE_ABIS:
            raise DocscanError(f"{spec}: unknown ABI {abi!r} (use adb:SERIAL/armeabi-v7a or adb:SERIAL/arm64-v8a)")
        return Device(s, "phone", "", serial, abi)
    raise DocscanError(f"{spec}: unknown device (use host, emu:armv7, emu:aarch64, adb:SERIAL "
                       "or adb:SERIAL/ABI)")


def check_models(models) -> list[Path]:
    paths = []
    for m in models:
        p = Path(m)
        if not p.is_file():
            raise DocscanError(f"{p}: no such model file")
        head = p.read_bytes()[:8]
        if len(head) < 8 or head[4:8] != b"TFL3":
            raise DocscanError(f"{p}: not a .tflite model (no TFL3 flatbuffer identifier)")
        paths.append(p)
    if not paths:
        raise DocscanError("no model given (docscan bench MODEL.tflite ... --device ...)")
    return paths


def run_bench(models, devices, runs: int = 10, warmup: int = 2, threads: int = 1, *, xnnpack: bool = True,
              per_op: bool = True, op_runs: int | None = None, seed: int = 0, progress: bool = True,
              command: str = "", phone: dict | None = None) -> BenchReport:
    """Benchmark every model on every device; per-op timings where ``per_op``.

    ``phone``: keyword arguments for ``docscan.bench.adb.run_on_phone`` (``binaries``: a
    config path or ABI -> path mapping; ``overrides``: ``ABI=PATH`` strings).
    """
    if runs < 1 or warmup < 0 or threads < 1:
        raise DocscanError(f"--runs {runs} / --warmup {warmup} / --threads {threads}: runs and threads "
                           "must be >= 1, warm-up >= 0")
    paths = check_models(models)
    devs = [parse_device(d) for d in (devices or ["host"])]
    if len({d.spec for d in devs}) != len(devs):
        raise DocscanError("the same --device is given twice")
    op_runs = op_runs or runs
    cuts = {}
    # Phones profile per op themselves (benchmark_model --enable_op_profiling).
    if per_op and any(d.kind != "phone" for d in devs):
        for p in paths:
            cuts[p] = perop.cut_ops(p.read_bytes(), str(p), seed)
    report_runs: list[ModelRun] = []
    ui = _Progress(progress)
    with ui, tempfile.TemporaryDirectory(prefix="docscan-bench-") as tmp:
        for d in devs:      # build missing rootfs first: a failed build costs no benchmark time
            if d.kind == "emulated":
                _ensure_device(d, ui)
        for d in devs:
            if d.kind == "phone":
                report_runs += [_phone(p, d, runs, warmup, threads, xnnpack, ui, phone or {}) for p in paths]
                continue
            for p in paths:
                jobs = [Job(p, "__whole__", runs, warmup)]
                pairs = perop.write_cuts(cuts[p], Path(tmp) / f"{p.stem}-{len(report_runs)}") if per_op else []
                jobs += [Job(path, f"op{c.index}", op_runs, 1) for c, path in pairs]
                result = ui.run(d, p, jobs, lambda cb: _backend(d, jobs, threads, xnnpack, seed, cb))
                report_runs.append(_to_run(d, p, result, cuts.get(p, []), runs, warmup, threads, xnnpack))
    return BenchReport(runs=report_runs, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       host=host_description(), command=command or shlex.join(sys.argv))


def host_description() -> str:
    from docscan.machine import host_cpu
    return f"{platform.node()}: {host_cpu()}, {platform.machine()}, Python {platform.python_version()}"


def _backend(d: Device, jobs, threads, xnnpack, seed, cb) -> dict:
    if d.kind == "host":
        from docscan.bench import host
        return host.run_jobs(jobs, threads=threads, xnnpack=xnnpack, seed=seed, progress=cb)
    from docscan.bench import emulated
    return emulated.run_jobs(d.isa, jobs, threads=threads, xnnpack=xnnpack, seed=seed, progress=cb)


def _ensure_device(d: Device, ui) -> None:
    from docscan.bench.rootfs import ensure_rootfs, get_isa, is_complete, rootfs_path

    if is_complete(rootfs_path(get_isa(d.isa))):
        return
    ensure_rootfs(d.isa, progress=ui.building(d))


def _phone(p: Path, d: Device, runs, warmup, threads, xnnpack, ui, phone: dict) -> ModelRun:
    try:
        from docscan.bench.adb import run_on_phone
    except ImportError:
        raise DocscanError(f"{d.spec}: phone support (docscan.bench.adb) is not in this build") from None
    ui.say(f"{d.spec}: {p.name}")
    run = run_on_phone(p, d.serial, phone.get("binaries"), threads=threads, runs=runs, warmup=warmup,
                       use_xnnpack=None if xnnpack else False, abi=d.abi or None,
                       overrides=phone.get("overrides"), progress=ui.say)
    run.device = d.spec     # keep the ABI suffix so 32- and 64-bit runs stay apart in tables
    return run


def _to_run(d: Device, p: Path, result: dict, cuts, runs, warmup, threads, xnnpack) -> ModelRun:
    res = result["results"]
    whole = res[0]
    if "error" in whole:
        raise DocscanError(f"{p}: failed on {d.spec}: {whole['error']}")
    ops: list[OpTiming] = []
    by_label = {r["label"]: r for r in res[1:]}
    failed = []
    for c in cuts:
        r = by_label.get(f"op{c.index}")
        if r is None or "error" in r:
            why = c.why_not or (r or {}).get("error", "not timed")
            failed.append(f"op {c.index} {c.op_type}: {why}")
            ops.append(OpTiming(c.op_type, 0.0, c.name, c.index, extra={"error": why}))
            continue
        lat = r["latency_ms"]
        ops.append(OpTiming(c.op_type, statistics.median(lat), c.name, c.index,
                            extra={"min_ms": min(lat), "max_ms": max(lat), "runs": len(lat)}))
    machine = result.get("machine", {})
    if d.kind == "emulated":
        from docscan.bench.emulated import describe
        where = describe(d.isa)
    else:
        from docscan.bench.host import describe
        where = describe()
    run = ModelRun(model=p.name, device=d.spec, device_kind=d.kind, isa=d.isa,
                   runtime=result.get("runtime", "?"), threads=threads, latency_ms=list(whole["latency_ms"]),
                   warmup=warmup, ops=ops, per_op_method=perop.METHOD if cuts else "", machine=where,
                   extra={"xnnpack": xnnpack, "python": machine.get("python", ""),
                          "numpy": machine.get("numpy", ""), "guest_machine": machine.get("machine", ""),
                          "model_path": str(p)})
    if d.kind == "emulated":
        run.notes.append("EMULATED: qemu-user translates ARM (and NEON) to x86; times are not phone times")
    if failed:
        run.notes.append(f"{len(failed)} op(s) could not be timed alone: " + "; ".join(failed[:5]))
    if cuts:
        total = sum(o.ms for o in ops)
        run.extra["per_op_sum_ms"] = total
        run.extra["per_op_gap_pct"] = 100.0 * (total - run.median_ms) / run.median_ms if run.median_ms else None
    return run


class _Progress:
    """A rich progress display for runs and rootfs builds; silent when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[note]}"), TimeElapsedColumn(), transient=False)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text)

    def building(self, d: Device):
        if self.bar is None:
            return lambda frac, text: None
        task = self.bar.add_task(f"building {d.spec} rootfs", total=100, note="")
        return lambda frac, text: self.bar.update(task, completed=int(frac * 100), note=text)

    def run(self, d: Device, p: Path, jobs, fn):
        label = f"{d.spec}{' (emulated)' if d.kind == 'emulated' else ''}: {p.name}"
        if self.bar is None:
            return fn(None)
        task = self.bar.add_task(label, total=len(jobs), note="")
        out = fn(lambda done, total, what: self.bar.update(task, completed=done, note=what))
        self.bar.update(task, completed=len(jobs), note="done")
        return out
