"""Modelled ARM cores (``core:CORE/ISA[@MHz]``): estimated cycles, not timings.

    core:cortex-a72/armv7        core:cortex-a72/aarch64@1800      core:a53/aarch64

The real inference runs in the emulated rootfs of the ISA under qemu-user with docscan's
block plugin, and llvm-mca's scheduling model of the core costs every block
(``docscan.bench.estimate``). A run's latency is the estimated ms at the stated clock;
per-op rows come from the one-op cuts, traced in the same process. Every run says
ESTIMATED, the core, the clock and the method. Nothing falls back to emulated timings: a
core or ISA without a model, a missing llvm-mca or a plugin that does not build is an
error naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from docscan.bench.devices import Job, RunSettings, Timings
from docscan.bench.estimate.cores import Core, check_isa, get_core
from docscan.bench.schema import ModelRun, OpTiming
from docscan.errors import DocscanError
from docscan.progress import Progress, silent

KIND = "estimated"


def parse(spec: str, config: dict) -> CoreDevice | None:
    if not spec.startswith("core:"):
        return None
    body = spec[5:]
    body, _, mhz = body.partition("@")
    name, _, isa = body.partition("/")
    if not name or not isa:
        raise DocscanError(f"{spec}: a modelled core is core:CORE/ISA[@MHz], e.g. core:cortex-a72/armv7")
    core = get_core(name)
    isa = check_isa(core, isa)
    clock = core.clock_mhz
    if mhz:
        try:
            clock = float(mhz.lower().removesuffix("mhz"))
        except ValueError:
            raise DocscanError(f"{spec}: clock {mhz!r} is not a number of MHz (e.g. @1800)") from None
        if not 100 <= clock <= 5000:
            raise DocscanError(f"{spec}: clock {clock:g} MHz is out of range (100-5000)")
    return CoreDevice(f"core:{core.name}/{isa}@{clock:g}", core, isa, clock)


@dataclass(frozen=True)
class CoreDevice:
    spec: str
    core: Core
    isa: str
    clock_mhz: float
    kind: ClassVar[str] = KIND
    emulated: ClassVar[bool] = False
    profiles_ops: ClassVar[bool] = False    # per-op rows come from one-op cuts

    def prepare(self, progress: Progress = silent) -> None:
        """Check the tools and build the rootfs and plugin before any estimate starts."""
        from docscan.bench.estimate.decode import tool
        from docscan.bench.estimate.trace import ensure_plugin
        from docscan.bench.rootfs import ensure_rootfs, get_isa

        tool("llvm-mc")
        tool("llvm-mca")
        isa = get_isa(self.isa)
        root = ensure_rootfs(isa.name, progress=progress)
        ensure_plugin(root, isa.qemu, progress)

    def run_models(self, jobs: list[Job], settings: RunSettings, progress: Progress = silent) -> Timings:
        results = []
        for job in jobs:
            est = self.estimate(job.path, settings, None, per_op=False, progress=progress)
            results.append({"label": job.label, "latency_ms": [est.whole_ms]})
        return Timings(self._runtime(), self.describe(), results)

    def bench_model(self, model: Path, settings: RunSettings, cuts, scratch: Path,
                    progress: Progress = silent) -> ModelRun:
        est = self.estimate(model, settings, cuts, per_op=settings.per_op, progress=progress)
        return to_model_run(est, self.spec, self.describe(), settings)

    def estimate(self, model: Path, settings: RunSettings, cuts, *, per_op: bool, progress: Progress = silent):
        from docscan.bench.estimate.estimate import estimate_model

        if not settings.xnnpack:
            raise DocscanError(f"{self.spec}: estimates run with XNNPACK, as phones do (drop --no-xnnpack)")

        def report(text: str, done: int | None = None, total: int | None = None) -> None:
            progress(f"{self.spec} (estimated): {Path(model).name} ({text})", done, total)

        return estimate_model(model, self.core, self.isa, clock_mhz=self.clock_mhz, cuts=cuts, per_op=per_op,
                              threads=settings.threads, progress=report)

    def count_instructions(self, model: Path, *, threads: int = 1, xnnpack: bool = True, use_cache: bool = True,
                           progress: Progress = silent):
        raise DocscanError(f"{self.spec}: deterministic mode runs on host, emu:armv7 and emu:aarch64 "
                           "(a core estimate is deterministic already)")

    def _runtime(self) -> str:
        return "tflite-runtime 2.14.0 (traced under qemu)"

    def describe(self) -> str:
        model = self.core.llvm_cpu + ("" if self.core.llvm_cpu == self.core.name else " (stand-in)")
        return (f"{self.core.name} {self.isa} at {self.clock_mhz:g} MHz - ESTIMATED (llvm-mca {model} "
                f"model; clock and memory as {self.core.board})")


def to_model_run(est, spec: str, machine: str, settings: RunSettings) -> ModelRun:
    """An ``Estimate`` as a report's ``ModelRun`` (latency = the one estimated ms)."""
    ops = [OpTiming(o.op_type, est.ms(o.cycles), o.name, o.index,
                    extra={"cycles": round(o.cycles), "compute_cycles": round(o.compute_cycles),
                           "memory_cycles": round(o.memory_cycles), "memory_from": o.memory_from,
                           "instructions": round(o.instructions)})
           for o in est.ops]
    run = ModelRun(model=est.model, device=spec, device_kind=KIND, isa=est.isa, runtime=est.runtime + " (traced)",
                   threads=settings.threads, latency_ms=[est.whole_ms], warmup=1, ops=ops,
                   per_op_method=("one-op models cut from the .tflite, each traced in the same guest process and "
                                  "costed like the whole model" if ops else ""),
                   machine=machine, notes=[est.method],
                   extra={"estimated": True, "core": est.core, "clock_mhz": est.clock_mhz, "method": est.method,
                          "cycles": round(est.cycles), "compute_cycles": round(est.compute_cycles),
                          "memory_excess_cycles": round(est.memory_excess_cycles),
                          "instructions": round(est.instructions), "undecoded_pct": est.undecoded_pct,
                          "thumb_pct": est.thumb_pct, "seconds": est.seconds})
    if ops:
        total = sum(o.ms for o in ops)
        run.extra["per_op_sum_ms"] = total
        run.extra["per_op_gap_pct"] = 100.0 * (total - run.median_ms) / run.median_ms if run.median_ms else None
    return run
