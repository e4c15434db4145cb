"""Devices that run docscan's own timing loop (``device_runner.py``): host and emulated ARM.

Such a device only has to time whole models (``run_models``); the per-op table comes from
the one-op models ``perop.cut_ops`` cuts from each model, timed by the same loop in the
same process as the whole model, so whole and per-op times are measured alike; or, with
``settings.per_op_method == "profiler"`` (host, emu:aarch64), from LiteRT's own profiler:
one job whose unprofiled whole runs alternate with profiled ones on the same compiled
model (``litert_profiler.measure``), mapped back to the model's ops on the host.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from docscan.bench import litert_profiler, perop
from docscan.bench.devices import Job, RunSettings, Timings
from docscan.bench.schema import ModelRun, OpTiming
from docscan.errors import DocscanError
from docscan.progress import Progress, silent

WHOLE = "__whole__"      # the job label of the whole model


@dataclass(frozen=True)
class RunnerDevice:
    spec: str
    kind: str
    isa: str
    emulated: bool = False
    profiles_ops: ClassVar[bool] = False
    note: ClassVar[str] = ""          # said in every run's notes (what its times are not)

    @property
    def label(self) -> str:
        """The device as progress shows it."""
        return f"{self.spec} (emulated)" if self.emulated else self.spec

    def prepare(self, progress: Progress = silent) -> None:
        """Nothing to set up (subclasses that need a set-up override this)."""

    def profiler_unavailable(self, settings: RunSettings) -> str:
        """Why LiteRT's profiler cannot time this device's ops ("" where it can)."""
        return "this device has no LiteRT profiler"

    def prepare_profiler(self, progress: Progress = silent) -> None:
        """Make the LiteRT profiler usable (fetch a runtime); called before any timing."""

    def run_models(self, jobs: list[Job], settings: RunSettings, progress: Progress = silent) -> Timings:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def bench_model(self, model: Path, settings: RunSettings, cuts: list[perop.OneOp], scratch: Path,
                    progress: Progress = silent) -> ModelRun:
        """The whole model and its one-op cuts in one run of the timing loop (or the whole
        model under LiteRT's profiler, where ``settings.per_op_method`` says so)."""
        if settings.per_op and settings.per_op_method == "profiler":
            return self._profiled(model, settings, progress)
        jobs = [Job(model, WHOLE, settings.runs, settings.warmup)]
        pairs = perop.write_cuts(cuts, scratch) if settings.per_op else []
        jobs += [Job(path, f"op{c.index}", settings.op_runs or settings.runs, 1) for c, path in pairs]

        def report(text: str, done: int | None = None, total: int | None = None) -> None:
            progress(f"{self.label}: {model.name} ({text})", done, total)

        timings = self.run_models(jobs, settings, report)
        return self._model_run(model, timings, cuts if settings.per_op else [], settings)

    def _model_run(self, model: Path, timings: Timings, cuts: list[perop.OneOp], settings: RunSettings) -> ModelRun:
        whole, *rest = timings.results
        if "error" in whole:
            raise DocscanError(f"{model}: failed on {self.spec}: {whole['error']}")
        ops: list[OpTiming] = []
        by_label = {r["label"]: r for r in rest}
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
        facts = timings.facts
        run = ModelRun(model=model.name, device=self.spec, device_kind=self.kind, isa=self.isa,
                       runtime=timings.runtime, threads=settings.threads, latency_ms=list(whole["latency_ms"]),
                       warmup=settings.warmup, ops=ops, per_op_method=perop.METHOD if cuts else "",
                       machine=timings.machine,
                       extra={"xnnpack": settings.xnnpack, "python": facts.get("python", ""),
                              "numpy": facts.get("numpy", ""), "guest_machine": facts.get("machine", ""),
                              "model_path": str(model)})
        if self.note:
            run.notes.append(self.note)
        _say_kernels(run, whole, facts)
        if cuts:
            run.extra["per_op_method_name"] = "cuts"
            if settings.per_op_note:
                run.extra["per_op_fallback"] = settings.per_op_note
                run.notes.append(settings.per_op_note)
        if failed:
            run.notes.append(f"{len(failed)} op(s) could not be timed alone: " + "; ".join(failed[:5]))
        if cuts:
            total = sum(o.ms for o in ops)
            run.extra["per_op_sum_ms"] = total
            run.extra["per_op_gap_pct"] = 100.0 * (total - run.median_ms) / run.median_ms if run.median_ms else None
        return run

    def _profiled(self, model: Path, settings: RunSettings, progress: Progress) -> ModelRun:
        def report(text: str, done: int | None = None, total: int | None = None) -> None:
            progress(f"{self.label}: {model.name} (LiteRT profiler)", done, total)

        timings = self.run_models([Job(model, WHOLE, settings.runs, settings.warmup, profile=True)], settings, report)
        whole = timings.results[0]
        if "error" in whole:
            raise DocscanError(f"{model}: failed under the LiteRT profiler on {self.spec}: {whole['error']}")
        inventory = litert_profiler.model_ops(model)
        events, mapped, notes = litert_profiler.map_ops(whole["ops"], [t for t, _ in inventory])
        ops = [OpTiming(e.op_type or e.runtime_name, e.us / 1000.0, inventory[e.op_index][1] if mapped else "",
                        e.op_index, extra={"runtime_name": e.runtime_name, "delegated": e.delegated,
                                           "median_ms": e.median_us / 1000.0})
               for e in events]
        facts = timings.facts
        run = ModelRun(model=model.name, device=self.spec, device_kind=self.kind, isa=self.isa,
                       runtime=whole.get("runtime", timings.runtime), threads=settings.threads,
                       latency_ms=list(whole["latency_ms"]), warmup=settings.warmup, ops=ops,
                       per_op_method=litert_profiler.METHOD, machine=timings.machine,
                       extra={"xnnpack": settings.xnnpack, "python": facts.get("python", ""),
                              "numpy": facts.get("numpy", ""), "guest_machine": facts.get("machine", ""),
                              "model_path": str(model), "per_op_method_name": "profiler",
                              "profiler_mapped": mapped})
        if self.note:
            run.notes.append(self.note)
        run.notes += notes
        if whole.get("invoke_ms"):
            run.extra["profiled_invoke_median_ms"] = statistics.median(whole["invoke_ms"])
        if whole.get("run_sum_ms"):      # the ops of each profiled run added up (see litert_profiler.measure)
            run.extra["profiled_run_sum_median_ms"] = statistics.median(whole["run_sum_ms"])
        total = sum(o.ms for o in ops)
        run.extra["per_op_sum_ms"] = total
        run.extra["per_op_gap_pct"] = 100.0 * (total - run.median_ms) / run.median_ms if run.median_ms else None
        return run


def _say_kernels(run: ModelRun, whole: dict, facts: dict) -> None:
    """Which kernels the whole model ran (``device_runner.xnnpack_status``) and what CPU the
    runtime saw: in ``extra``, in the device description (``machine``) and in the notes."""
    status = whole.get("xnnpack")
    if facts.get("cpu"):
        run.extra["guest_cpu"] = facts["cpu"]
    if not status:
        return
    run.extra["xnnpack_applied"] = status
    run.machine = f"{run.machine}; XNNPACK {status}" if run.machine else f"XNNPACK {status}"
    run.notes.append(f"XNNPACK: {status}")


def profiler_limits(settings: RunSettings) -> str:
    """What the profiler path cannot do on any device ("" where the settings suit it)."""
    if not settings.xnnpack:
        return "it times XNNPACK's operators and --no-xnnpack turns XNNPACK off"
    if settings.threads != 1:
        return f"it runs the runtime's default single thread, not --threads {settings.threads}"
    return ""


def timings_of(result: dict, machine: str) -> Timings:
    """``device_runner.time_models``' JSON as ``Timings``."""
    return Timings(runtime=result.get("runtime", "?"), machine=machine, results=result["results"],
                   facts=result.get("machine", {}))
