"""Parse the text that TFLite's ``benchmark_model`` prints into a ``ModelRun``.

Handles the formats seen across TFLite 1.14 .. LiteRT 2024: the flags echoed at the
start (``Num threads: [4]``), the two ``count=..`` lines (warm-up, then regular runs),
the ``Inference timings in us`` summary (and the 1.14 ``Average inference timings``
line), memory footprint lines, delegate failures, and the op profile: ``Run Order`` /
``Top by Computation Time`` / ``Summary by node type`` tables, tab-separated (2.x),
space-padded (1.14, LiteRT) or CSV (``--profiling_output_csv_file`` /
``--op_profiling_output_mode=csv``, whose node types may hold unquoted commas).

Time per inference of one profiled row is ``avg ms * times called``: TFLite's
profiler averages per call, and XNNPACK rows aggregate several calls per run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from docscan.bench.schema import ModelRun, OpTiming
from docscan.errors import DocscanError

RUNTIME = "benchmark_model"
PER_OP_METHOD = "benchmark_model --enable_op_profiling (TFLite's own op profiler, per-node averages)"

_NUM = r"(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf)"
# Log prefixes: "INFO: ", "WARNING: ", absl's "I0101 12:00:00.000000  123 file.cc:12] ".
_PREFIX = re.compile(r"^(?:(?:INFO|WARNING|WARN|ERROR|VERBOSE|DEBUG): |[IWEF]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] )")
_BANNER = re.compile(r"^=+ (?P<title>.+?) =+\s*$")
_FLAG = re.compile(r"^(?P<label>[#A-Za-z][^:\[\]]*?)\s*:\s*\[(?P<value>[^\]]*)\]\s*$")
_KV = re.compile(r"(?P<key>[A-Za-z_]+)=(?P<value>" + _NUM + r")")

# Echoed flag labels (all versions) -> benchmark_model flag names.
FLAG_LABELS = {
    "num threads": "num_threads",
    "#threads used for cpu inference": "num_threads",
    "graph": "graph",
    "min num runs": "num_runs",
    "num runs": "num_runs",
    "min runs duration (seconds)": "min_secs",
    "max runs duration (seconds)": "max_secs",
    "min warmup runs": "warmup_runs",
    "min warmup runs duration (seconds)": "warmup_min_secs",
    "inter-run delay (seconds)": "run_delay",
    "use xnnpack": "use_xnnpack",
    "use gpu": "use_gpu",
    "use nnapi": "use_nnapi",
    "use legacy nnapi": "use_legacy_nnapi",
    "use hexagon": "use_hexagon",
    "allow fp16": "allow_fp16",
    "enable op profiling": "enable_op_profiling",
    "nnapi accelerator name": "nnapi_accelerator_name",
    "nnapi execution preference": "nnapi_execution_preference",
    "external delegate path": "external_delegate_path",
}

# Column headers (bracketed or CSV) -> field names.
_COLUMNS = {
    "node type": "op_type", "start": "start_ms", "first": "first_ms", "avg ms": "avg_ms",
    "avg_ms": "avg_ms", "%": "pct", "avg %": "pct", "cdf%": "cdf", "cdf %": "cdf",
    "mem kb": "mem_kb", "times called": "times_called", "name": "name", "count": "count",
}


@dataclass
class ProfileRow:
    """One row of a Run Order / Top by Computation Time table."""

    op_type: str
    avg_ms: float                # per call, as printed
    times_called: int = 1        # per run
    first_ms: float | None = None
    start_ms: float | None = None
    pct: float | None = None
    cdf: float | None = None
    mem_kb: float | None = None
    name: str = ""
    index: int | None = None     # graph node index (":N" suffix), None for delegate-internal rows
    delegate_index: int | None = None

    @property
    def ms_per_run(self) -> float:
        return self.avg_ms * max(self.times_called, 1)


@dataclass
class TypeRow:
    """One row of "Summary by node type" (avg ms is already per run)."""

    op_type: str
    count: int
    ms: float
    pct: float | None = None
    cdf: float | None = None
    mem_kb: float | None = None
    times_called: int | None = None


@dataclass
class ProfileTable:
    title: str                   # "Run Order", "Top by Computation Time", "Summary by node type"
    section: str                 # "init" | "regular" | "delegate_internal"
    subgraph: int = 0
    csv: bool = False
    rows: list = field(default_factory=list)


@dataclass
class ParsedLog:
    """Everything read from one log, before it becomes a ``ModelRun``."""

    flags: dict = field(default_factory=dict)            # canonical flag name -> value string
    raw_flags: dict = field(default_factory=dict)        # echoed label -> value string
    warmup: dict | None = None                           # Stat line of the warm-up runs (us)
    regular: dict | None = None                          # Stat line of the regular runs (us)
    summary: dict = field(default_factory=dict)          # "Inference timings in us" fields (us)
    profile_timings: dict = field(default_factory=dict)  # section -> Stat (us) of the profiler
    memory: dict = field(default_factory=dict)
    tables: list[ProfileTable] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    delegates: list[str] = field(default_factory=list)
    loaded_model: str = ""
    failed: bool = False
    incomplete: bool = False                             # warm-up ran, regular runs missing

    def table(self, title: str, section: str = "regular", subgraph: int = 0) -> ProfileTable | None:
        for t in self.tables:
            if t.title.lower() == title.lower() and t.section == section and t.subgraph == subgraph:
                return t
        return None


def strip_prefix(line: str) -> str:
    return _PREFIX.sub("", line.rstrip("\r\n"))


def parse_stat(line: str) -> dict:
    """``count=50 first=1 curr=2 min=1 max=3 avg=2.5e+03 std=7`` -> dict of floats."""
    return {m["key"]: float(m["value"]) for m in _KV.finditer(line)}


def parse_flags(lines: list[str]) -> tuple[dict, dict]:
    raw, canon = {}, {}
    for line in lines:
        m = _FLAG.match(line.strip())
        if not m:
            continue
        label, value = m["label"].strip(), m["value"].strip()
        raw[label] = value
        key = FLAG_LABELS.get(label.lower())
        if key and key not in canon:
            canon[key] = value
    return raw, canon


def _columns(header: str) -> tuple[list[str], bool]:
    """Field names of a table header; whether it is the CSV form (ValueError: not a table
    header, or one without the time column every profile table has)."""
    names = re.findall(r"\[([^\]]+)\]", header)
    csv = not names
    if csv:
        names = [c.strip() for c in header.split(",")]
    fields = []
    for n in names:
        key = _COLUMNS.get(n.strip().lower())
        if key is None:
            raise ValueError(n)
        fields.append(key)
    if "avg_ms" not in fields:
        raise ValueError("no [avg ms] column")
    return fields, csv


def _row_regex(fields: list[str], csv: bool) -> re.Pattern:
    """A row: free-text node type, the numeric columns, then the free-text name (if any).

    Node types and names may hold spaces and commas (XNNPACK: ``Convolution (NHWC, QC8)
    GEMM``), so only the numeric run in the middle anchors the split.
    """
    n_num = sum(1 for f in fields if f not in ("op_type", "name"))
    has_name = fields[-1] == "name"
    sep = r"\s*,\s*" if csv else r"\s+"
    nums = sep.join([f"({_NUM}%?)"] * n_num)
    tail = (r"(?:" + sep + r"(?P<name>.*?))?" if has_name else "") + r"\s*$"
    return re.compile(r"^\s*(?P<type>.+?)" + sep + nums + tail)


def _num(text: str) -> float:
    return float(text.rstrip("%"))


class _Corrupt(ValueError):
    """A number a log cannot hold as written (a count of nan or inf): the file is damaged."""


def _whole(value: float, what: str) -> int:
    """A count (runs, calls, nodes) as an int; nan or inf is not a count."""
    if not math.isfinite(value):
        raise _Corrupt(f"{what} is {value}, not a whole number")
    return int(value)


def _stat(text: str) -> dict:
    """``parse_stat`` of a Stat line whose count must be a count."""
    stat = parse_stat(text)
    if "count" in stat:
        _whole(stat["count"], "count")
    return stat


def _make_row(title: str, fields: list[str], m: re.Match):
    values = iter(m.groups()[1:])
    data: dict = {"op_type": m["type"].strip()}
    for f in fields:
        if f in ("op_type", "name"):
            continue
        data[f] = _num(next(values))
    if "Summary by node type" in title:
        return TypeRow(op_type=data["op_type"], count=_whole(data.get("count", 1), "count"), ms=data["avg_ms"],
                       pct=data.get("pct"), cdf=data.get("cdf"), mem_kb=data.get("mem_kb"),
                       times_called=_whole(data["times_called"], "times called") if "times_called" in data
                       else None)
    name = (m.groupdict().get("name") or "").strip()
    index = delegate_index = None
    idx = re.search(r":(\d+)$", name)
    if idx:
        name = name[: idx.start()]
        if name.startswith("Delegate/"):
            delegate_index = int(idx[1])
        else:
            index = int(idx[1])
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return ProfileRow(op_type=data["op_type"], avg_ms=data["avg_ms"],
                      times_called=_whole(data.get("times_called", 1), "times called"), first_ms=data.get("first_ms"),
                      start_ms=data.get("start_ms"), pct=data.get("pct"), cdf=data.get("cdf"),
                      mem_kb=data.get("mem_kb"), name=name, index=index, delegate_index=delegate_index)


def _read_table(lines: list[str], i: int, title: str, section: str, subgraph: int):
    """The profile table whose banner is line ``i``: (table or None, the line after it)."""
    header = lines[i + 1] if i + 1 < len(lines) else ""
    try:
        fields, csv = _columns(header)
    except ValueError:
        return None, i + 1
    table = ProfileTable(title=title, section=section, subgraph=subgraph, csv=csv)
    rx = _row_regex(fields, csv)
    j = i + 2
    while j < len(lines) and lines[j].strip():
        rm = rx.match(lines[j])
        if not rm:
            break
        try:
            table.rows.append(_make_row(title, fields, rm))
        except _Corrupt as exc:
            raise _Corrupt(exc.args[0], j + 1) from None
        j += 1
    return table, j


_INIT_HDR = re.compile(r"Profiling Info for Benchmark Initialization", re.I)
_REGULAR_HDR = re.compile(r"Operator-wise Profiling Info for Regular Benchmark Runs", re.I)
_SUBGRAPH_HDR = re.compile(r"^(?:Primary graph|Subgraph \(index: (?P<idx>\d+)[^)]*\))\s*\w*:\s*$")
_TIMINGS = re.compile(r"^(?:Subgraph \(index: \d+\) )?Timings \(microseconds\):(?P<rest>.*)$")
_RUNNING = re.compile(r"^Running benchmark for", re.I)
_SUMMARY = re.compile(r"^(?:Average )?inference timings in us:(?P<rest>.*)$", re.I)
_SUMMARY_FIELD = re.compile(r"(?P<key>[A-Za-z][A-Za-z ()]*?)\s*:\s*(?P<value>" + _NUM + r")")
_MEMORY = re.compile(r"^(?P<label>Peak memory footprint|Memory footprint delta from the start of the tool)"
                     r" \(MB\):\s*init=(?P<init>" + _NUM + r")\s+overall=(?P<overall>" + _NUM + r")")
_PEAK = re.compile(r"^Overall peak memory footprint \(MB\) via periodic monitoring:\s*(?P<v>" + _NUM + ")")
_DELEGATE_OK = re.compile(r"^(Created TensorFlow Lite (?:\w+ )?delegate for \w+.*|Explicitly applied .*delegate.*)$")
_FAILURE = re.compile(r"^(Failed to apply .*delegate.*|Benchmarking failed.*|.*failed to prepare.*|"
                      r"Failed to (?:mmap|load|allocate|invoke|initialize).*|Segmentation fault.*)$", re.I)


def parse_text(text: str, source: str = "") -> ParsedLog:
    """Read every known line of a ``benchmark_model`` log (or its CSV op profile).

    Raises ``DocscanError`` (naming ``source`` and the line) where a count is not a number
    of runs, which no benchmark_model prints: the file is damaged.
    """
    out = ParsedLog()
    raw = text.splitlines()
    lines = [strip_prefix(r) for r in raw]
    out.raw_flags, out.flags = parse_flags(lines)

    section, subgraph = "regular", 0
    bare_stats: list[tuple[int, dict, bool]] = []   # (line no, stat, preceded by "Running benchmark")
    summary_at = None
    after_running = False
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        try:
            if _INIT_HDR.search(s):
                section, subgraph = "init", 0
            elif _REGULAR_HDR.search(s):
                section, subgraph = "regular", 0
            elif s.startswith("Delegate internal"):
                section = "delegate_internal"
            elif (m := _SUBGRAPH_HDR.match(s)):
                subgraph = int(m["idx"]) if m["idx"] else 0
            elif (m := _BANNER.match(s)):
                table, i = _read_table(lines, i, m["title"].strip(), section, subgraph)
                if table is not None:
                    out.tables.append(table)
                continue
            elif (m := _TIMINGS.match(s)):
                out.profile_timings.setdefault(section, _stat(m["rest"]))
            elif _RUNNING.match(s):
                after_running = True
            elif re.match(r"^(?:count|curr)=", s):
                bare_stats.append((i, _stat(s), after_running))
                after_running = False
            elif (m := _SUMMARY.match(s)):
                summary_at = i
                for f in _SUMMARY_FIELD.finditer(m["rest"]):
                    out.summary[f["key"].strip()] = float(f["value"])
            elif (m := _MEMORY.match(s)):
                kind = "peak" if m["label"].startswith("Peak") else "delta"
                out.memory.update({"kind": kind, "init_mb": float(m["init"]), "overall_mb": float(m["overall"])})
            elif (m := _PEAK.match(s)):
                out.memory["peak_mb"] = float(m["v"])
            elif s.startswith("Loaded model "):
                out.loaded_model = s[len("Loaded model "):].strip()
            elif _DELEGATE_OK.match(s):
                out.delegates.append(s)
        except _Corrupt as exc:
            line_no = exc.args[1] if len(exc.args) > 1 else i + 1
            raise DocscanError(f"{source or 'benchmark_model log'}: line {line_no}: {exc.args[0]}") from None
        if _FAILURE.match(s) or raw[i].lstrip().startswith(("ERROR", "E0", "E1", "F0", "F1")):
            if s and s not in out.errors:
                out.errors.append(s)
            if re.match(r"^(Failed to apply|Benchmarking failed)", s):
                out.failed = True
        i += 1

    # The regular runs' Stat line is the one just before the timings summary; without a
    # summary the last of two; a single line after "Running benchmark" with no summary is
    # the warm-up of a run that never finished.
    if bare_stats:
        if summary_at is not None:
            before = [b for b in bare_stats if b[0] < summary_at]
            if before:
                out.regular = before[-1][1]
                if len(before) >= 2:
                    out.warmup = before[-2][1]
        elif len(bare_stats) >= 2:
            out.regular, out.warmup = bare_stats[-1][1], bare_stats[-2][1]
        elif bare_stats[0][2]:
            out.warmup = bare_stats[0][1]
            out.incomplete = True
        else:
            out.regular = bare_stats[0][1]
    return out


_ISA_IN_LOG = [
    (re.compile(r"arm64-v8a|aarch64|arm64", re.I), "aarch64"),
    (re.compile(r"armeabi-v7a|armeabi|armv7l?|armhf", re.I), "armv7"),
    (re.compile(r"riscv64", re.I), "riscv64"),
    (re.compile(r"x86[-_]64|amd64", re.I), "x86_64"),
]
# File names are terser: "android-arm" means the 32-bit android_arm build.
_ISA_IN_NAME = _ISA_IN_LOG + [(re.compile(r"(?<![a-z0-9])arm(?![a-z0-9])", re.I), "armv7")]


def guess_isa(text: str, source: str = "") -> tuple[str, str]:
    """ISA named by the log text, else by the file name; (isa, where it came from)."""
    for rx, isa in _ISA_IN_LOG:
        if rx.search(text):
            return isa, "log"
    name = Path(source).name if source else ""
    for rx, isa in _ISA_IN_NAME:
        if name and rx.search(name):
            return isa, "file name"
    return "unknown", "unknown"


def guess_device_kind(text: str, source: str = "") -> tuple[str, str]:
    name = Path(source).name.lower() if source else ""
    if re.search(r"qemu|emulat", text, re.I):
        return "emulated", "log"
    if re.search(r"/data/local/tmp|nnapi|android|hexagon", text, re.I):
        return "phone", "log"
    if re.search(r"qemu|emu", name):
        return "emulated", "file name"
    if re.search(r"android|phone|adb", name):
        return "phone", "file name"
    return "host", "default"


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0


def _stat_ms(stat: dict) -> dict:
    out = {"count": int(stat.get("count", 0))}
    for k in ("avg", "std", "min", "max", "first", "curr", "median", "p5", "p95"):
        if k in stat:
            out[f"{k}_ms"] = stat[k] / 1000.0
    if "avg_ms" not in out and "curr" in stat and out["count"] >= 1:
        out["avg_ms"] = stat["curr"] / 1000.0  # "count=1 curr=X": every run took X
    return out


def _whole_model_timing(parsed: ParsedLog, ops: list[OpTiming]) -> dict | None:
    """Whole-model latency, from the first source the log holds: the regular runs' Stat
    line, the summary line, the profiler's own total, the sum of per-op rows (a trimmed
    log). benchmark_model prints aggregates only. None: the log holds no timing at all."""
    if parsed.regular:
        timing = _stat_ms(parsed.regular)
        if "avg_ms" in timing:
            return {**timing, "source": "regular runs (count= line)"}
    if "Inference (avg)" in parsed.summary or "no stats" in parsed.summary:
        avg = parsed.summary.get("Inference (avg)", parsed.summary.get("no stats"))
        return {"avg_ms": avg / 1000.0, "source": "Inference timings line"}
    profiler = parsed.profile_timings.get("regular", {})
    if profiler.get("count", 0) > 0:
        timing = _stat_ms(profiler)
        if "avg_ms" in timing:
            return {**timing, "source": "op profiler total (Timings (microseconds) line)"}
    if ops:
        return {"avg_ms": sum(o.ms for o in ops), "source": "sum of per-op averages (log has no timing lines)"}
    return None


def _model_name(parsed: ParsedLog, source: str) -> str:
    graph = parsed.flags.get("graph") or parsed.loaded_model
    if graph:
        return graph.replace("\\", "/").rsplit("/", 1)[-1]
    return Path(source).stem if source else "model"


def to_model_run(parsed: ParsedLog, source: str = "", *, text: str = "", device: str | None = None,
                 device_kind: str | None = None, isa: str | None = None, abi: str = "",
                 threads: int | None = None, machine: str = "", model: str | None = None,
                 runtime: str = RUNTIME) -> ModelRun:
    label = source or "benchmark_model log"
    regular_tables = [t for t in parsed.tables if t.section == "regular" and t.subgraph == 0]
    run_order = next((t for t in regular_tables if t.title == "Run Order" and t.rows), None)
    top = next((t for t in regular_tables if t.title.startswith("Top by") and t.rows), None)
    by_type = next((t for t in regular_tables if t.title == "Summary by node type" and t.rows), None)
    notes: list[str] = []
    extra: dict = {}

    ops: list[OpTiming] = []
    per_op_method = ""
    if run_order or top:
        table = run_order or top
        for pos, r in enumerate(table.rows):
            op_extra = {"avg_ms_per_call": r.avg_ms, "times_called": r.times_called, "order": pos}
            for key in ("first_ms", "start_ms", "pct", "cdf", "mem_kb", "delegate_index"):
                if getattr(r, key) is not None:
                    op_extra[key] = getattr(r, key)
            if r.name.startswith("Delegate/") or "Delegate" in r.op_type:
                op_extra["delegated"] = True
            ops.append(OpTiming(op_type=r.op_type, ms=r.ms_per_run, name=r.name, index=r.index,
                                extra=op_extra))
        per_op_method = PER_OP_METHOD + (" (CSV output)" if table.csv else "")
        if table is top:
            notes.append(f"only the '{top.title}' table is in the log: per-op list holds the top "
                         f"{len(top.rows)} ops, not every op")
    elif by_type:
        for r in by_type.rows:
            ops.append(OpTiming(op_type=r.op_type, ms=r.ms, count=r.count,
                                extra={"pct": r.pct, "times_called": r.times_called, "per_type_only": True}))
        per_op_method = PER_OP_METHOD + " (per-type summary only)"
        notes.append("log holds only 'Summary by node type': ops are per-type totals")
    if by_type:
        extra["by_node_type"] = [{"op_type": r.op_type, "count": r.count, "ms": r.ms, "pct": r.pct,
                                  "times_called": r.times_called} for r in by_type.rows]
    init_tables = [t for t in parsed.tables if t.section == "init" and t.title == "Run Order"]
    if init_tables:
        extra["init_profile"] = [{"op_type": r.op_type, "ms": r.ms_per_run, "name": r.name}
                                 for r in init_tables[0].rows]
    internal = [t for t in parsed.tables if t.section == "delegate_internal" and t.title == "Run Order"]
    if internal:
        extra["delegate_internal"] = [{"op_type": r.op_type, "ms": r.ms_per_run, "name": r.name}
                                      for r in internal[0].rows]
    if any(t.subgraph for t in parsed.tables):
        notes.append("log has several subgraphs: ops are the primary graph's")

    timing = _whole_model_timing(parsed, ops)
    if timing is None:
        why = "; ".join(parsed.errors[-3:]) if parsed.errors else (
            "warm-up only, the regular runs never finished" if parsed.incomplete else
            "no 'count=... avg=...' line, no 'Inference timings' line and no op profile")
        failed = "benchmark_model failed: " if parsed.failed else ""
        raise DocscanError(f"{label}: no benchmark timings in this benchmark_model log ({failed}{why})")
    if timing["source"].startswith("sum of per-op"):
        notes.append("log has no whole-model timing lines: latency is the sum of the per-op averages")
    if parsed.incomplete and not parsed.regular:
        raise DocscanError(f"{label}: benchmark_model log stops after the warm-up (regular runs missing)")
    latency = [timing["avg_ms"]]
    if timing.get("count", 0) > 1:
        notes.append(f"benchmark_model prints aggregates only: latency_ms holds its mean over "
                     f"{timing['count']} runs; std/min/max are in extra['timing']")
    extra["timing"] = timing
    if "regular" in parsed.profile_timings:
        extra["profiler_total"] = _stat_ms(parsed.profile_timings["regular"])
    if parsed.warmup:
        extra["warmup_timing"] = _stat_ms(parsed.warmup)
    for key, name in (("Init", "init_ms"), ("First inference", "first_inference_ms"),
                      ("Warmup (avg)", "warmup_avg_ms"), ("Warmup", "warmup_avg_ms")):
        if key in parsed.summary and name not in extra:
            extra[name] = parsed.summary[key] / 1000.0
    if parsed.memory:
        extra["memory_mb"] = dict(parsed.memory)
    if parsed.flags:
        extra["flags"] = dict(parsed.flags)
    if parsed.delegates:
        extra["delegates"] = list(parsed.delegates)
    if parsed.errors:
        extra["errors"] = list(parsed.errors)
        notes.append("log reports errors: " + "; ".join(parsed.errors[:3]))

    if threads is None:
        try:
            threads = int(parsed.flags["num_threads"])
        except (KeyError, ValueError):
            threads = -1
            notes.append("thread count not stated in the log (-1: benchmark_model's default)")
    warmup = 0
    if parsed.warmup:
        warmup = int(parsed.warmup.get("count", 0))
    elif "warmup_runs" in parsed.flags:
        try:
            warmup = _whole(float(parsed.flags["warmup_runs"]), "warm-up runs")
        except ValueError:          # an echoed flag we cannot read says nothing about the runs
            notes.append(f"warm-up runs flag unreadable ({parsed.flags['warmup_runs']!r})")

    if isa is None:
        isa, isa_from = guess_isa(text, source)
        extra["isa_source"] = isa_from
        if isa_from == "file name":
            notes.append(f"ISA {isa} taken from the file name (the log does not say)")
    if device_kind is None:
        device_kind, kind_from = guess_device_kind(text, source)
        extra["device_kind_source"] = kind_from
    if device is None:
        device = f"log:{Path(source).name}" if source else "log"
    if device_kind == "emulated":
        notes.append("emulated: timings come from an emulator, not from real hardware")

    run = ModelRun(model=model or _model_name(parsed, source), device=device, device_kind=device_kind,
                   isa=isa, runtime=runtime, threads=threads, latency_ms=latency, warmup=warmup, ops=ops,
                   per_op_method=per_op_method, machine=machine, abi=abi, notes=notes, extra=extra)
    if source:
        run.extra["source"] = source
    return run


def parse_log(text: str, source: str = "", **kwargs) -> ModelRun:
    """A ``benchmark_model`` log (stdout or CSV profile) -> ``ModelRun``.

    ``kwargs`` (device, device_kind, isa, abi, threads, machine, model, runtime) override
    what the log says; ISA and device kind are otherwise read from the log or file name.
    Raises ``DocscanError`` naming ``source`` when the log holds no timings.
    """
    parsed = parse_text(text, source)
    return to_model_run(parsed, source, text=text, **kwargs)


def parse_file(path: str | Path, **kwargs) -> ModelRun:
    """``docscan bench --parse FILE``: read a saved log and parse it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise DocscanError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DocscanError(f"{path}: is a directory, expected a benchmark_model log") from None
    except OSError as exc:
        raise DocscanError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_log(text, source=str(path), **kwargs)


def merge_csv_profile(run: ModelRun, csv_text: str, source: str = "") -> ModelRun:
    """Put the per-op rows of a separate CSV op profile into a run parsed from stdout."""
    parsed = parse_text(csv_text, source)
    if not any(t.rows for t in parsed.tables):
        raise DocscanError(f"{source or 'CSV profile'}: no op profiling tables in this file")
    ops_run = to_model_run(parsed, source, text=csv_text, device=run.device, device_kind=run.device_kind,
                           isa=run.isa, threads=run.threads)
    run.ops = ops_run.ops
    run.per_op_method = ops_run.per_op_method
    for key in ("by_node_type", "init_profile"):
        if key in ops_run.extra:
            run.extra[key] = ops_run.extra[key]
    return run
