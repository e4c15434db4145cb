"""`docscan bench` as a library call: models x devices -> BenchReport.

Devices (``docscan.bench.devices``): ``host`` (ai-edge-litert here), ``emu:armv7`` /
``emu:aarch64`` (qemu-user in a Debian rootfs with tflite-runtime 2.14.0), ``adb:SERIAL``
(a phone, the official benchmark_model). Everything is checked before the first run, so
a typo in the last device string costs no minutes of benchmarking.
"""

from __future__ import annotations

import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

from docscan.bench import perop
from docscan.bench.devices import RunSettings, parse_device
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
              command: str = "", phone: dict | None = None) -> BenchReport:
    """Benchmark every model on every device; per-op timings where ``per_op``.

    ``devices``: specs (``host``, ``emu:armv7``, ``adb:SERIAL`` ...; default host).
    ``phone``: settings for phones (``binaries``: a config path or ABI -> path mapping;
    ``overrides``: ``ABI=PATH`` strings). ``progress``: see ``docscan.progress`` (a false
    value is silent too).
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
    cuts = {}
    if per_op and not all(d.profiles_ops for d in devs):
        cuts = {p: perop.cut_ops(p.read_bytes(), str(p), seed) for p in paths}
    for d in devs:          # set-up first (a rootfs build): a failed one costs no benchmark time
        d.prepare(progress)
    report_runs: list[ModelRun] = []
    with tempfile.TemporaryDirectory(prefix="docscan-bench-") as tmp:
        for d in devs:
            for p in paths:
                scratch = Path(tmp) / f"{p.stem}-{len(report_runs)}"
                mine = [] if d.profiles_ops else cuts.get(p, [])
                report_runs.append(d.bench_model(p, settings, mine, scratch, progress))
    return BenchReport(runs=report_runs, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       host=host_description(), command=command or shlex.join(sys.argv))


def host_description() -> str:
    """The machine that ran docscan, for a report's ``host`` field."""
    return f"{platform.node()}: {describe_host()}, Python {platform.python_version()}"
