"""`docscan bench` as a library call: models x devices -> BenchReport.

Devices (``docscan.bench.devices``): ``host`` (ai-edge-litert here), ``emu:armv7`` /
``emu:aarch64`` (qemu-user in a Debian rootfs with tflite-runtime 2.14.0), ``adb:SERIAL``
(a phone, the official benchmark_model). Everything is checked before the first run, so
a typo in the last device string costs no minutes of benchmarking.
"""

from __future__ import annotations

import dataclasses
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

from docscan.bench import perop
from docscan.bench.devices import RunSettings, parse_device, resolve_per_op_method
from docscan.bench.schema import BenchReport, ModelRun
from docscan.errors import DocscanError
from docscan.machine import describe_host
from docscan.progress import Progress, silent


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
        raise DocscanError("no model given")
    return paths


def run_bench(models, devices, runs: int = 10, warmup: int = 2, threads: int = 1, *, xnnpack: bool = True,
              per_op: bool = True, op_runs: int | None = None, seed: int = 0, progress: Progress = silent,
              command: str = "", phone: dict | None = None, per_op_method: str = "cuts") -> BenchReport:
    """Benchmark every model on every device; per-op timings where ``per_op``.

    ``devices``: specs (``host``, ``emu:armv7``, ``adb:SERIAL`` ...; default host).
    ``phone``: settings for phones (``binaries``: a config path or ABI -> path mapping;
    ``overrides``: ``ABI=PATH`` strings). ``progress``: see ``docscan.progress`` (a false
    value is silent too). ``per_op_method``: ``cuts`` (one-op models), ``profiler`` (LiteRT's
    own, an error on a device without it) or ``auto`` (the profiler where the device has it,
    else cuts, said in the run's notes); each run records the method it used.
    """
    progress = progress or silent
    if runs < 1 or warmup < 0 or threads < 1:
        raise DocscanError(f"runs {runs} / warm-up {warmup} / threads {threads}: runs and threads "
                           "must be >= 1, warm-up >= 0")
    paths = check_models(models)
    devs = [parse_device(d, {"phone": phone or {}}) for d in (devices or ["host"])]
    if len({d.spec for d in devs}) != len(devs):
        raise DocscanError("the same device is given twice")
    settings = RunSettings(runs=runs, warmup=warmup, threads=threads, xnnpack=xnnpack, seed=seed, per_op=per_op,
                           op_runs=op_runs)
    per_device = {}
    for d in devs:          # every method settled (and refused) before anything runs
        method, note = resolve_per_op_method(d, per_op_method, settings) if per_op else ("", "")
        per_device[d.spec] = dataclasses.replace(settings, per_op_method=method or "cuts", per_op_note=note)
    _like_with_like(devs, per_device)
    cuts = {}
    if per_op and any(per_device[d.spec].per_op_method == "cuts" for d in devs):
        cuts = {p: perop.cut_ops(p.read_bytes(), str(p), seed) for p in paths}
    for d in devs:          # set-up first (a rootfs build): a failed one costs no benchmark time
        d.prepare(progress)
        if per_device[d.spec].per_op_method == "profiler":
            d.prepare_profiler(progress)
    report_runs: list[ModelRun] = []
    with tempfile.TemporaryDirectory(prefix="docscan-bench-") as tmp:
        for d in devs:
            for p in paths:
                scratch = Path(tmp) / f"{p.stem}-{len(report_runs)}"
                mine = cuts.get(p, []) if per_device[d.spec].per_op_method == "cuts" else []
                report_runs.append(d.bench_model(p, per_device[d.spec], mine, scratch, progress))
    return BenchReport(runs=report_runs, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       host=host_description(), command=command or shlex.join(sys.argv))


def _like_with_like(devs, per_device: dict) -> None:
    """32 vs 64 bit compares one method and one runtime: where "auto" left one ISA of a kind
    (emu:armv7, which has no LiteRT profiler) on cuts, its 64-bit partner uses cuts too, said so."""
    for kind in {d.kind for d in devs}:
        same = [d for d in devs if d.kind == kind and d.isa in ("armv7", "aarch64")]
        fell_back = [d for d in same if per_device[d.spec].per_op_note]
        if not fell_back or len({d.isa for d in same}) < 2:
            continue
        for d in same:
            if per_device[d.spec].per_op_method == "profiler":
                note = (f"per-op method: one-op cuts, not the LiteRT profiler, so that 32/64 compares like with like "
                        f"({fell_back[0].spec} has none)")
                per_device[d.spec] = dataclasses.replace(per_device[d.spec], per_op_method="cuts", per_op_note=note)


def host_description() -> str:
    """The machine that ran docscan, for a report's ``host`` field."""
    return f"{platform.node()}: {describe_host()}, Python {platform.python_version()}"
