"""A BenchReport as data and a chart: whole-model latency, per-op-type and per-op side by side
(the tables a terminal shows are drawn from these rows by ``docscan/commands/bench_tables.py``).

The 32/64 column divides a model's armv7 time by its aarch64 time measured the same way
(emulated with emulated, phone with phone). Emulated runs say "(emulated)" in every
column header, table title and chart label: qemu timings are not phone timings.
"""

from __future__ import annotations

import math
import statistics
from collections import OrderedDict
from pathlib import Path

from docscan.bench.schema import BenchReport, ModelRun

EMU_WARNING = ("EMULATED devices run under qemu-user on the host CPU: NEON is translated to x86 SSE, "
               "so their times and 32/64 ratios show what the ARM code does, not what a phone takes.")


def label(run: ModelRun) -> str:
    base = run.device
    if run.extra.get("source_label"):
        base = f"{base} [{run.extra['source_label']}]"
    if run.device_kind == "phone" and run.abi:
        base = f"{base} {run.abi}"
    if run.device_kind == "estimated":
        return base + " (estimated)"
    return base + (" (emulated)" if run.emulated else "")


def spread(run: ModelRun) -> str:
    lat = sorted(run.latency_ms)
    if len(lat) < 2:
        return "-"
    q = statistics.quantiles(lat, n=4) if len(lat) >= 4 else [lat[0], 0, lat[-1]]
    return f"{q[0]:.2f}-{q[2]:.2f}"


def by_model(report: BenchReport) -> OrderedDict[str, list[ModelRun]]:
    out: OrderedDict[str, list[ModelRun]] = OrderedDict()
    for r in report.runs:
        out.setdefault(r.model, []).append(r)
    return out


