"""Phones (``adb:SERIAL``, ``adb:SERIAL/ABI``): the official ``benchmark_model`` over adb.

The adb plumbing, the binaries config and the on-device run live in ``bench/adb.py``;
this module is the device-kind face of it. A phone profiles per op itself
(``--enable_op_profiling``), so no one-op models are cut for it, and its log gives
aggregates only: a run's latency list holds benchmark_model's mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from docscan.bench.devices import Job, RunSettings, Timings
from docscan.bench.schema import ModelRun
from docscan.errors import DocscanError
from docscan.progress import Progress, silent

# A 64-bit phone that also runs 32-bit code gives the seed's comparison on one device:
# -d adb:SERIAL/armeabi-v7a -d adb:SERIAL/arm64-v8a
PHONE_ABIS = ("armeabi-v7a", "arm64-v8a")


def parse(spec: str, config: dict) -> Phone | None:
    """``config["phone"]``: ``binaries`` (a config file or ABI -> path mapping), ``overrides``
    (``ABI=PATH`` strings)."""
    if not spec.startswith("adb:"):
        return None
    serial, _, abi = spec[4:].partition("/")
    if not serial:
        raise DocscanError(f"{spec}: adb device needs a serial (adb:SERIAL; see `adb devices`)")
    if abi and abi not in PHONE_ABIS:
        raise DocscanError(f"{spec}: unknown ABI {abi!r} (use adb:SERIAL/armeabi-v7a or adb:SERIAL/arm64-v8a)")
    phone = config.get("phone") or {}
    return Phone(spec, serial, abi, phone.get("binaries"), tuple(phone.get("overrides") or ()))


@dataclass(frozen=True)
class Phone:
    spec: str
    serial: str
    abi: str = ""                  # forced Android ABI (adb:SERIAL/armeabi-v7a), else the phone's primary one
    binaries: object = None        # benchmark_model builds: a config file, an ABI -> path mapping, or None (default config)
    overrides: tuple[str, ...] = field(default=())
    kind: ClassVar[str] = "phone"
    isa: ClassVar[str] = ""        # known once connected: each run records its own
    emulated: ClassVar[bool] = False
    profiles_ops: ClassVar[bool] = True

    def prepare(self, progress: Progress = silent) -> None:
        """Nothing: the phone is found and checked when a run starts."""

    def run_models(self, jobs: list[Job], settings: RunSettings, progress: Progress = silent) -> Timings:
        """One benchmark_model process per job, in order."""
        results, runtime, machine = [], "?", ""
        for i, job in enumerate(jobs):
            run = self._run(job.path, job.runs, job.warmup, settings, progress)
            results.append({"label": job.label, "latency_ms": run.latency_ms})
            runtime, machine = run.runtime, run.machine
            progress(f"{self.spec}: {job.label}", i + 1, len(jobs))
        return Timings(runtime, machine, results)

    def bench_model(self, model: Path, settings: RunSettings, cuts, scratch: Path,
                    progress: Progress = silent) -> ModelRun:
        progress(f"{self.spec}: {model.name}")
        return self._run(model, settings.runs, settings.warmup, settings, progress)

    def _run(self, model: Path, runs: int, warmup: int, settings: RunSettings, progress: Progress) -> ModelRun:
        from docscan.bench.adb import run_on_phone

        run = run_on_phone(model, self.serial, self.binaries, threads=settings.threads, runs=runs, warmup=warmup,
                           use_xnnpack=None if settings.xnnpack else False, abi=self.abi or None,
                           overrides=list(self.overrides), progress=progress)
        run.device = self.spec      # keep the ABI suffix so 32- and 64-bit runs stay apart in tables
        return run

    def count_instructions(self, model: Path, *, threads: int = 1, xnnpack: bool = True, use_cache: bool = True,
                           progress: Progress = silent):
        raise DocscanError(f"{self.spec}: deterministic mode runs on host, emu:armv7 and emu:aarch64 only "
                           "(a phone's instructions cannot be counted from here; use wall time)")

    def describe(self) -> str:
        from docscan.bench.adb import Adb, describe_phone, find_adb, select_device

        adb = find_adb()
        return describe_phone(Adb(adb, select_device(adb, self.serial).serial).props())
