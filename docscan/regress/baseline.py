"""Latency baselines: what a model cost on a device, how that was measured, and for which model.

A baseline file (JSON, ``SCHEMA``) belongs to one model, identified by its SHA-256 and its
op list (TFLite builtin names in execution order). It holds one entry per device and mode
(``walltime`` or ``instructions``), each with its statistics, per-op figures and how it
was measured (runtime and version, threads, variant, machine, emulated or not).

Loading never passes silently: another schema version, a corrupt file, another model
(different op list), or a measurement set-up that differs (runtime, threads, variant) is a
DocscanError saying what differs and how to refresh (``--update-baseline``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from docscan.errors import DocscanError

SCHEMA = "docscan.baseline/1"
MODES = ("walltime", "instructions")
REFRESH = "refresh it with `docscan bench MODEL --device D --baseline FILE --update-baseline`"


@dataclass
class ModelId:
    file: str
    sha256: str
    ops: list[str]

    @classmethod
    def of(cls, path: str | Path) -> ModelId:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DocscanError(f"{path}: cannot read model ({exc.strerror})") from None
        return cls(path.name, hashlib.sha256(data).hexdigest(), op_list(data, str(path)))


def op_list(data: bytes, source: str = "model") -> list[str]:
    """Builtin op names of every subgraph, in stored (execution) order; ops of subgraph
    g > 0 carry ``@g``. Read with the same bounds-checked reader as ``docscan inspect``."""
    from docscan.convert.inventory import read_inventory

    inv = read_inventory(data, source)
    return [op.op if op.subgraph == 0 else f"{op.op}@{op.subgraph}" for op in inv.ops]


def describe_op_change(old: list[str], new: list[str]) -> str:
    """'+3 MUL, +3 ADD, -1 CONV_2D (42 -> 47 ops)', or where the order first differs."""
    a, b = Counter(old), Counter(new)
    parts = [f"+{b[k] - a[k]} {k}" for k in sorted(b) if b[k] > a[k]]
    parts += [f"-{a[k] - b[k]} {k}" for k in sorted(a) if a[k] > b[k]]
    if not parts:
        first = next((i for i, (x, y) in enumerate(zip(old, new)) if x != y), None)
        if first is None:
            return "identical op lists"
        return f"same op types, order differs from op {first} ({old[first]} vs {new[first]})"
    return ", ".join(parts) + f" ({len(old)} -> {len(new)} ops)"


@dataclass
class Setup:
    """How a figure was measured; entries compare only when the set-up matches."""

    device: str                 # host, emu:armv7, emu:aarch64, adb:SERIAL
    mode: str                   # walltime | instructions
    runtime: str                # e.g. "ai-edge-litert 2.3.0", "tflite-runtime 2.14.0"
    threads: int = 1
    variant: str = "xnnpack"    # xnnpack | builtin (XNNPACK off)
    isa: str = ""
    emulated: bool = False
    machine: str = ""
    tool: str = ""              # walltime: "interleaved rounds"; instructions: callgrind / qemu insn plugin

    # Fields that must match for a comparison to mean anything; machine only warns.
    STRICT = ("device", "mode", "runtime", "threads", "variant")

    def differences(self, other: Setup) -> list[str]:
        return [f"{k} {getattr(self, k)!r} vs {getattr(other, k)!r}" for k in self.STRICT
                if getattr(self, k) != getattr(other, k)]


@dataclass
class Entry:
    setup: Setup
    stats: dict                  # walltime: median_ms, mad_ms, ...; instructions: per_inference, repeats
    ops: list[dict] = field(default_factory=list)   # {"key", "op_type", "value", "unit"}
    created: str = ""

    @property
    def key(self) -> str:
        return entry_key(self.setup.device, self.setup.mode)


def entry_key(device: str, mode: str) -> str:
    return f"{device}|{mode}"


@dataclass
class Baseline:
    model: ModelId
    entries: dict[str, Entry] = field(default_factory=dict)
    schema: str = SCHEMA
    source: dict = field(default_factory=dict)   # how to get the model again (path or zoo recipe); optional

    def to_dict(self) -> dict:
        return {"schema": self.schema, "model": asdict(self.model), "source": self.source,
                "entries": {k: {"setup": asdict(e.setup), "stats": e.stats, "ops": e.ops, "created": e.created}
                            for k, e in sorted(self.entries.items())}}

    def entry(self, device: str, mode: str, source: str = "baseline") -> Entry:
        key = entry_key(device, mode)
        if key not in self.entries:
            have = ", ".join(f"{e.setup.device} ({e.setup.mode})" for e in self.entries.values()) or "none"
            raise DocscanError(f"{source}: no {mode} baseline for device {device} (it has: {have}); "
                               f"create it with --update-baseline")
        return self.entries[key]


def from_dict(d, source: str = "baseline") -> Baseline:
    if not isinstance(d, dict) or "schema" not in d:
        raise DocscanError(f"{source}: not a docscan baseline (no 'schema' field); {REFRESH}")
    if d["schema"] != SCHEMA:
        raise DocscanError(f"{source}: baseline schema {d['schema']!r}, this docscan reads {SCHEMA!r}; {REFRESH}")
    try:
        model = ModelId(**d["model"])
        entries = {}
        for key, e in d["entries"].items():
            setup = Setup(**e["setup"])
            if setup.mode not in MODES or key != entry_key(setup.device, setup.mode):
                raise ValueError(f"entry {key!r} is inconsistent")
            entries[key] = Entry(setup, dict(e["stats"]), list(e.get("ops", [])), e.get("created", ""))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DocscanError(f"{source}: corrupt baseline ({type(exc).__name__}: {exc}); {REFRESH}") from None
    recipe = d.get("source") or {}
    if not isinstance(recipe, dict):
        raise DocscanError(f"{source}: corrupt baseline ('source' is not an object); {REFRESH}")
    return Baseline(model, entries, d["schema"], recipe)


def load(path: str | Path) -> Baseline:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DocscanError(f"{path}: no such baseline; create it with --update-baseline") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocscanError(f"{path}: cannot read baseline ({exc}); {REFRESH}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocscanError(f"{path}: corrupt baseline (not JSON: {exc.msg} at line {exc.lineno}); {REFRESH}") from None
    return from_dict(data, str(path))


def check_model(base: Baseline, model: ModelId, source: str = "baseline", allow_op_change: bool = False) -> list[str]:
    """Refuse a baseline made for another model; notes for differences that are allowed.

    Same op list but other weights (retrained, re-quantised) compares, with a note. A
    different op list is another model unless ``allow_op_change`` (the graph change is what
    is being tested, e.g. BN left unfolded): then it compares, with a note.
    """
    if model.sha256 == base.model.sha256:
        return []
    if model.ops != base.model.ops:
        what = describe_op_change(base.model.ops, model.ops)
        if not allow_op_change:
            raise DocscanError(f"{source}: made for another model: {base.model.file} (sha256 {base.model.sha256[:12]}) "
                               f"vs {model.file} (sha256 {model.sha256[:12]}): op list differs: {what}; "
                               f"{REFRESH}, or pass --allow-op-change to compare anyway")
        return [f"op list differs from the baseline's model: {what}"]
    return [f"same op list as the baseline's model, different weights (sha256 {base.model.sha256[:12]} -> "
            f"{model.sha256[:12]})"]


def check_setup(entry: Entry, setup: Setup, source: str = "baseline") -> list[str]:
    """Refuse a baseline measured another way; notes for a different machine."""
    diffs = entry.setup.differences(setup)
    if diffs:
        raise DocscanError(f"{source}: measured differently ({'; '.join(diffs)}); {REFRESH}")
    notes = []
    if entry.setup.machine and setup.machine and entry.setup.machine != setup.machine:
        notes.append(f"baseline machine {entry.setup.machine!r}, this one {setup.machine!r}")
    return notes


def _looks_like_baseline(path: Path) -> bool:
    """A file we may replace: one that says it is a docscan baseline (of any schema version)."""
    try:
        head = path.read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return False
    return '"docscan.baseline/' in head


def update(path: str | Path, model: ModelId, entry: Entry, source: dict | None = None) -> tuple[Baseline, list[str]]:
    """Write ``entry`` into the baseline at ``path`` atomically; keep other devices' entries
    when they belong to the same model. Returns the baseline and notes on what was dropped."""
    from docscan.atomic import write_json

    path = Path(path)
    notes: list[str] = []
    base = Baseline(model, source=dict(source or {}))
    if path.exists():
        if not _looks_like_baseline(path):
            raise DocscanError(f"{path}: exists and is not a docscan baseline; refusing to overwrite it "
                               "(remove it or choose another --baseline path)")
        try:
            old = load(path)
        except DocscanError as exc:
            notes.append(f"replaced unreadable baseline ({exc})")
        else:
            base.source = base.source or old.source
            if old.model.sha256 == model.sha256:
                base.entries = dict(old.entries)
            elif old.entries:
                notes.append(f"model changed ({old.model.sha256[:12]} -> {model.sha256[:12]}): dropped "
                             f"{len(old.entries)} old entr{'y' if len(old.entries) == 1 else 'ies'}")
    entry.created = entry.created or datetime.now(UTC).isoformat(timespec="seconds")
    base.entries[entry.key] = entry
    write_json(path, base.to_dict())
    return base, notes