def pair_32_64(runs: list[ModelRun]) -> tuple[ModelRun, ModelRun] | None:
    """(armv7, aarch64) runs of one model measured the same way, preferring emulated pairs
    (estimated runs pair on the same core)."""
    for kind in ("emulated", "phone"):
        a32 = [r for r in runs if r.device_kind == kind and r.isa == "armv7"]
        a64 = [r for r in runs if r.device_kind == kind and r.isa == "aarch64"]
        if a32 and a64:
            return a32[0], a64[0]
    estimated = [r for r in runs if r.device_kind == "estimated"]
    for r32 in (r for r in estimated if r.isa == "armv7"):
        r64 = [r for r in estimated if r.isa == "aarch64" and r.extra.get("core") == r32.extra.get("core")]
        if r64:
            return r32, r64[0]
    return None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def fmt(x, digits=2, suffix="") -> str:
    """A number for a table cell: '-' where there is none."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}{suffix}"


def method_label(run: ModelRun) -> str:
    """How a run's per-op times were taken, for tables: "LiteRT profiler", "one-op cuts",
    "one-op cuts (fallback)" where a requested profiler was not available, "" without ops."""
    from docscan.bench.devices import METHOD_NAMES

    text = METHOD_NAMES.get(run.extra.get("per_op_method_name", ""), "")
    if text and run.extra.get("per_op_fallback"):
        return text + " (fallback)"
    if not text and run.ops:
        return "benchmark_model" if run.device_kind == "phone" else ("estimated" if run.device_kind == "estimated" else "")
    return text


def per_op_total(run: ModelRun) -> float:
    return sum(o.ms for o in run.ops)


def op_type_rows(runs: list[ModelRun]) -> list[dict]:
    """Per op type: {op_type, count, ms: {label: ms}, share: {label: %}, ratio}."""
    pair = pair_32_64(runs)
    tables = {label(r): {t.op_type: t for t in r.by_op_type()} for r in runs if r.ops}
    totals = {label(r): per_op_total(r) for r in runs if r.ops}
    types: list[str] = []
    for r in runs:
        for t in r.by_op_type():
            if t.op_type not in types:
                types.append(t.op_type)
    rows = []
    for ty in types:
        ms = {lab: (tab[ty].ms if ty in tab else None) for lab, tab in tables.items()}
        share = {lab: (100.0 * v / totals[lab] if v is not None and totals[lab] else None) for lab, v in ms.items()}
        count = max((tab[ty].count for tab in tables.values() if ty in tab), default=0)
        r32_64 = ratio(ms.get(label(pair[0])), ms.get(label(pair[1]))) if pair else None
        rows.append({"op_type": ty, "count": count, "ms": ms, "share_pct": share, "ratio_32_64": r32_64})
    return rows


def op_rows(runs: list[ModelRun]) -> list[dict]:
    """Per node (by execution index): {index, op_type, name, ms: {label: ms}, ratio}."""
    pair = pair_32_64(runs)
    nodes: OrderedDict = OrderedDict()
    for r in runs:
        for o in r.ops:
            key = (o.index, o.op_type) if o.index is not None else (o.name, o.op_type)
            row = nodes.setdefault(key, {"index": o.index, "op_type": o.op_type, "name": o.name, "ms": {}})
            row["ms"][label(r)] = o.ms
    for row in nodes.values():
        row["ratio_32_64"] = ratio(row["ms"].get(label(pair[0])), row["ms"].get(label(pair[1]))) if pair else None
    return list(nodes.values())


def summary(report: BenchReport) -> dict:
    """The side-by-side tables as plain data (stored in the JSON beside the raw runs)."""
    out = {}
    for model, runs in by_model(report).items():
        pair = pair_32_64(runs)
        out[model] = {
            "latency": [{"device": label(r), "emulated": r.emulated, "runtime": r.runtime, "median_ms": r.median_ms,
                         "iqr_ms": spread(r), "runs": len(r.latency_ms),
                         "per_op_sum_ms": per_op_total(r) if r.ops else None,
                         "per_op_method": method_label(r) or None,
                         "per_op_fallback": r.extra.get("per_op_fallback"),
                         "per_op_gap_pct": (100.0 * (per_op_total(r) - r.median_ms) / r.median_ms
                                            if r.ops and r.median_ms else None)} for r in runs],
            "ratio_32_64": ratio(pair[0].median_ms, pair[1].median_ms) if pair else None,
            "op_types": op_type_rows(runs),
        }
    return out


def report_dict(report: BenchReport) -> dict:
    d = report.to_dict()
    d["summary"] = summary(report)
    if any(r.emulated for r in report.runs):
        d["warning"] = EMU_WARNING
    return d


def save(report: BenchReport, json_path: str | Path, png: bool = True) -> list[Path]:
    from docscan.atomic import write_json

    json_path = Path(json_path)
    written = [write_json(json_path, report_dict(report))]
    if png:
        written.append(save_png(report, json_path.with_suffix(".png")))
    return written


def save_png(report: BenchReport, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from docscan.atomic import atomic_path

    groups = by_model(report)
    n = len(groups)
    # one colour per op type across every model, so panels can be compared by eye
    all_types = []
    for r in report.runs:
        all_types += [t.op_type for t in r.by_op_type() if t.op_type not in all_types]
    cmap = plt.get_cmap("tab20")
    colour_of = {ty: cmap(i % 20) for i, ty in enumerate(all_types)}
    colour_of["other"] = "lightgrey"
    fig, axes = plt.subplots(n, 2, figsize=(14, 3.2 + 1.0 * max(len(v) for v in groups.values())) if n == 1
                             else (14, 2.2 + 2.6 * n), squeeze=False)
    for row, (model, runs) in enumerate(groups.items()):
        labs = [label(r) for r in runs]
        ax = axes[row][0]
        med = [r.median_ms for r in runs]
        lo = [r.median_ms - min(r.latency_ms) for r in runs]
        hi = [max(r.latency_ms) - r.median_ms for r in runs]
        colors = ["tab:orange" if r.emulated else ("tab:green" if r.device_kind == "phone" else "tab:blue")
                  for r in runs]
        ax.barh(range(len(runs)), med, xerr=[lo, hi], color=colors)
        if max(med) > 50 * min(med):       # host vs emulated spans orders of magnitude
            ax.set_xscale("log")
        for y, m in enumerate(med):
            ax.text(m, y, f" {m:.3g} ms", va="center", fontsize=7)
        ax.set_yticks(range(len(runs)), labs, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms per inference (median, min-max)")
        ax.set_title(f"{model}: whole model", fontsize=9)
        ax = axes[row][1]
        with_ops = [r for r in runs if r.ops]
        if not with_ops:
            ax.axis("off")
            continue
        types = [t["op_type"] for t in op_type_rows(with_ops)][:8]
        left = [0.0] * len(with_ops)
        for ty in types + ["other"]:
            vals = []
            for r in with_ops:
                tab = {t.op_type: t.ms for t in r.by_op_type()}
                tot = per_op_total(r) or 1.0
                v = sum(ms for t2, ms in tab.items() if t2 not in types) if ty == "other" else tab.get(ty, 0.0)
                vals.append(100.0 * v / tot)
            ax.barh(range(len(with_ops)), vals, left=left, color=colour_of[ty], label=ty)
            left = [a + b for a, b in zip(left, vals)]
        ax.set_yticks(range(len(with_ops)), [label(r) for r in with_ops], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of per-op time (%)")
        ax.set_title(f"{model}: op types", fontsize=9)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if any(r.emulated for r in report.runs):
        fig.suptitle("orange = EMULATED (qemu-user on " + (report.host.split(": ", 1)[-1][:60]) +
                     "): not phone times", fontsize=9, color="tab:orange")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def parse_logs(paths) -> BenchReport:
    """Saved ``benchmark_model`` logs (stdout or CSV profile) as one report, a run per log."""
    import time

    from docscan.bench.benchmark_model import parse_file

    return BenchReport(runs=[parse_file(p) for p in paths], created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       command="parse " + " ".join(map(str, paths)))


def compare(paths) -> BenchReport:
    """Saved runs side by side: each run keeps its device, labelled by the file it came from
    (its name; folder/name where two files share a name, as ``-o`` folders' files do)."""
    from docscan.bench.schema import load_report

    names = [Path(p).name for p in paths]
    runs = []
    hosts = []
    for p, name in zip(paths, names):
        rep = load_report(p)
        hosts.append(rep.host)
        source = f"{Path(p).resolve().parent.name}/{name}" if names.count(name) > 1 else name
        for r in rep.runs:
            r.extra["source_label"] = source
            runs.append(r)
    return BenchReport(runs=runs, host=" | ".join(h for h in hosts if h), command="compare " + " ".join(map(str, paths)))
