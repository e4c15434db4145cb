"""Where models run: one module per kind of device, each implementing ``Device``.

    host         this machine's TFLite interpreter (ai-edge-litert), in-process   host.py
    emu:ISA      a Debian ARM rootfs under qemu-user (armv7, aarch64)             emulated.py
    adb:SERIAL   a phone over adb, with the official benchmark_model            phone.py
    core:C/ISA   a named ARM core, ESTIMATED (qemu block trace + llvm-mca)      core.py

``parse_device(spec)`` turns what a user types into a ``Device``; ``run_bench`` and the
regression gate reach devices through nothing else. A new kind of device is one new
module: a class implementing ``Device`` and a ``parse(spec, config)`` that returns one
for the specs it owns (None for the others), named in ``KINDS`` (its specs in ``USAGE``).
A device that runs docscan's timing loop (``device_runner.py``) can extend
``runner.RunnerDevice``, which supplies the per-op timings from one-op cuts, or from LiteRT's
own profiler (``litert_profiler.py``) where the device has it (``profiler_unavailable``
returns "" there; host and emu:aarch64 do, emu:armv7 has only tflite-runtime 2.14).
``resolve_per_op_method`` picks the method per device (``--per-op-method auto|cuts|profiler``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from docscan.errors import DocscanError
from docscan.progress import Progress, silent

if TYPE_CHECKING:
    from docscan.bench.perop import OneOp
    from docscan.bench.schema import ModelRun
    from docscan.regress.instructions import Count


@dataclass
class Job:
    """One model to time: ``runs`` timed inferences after ``warmup`` untimed ones."""

    path: Path          # model on the host
    label: str
    runs: int
    warmup: int
    profile: bool = False   # whole-model times and per-op events from LiteRT's profiler (litert_profiler)
    litert: bool = False    # whole-model times through the profiler's CompiledModel loop, unprofiled


PER_OP_METHODS = ("auto", "cuts", "profiler")   # auto: the profiler where the device has it, else cuts
METHOD_NAMES = {"cuts": "one-op cuts", "profiler": "LiteRT profiler"}


@dataclass(frozen=True)
class RunSettings:
    """How every model is run, on every device."""

    runs: int = 10               # timed inferences per model
    warmup: int = 2              # untimed inferences first
    threads: int = 1
    xnnpack: bool = True         # TFLite's default XNNPACK delegate
    seed: int = 0                # input values
    per_op: bool = True
    op_runs: int | None = None   # timed runs per one-op model (None: ``runs``)
    per_op_method: str = "cuts"  # cuts | profiler once resolved per device (``resolve_per_op_method``)
    per_op_note: str = ""        # why a requested profiler was not used ("auto" fell back to cuts)


@dataclass
class Timings:
    """What ``run_models`` measured: one result per job, in the jobs' order."""

    runtime: str                 # e.g. "ai-edge-litert 2.3.0", "benchmark_model (arm64-v8a build)"
    machine: str                 # the device in words (what ``describe`` says)
    results: list[dict]          # {"label", "latency_ms": [...]} or {"label", "error"}
    facts: dict = field(default_factory=dict)   # the timing process's python, numpy, machine


class Device(Protocol):
    """One place to run models. Attributes are what reports and baselines record."""

    spec: str            # as reports show it: host, emu:armv7, adb:SERIAL/arm64-v8a
    kind: str            # host | emulated | phone | estimated (ModelRun.device_kind)
    isa: str             # x86_64, armv7, aarch64; "" where known only once connected (phones)
    emulated: bool       # times of translated code, not of the real CPU
    profiles_ops: bool   # True: per-op times come with a whole-model run (phones); False: from one-op cuts

    def prepare(self, progress: Progress = silent) -> None:
        """Make the device usable (build an emulated rootfs); called before any timing."""

    def run_models(self, jobs: list[Job], settings: RunSettings, progress: Progress = silent) -> Timings:
        """Time whole models, one after another, in the order given."""

    def bench_model(self, model: Path, settings: RunSettings, cuts: list[OneOp], scratch: Path,
                    progress: Progress = silent) -> ModelRun:
        """One model, whole and (``settings.per_op``) per op; ``cuts`` are its one-op models
        (empty where ``profiles_ops``); ``scratch`` a folder for files of this run."""

    def count_instructions(self, model: Path, *, threads: int = 1, xnnpack: bool = True, use_cache: bool = True,
                           progress: Progress = silent) -> Count:
        """Instructions per inference (deterministic mode); DocscanError where not countable."""

    def describe(self) -> str:
        """The machine, in words, for reports."""


KINDS = ("host", "emulated", "phone", "core")   # modules of this package, asked in this order
# What the kinds accept, for the message about an unknown device.
USAGE = ("host", "emu:armv7", "emu:aarch64", "core:CORE/ISA[@MHz]", "adb:SERIAL", "adb:SERIAL/ABI")


def resolve_per_op_method(device, requested: str, settings: RunSettings) -> tuple[str, str]:
    """(method, note) for one device: "cuts" or "profiler"; the note says why "auto" fell back
    to cuts. Devices with their own per-op timings (``profiles_ops``: phones) keep them ("own").
    An explicit "profiler" the device cannot do is a one-line error, before anything runs."""
    if requested not in PER_OP_METHODS:
        raise DocscanError(f"--per-op-method {requested}: choose {', '.join(PER_OP_METHODS)}")
    if device.profiles_ops:
        return "own", ""
    check = getattr(device, "profiler_unavailable", None)
    if requested == "cuts" or (check is None and requested == "auto"):
        return "cuts", ""
    why = check(settings) if check else "its per-op times are estimated from one-op cuts"
    if not why:
        return "profiler", ""
    if requested == "profiler":
        raise DocscanError(f"{device.spec}: no LiteRT profiler: {why} (--per-op-method auto falls back to one-op cuts)")
    return "cuts", f"per-op method: one-op cuts, not the LiteRT profiler ({why})"


def parse_device(spec: str, config: dict | None = None) -> Device:
    """The device a spec names (``host``, ``emu:armv7``, ``adb:SERIAL/arm64-v8a`` ...).

    ``config``: settings per kind, e.g. ``{"phone": {"binaries": ..., "overrides": [...]}}``.
    """
    s = spec.strip()
    for name in KINDS:
        device = importlib.import_module(f"{__name__}.{name}").parse(s, config or {})
        if device is not None:
            return device
    raise DocscanError(f"{spec}: unknown device (use {', '.join(USAGE[:-1])} or {USAGE[-1]})")
