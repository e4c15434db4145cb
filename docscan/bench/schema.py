"""The saved form of a benchmark run, shared by every device kind and by the CI gate.

One ``ModelRun`` is one model on one device. A file holds a ``BenchReport``: a list of
runs plus how and where they were measured. ``SCHEMA`` is bumped on any incompatible
change; readers refuse other versions with a message that says how to refresh.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from docscan.errors import DocscanError

SCHEMA = "docscan.bench/1"


@dataclass
class OpTiming:
    """One operator (or one op type, in a summary) and its time per inference."""

    op_type: str                 # TFLite builtin name, e.g. CONV_2D
    ms: float                    # average milliseconds per inference
    name: str = ""               # node / output tensor name where known
    index: int | None = None     # execution index in the graph where known
    count: int = 1               # number of nodes (for per-type summaries)
    extra: dict = field(default_factory=dict)


@dataclass
class ModelRun:
    model: str                   # file name (or label) of the model
    device: str                  # as given on the command line: host, emu:armv7, adb:SERIAL, ...
    device_kind: str             # "host" | "emulated" | "phone"
    isa: str                     # x86_64 | armv7 | aarch64 | riscv64 | ...
    runtime: str                 # e.g. "tflite-runtime 2.14.0", "ai-edge-litert 2.3.0", "benchmark_model"
    threads: int
    latency_ms: list[float]      # one entry per timed inference (after warm-up)
    warmup: int = 0
    ops: list[OpTiming] = field(default_factory=list)
    per_op_method: str = ""      # how per-op times were obtained, in words
    machine: str = ""            # CPU / phone model and OS
    abi: str = ""                # Android ABI where relevant (armeabi-v7a, arm64-v8a)
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def emulated(self) -> bool:
        return self.device_kind == "emulated"

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latency_ms) if self.latency_ms else float("nan")

    def by_op_type(self) -> list[OpTiming]:
        """Per-op-type totals, largest first."""
        totals: dict[str, OpTiming] = {}
        for op in self.ops:
            t = totals.setdefault(op.op_type, OpTiming(op.op_type, 0.0, count=0))
            t.ms += op.ms
            t.count += op.count
        return sorted(totals.values(), key=lambda t: -t.ms)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["emulated"] = self.emulated
        d["median_ms"] = self.median_ms
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelRun:
        d = {k: v for k, v in d.items() if k not in ("emulated", "median_ms")}
        d["ops"] = [OpTiming(**o) for o in d.get("ops", [])]
        return cls(**d)


@dataclass
class BenchReport:
    runs: list[ModelRun]
    created: str = ""            # ISO time
    host: str = ""               # the machine that ran docscan
    command: str = ""
    schema: str = SCHEMA

    def to_dict(self) -> dict:
        return {"schema": self.schema, "created": self.created, "host": self.host,
                "command": self.command, "runs": [r.to_dict() for r in self.runs]}

    @classmethod
    def from_dict(cls, d: dict, source: str = "report") -> BenchReport:
        if not isinstance(d, dict) or "schema" not in d:
            raise DocscanError(f"{source}: not a docscan benchmark file (no 'schema' field)")
        if d["schema"] != SCHEMA:
            raise DocscanError(f"{source}: schema {d['schema']!r}, this docscan reads {SCHEMA!r}; "
                               "re-run the benchmark to refresh it")
        try:
            runs = [ModelRun.from_dict(r) for r in d["runs"]]
        except (KeyError, TypeError) as exc:
            raise DocscanError(f"{source}: malformed benchmark file ({exc})") from None
        return cls(runs=runs, created=d.get("created", ""), host=d.get("host", ""),
                   command=d.get("command", ""), schema=d["schema"])


def load_report(path: str | Path) -> BenchReport:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DocscanError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocscanError(f"{path}: cannot read benchmark JSON ({exc})") from None
    return BenchReport.from_dict(data, source=str(path))


def save_report(report: BenchReport, path: str | Path) -> Path:
    from docscan.atomic import write_json

    return write_json(path, report.to_dict())
