"""Devices that run docscan's own timing loop (``device_runner.py``): host and emulated ARM.

Such a device only has to time whole models (``run_models``); the per-op table comes from
the one-op models ``perop.cut_ops`` cuts from each model, timed by the same loop in the
same process as the whole model, so whole and per-op times are measured alike.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from docscan.bench import perop
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

    def run_models(self, jobs: list[Job], settings: RunSettings, progress: Progress = silent) -> Timings:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def bench_model(self, model: Path, settings: RunSettings, cuts: list[perop.OneOp], scratch: Path,
                    progress: Progress = silent) -> ModelRun:
        """The whole model and its one-op cuts in one run of the timing loop."""
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
        if failed:
            run.notes.append(f"{len(failed)} op(s) could not be timed alone: " + "; ".join(failed[:5]))
        if cuts:
            total = sum(o.ms for o in ops)
            run.extra["per_op_sum_ms"] = total
            run.extra["per_op_gap_pct"] = 100.0 * (total - run.median_ms) / run.median_ms if run.median_ms else None
        return run


def timings_of(result: dict, machine: str) -> Timings:
    """``device_runner.time_models``' JSON as ``Timings``."""
    return Timings(runtime=result.get("runtime", "?"), machine=machine, results=result["results"],
                   facts=result.get("machine", {}))
