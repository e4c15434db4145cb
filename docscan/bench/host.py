"""The host device: this x86-64 machine's TFLite interpreter (ai-edge-litert), in-process.

Timed by the very loop the emulated devices run (``device_runner.time_models``), so host
and emulated numbers differ only in where the loop runs.
"""

from __future__ import annotations

import platform

from docscan.bench import device_runner
from docscan.bench.emulated import Job, host_cpu


def run_jobs(jobs: list[Job], *, threads: int = 1, xnnpack: bool = True, seed: int = 0,
             return_outputs: bool = False, progress=None) -> dict:
    spec = {"models": [{"path": str(j.path), "label": j.label, "runs": j.runs, "warmup": j.warmup} for j in jobs],
            "threads": threads, "xnnpack": xnnpack, "seed": seed, "return_outputs": return_outputs}
    return device_runner.time_models(spec, progress)


def describe() -> str:
    return f"{host_cpu()} ({platform.machine()}, {platform.system()})"
