"""The host device: this machine's TFLite interpreter (ai-edge-litert), in-process.

Timed by the very loop the emulated devices run (``device_runner.time_models``), so host
and emulated numbers differ only in where the loop runs. Per-op times: one-op cuts, or
LiteRT's own profiler (``litert_profiler``, libLiteRt.so of the installed ai-edge-litert).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from docscan.bench import device_runner
from docscan.bench.devices import Job, RunSettings, Timings
from docscan.bench.devices.runner import RunnerDevice, profiler_limits, timings_of
from docscan.errors import DocscanError
from docscan.machine import describe_host
from docscan.progress import Progress, silent


def parse(spec: str, config: dict) -> Host | None:
    return Host("host", "host", platform.machine() or "x86_64") if spec == "host" else None


@dataclass(frozen=True)
class Host(RunnerDevice):
    def run_models(self, jobs: list[Job], settings: RunSettings, progress: Progress = silent) -> Timings:
        result = run_jobs(jobs, threads=settings.threads, xnnpack=settings.xnnpack, seed=settings.seed,
                          progress=progress)
        return timings_of(result, self.describe())

    def profiler_unavailable(self, settings: RunSettings) -> str:
        return profiler_limits(settings) or _library_missing()

    def count_instructions(self, model: Path, *, threads: int = 1, xnnpack: bool = True, use_cache: bool = True,
                           progress: Progress = silent):
        from docscan.regress.instructions import count_host

        return count_host(model, threads=threads, xnnpack=xnnpack, use_cache=use_cache)

    def describe(self) -> str:
        return describe_host()


def _library_missing() -> str:
    from docscan.bench import litert_profiler

    try:
        litert_profiler.library_path()
    except DocscanError as exc:
        return str(exc).removeprefix("LiteRT profiler: ")
    return ""


def run_jobs(jobs: list[Job], *, threads: int = 1, xnnpack: bool = True, seed: int = 0,
             return_outputs: bool = False, progress: Progress = silent) -> dict:
    """``device_runner.time_models`` on ``jobs``, in this process: the runner's JSON."""
    spec = {"models": [{"path": str(j.path), "label": j.label, "runs": j.runs, "warmup": j.warmup,
                        **({"profile": True} if j.profile else {}), **({"litert": True} if j.litert else {})}
               for j in jobs],
            "threads": threads, "xnnpack": xnnpack, "seed": seed, "return_outputs": return_outputs}
    return device_runner.time_models(spec, progress)
