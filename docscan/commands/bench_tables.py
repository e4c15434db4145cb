"""`docscan bench`'s terminal tables, drawn with rich from ``docscan.bench.report``'s rows."""

from __future__ import annotations

from docscan.bench.report import (
    EMU_WARNING,
    by_model,
    fmt,
    label,
    method_label,
    op_rows,
    op_type_rows,
    pair_32_64,
    per_op_total,
    ratio,
    spread,
)
from docscan.bench.schema import BenchReport


def print_report(report: BenchReport, console=None, top: int = 15) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    any_emu = any(r.emulated for r in report.runs)
    groups = by_model(report)
    if len(groups) > 1:
        print_matrix(groups, console)
    for model, runs in by_model(report).items():
        pair = pair_32_64(runs)
        t = Table(title=f"{model}: whole-model latency (ms per inference)", title_justify="left")
        for col in ("device", "runtime", "threads", "runs", "median", "IQR", "per-op sum", "gap", "per-op method"):
            t.add_column(col, justify="left" if col in ("device", "runtime", "per-op method") else "right")
        for r in runs:
            tot = per_op_total(r) if r.ops else None
            gap = 100.0 * (tot - r.median_ms) / r.median_ms if tot is not None and r.median_ms else None
            t.add_row(label(r), r.runtime, str(r.threads), str(len(r.latency_ms)), fmt(r.median_ms, 3),
                      spread(r), fmt(tot, 3), fmt(gap, 0, "%"), method_label(r) or "-")
        console.print(t)
        for r in runs:
            if r.extra.get("per_op_fallback"):
                console.print(f"  {label(r)}: {r.extra['per_op_fallback']}", markup=False)
            if r.extra.get("xnnpack_applied"):   # emulated runs: which kernels really ran
                console.print(f"  {label(r)}: XNNPACK {r.extra['xnnpack_applied']}", markup=False)
        if pair:
            console.print(f"  32/64 whole-model ratio ({label(pair[0])} / {label(pair[1])}): "
                          f"{fmt(ratio(pair[0].median_ms, pair[1].median_ms))}")
        with_ops = [r for r in runs if r.ops]
        if not with_ops:
            continue
        labs = [label(r) for r in with_ops]
        t = Table(title=f"{model}: per op type (ms, share of the per-op total)", title_justify="left")
        t.add_column("op type")
        t.add_column("n", justify="right")
        for lab in labs:
            t.add_column(lab, justify="right")
        if pair:
            t.add_column("32/64", justify="right")
        for row in op_type_rows(with_ops):
            cells = [f"{fmt(row['ms'].get(lab), 3)} ({fmt(row['share_pct'].get(lab), 0, '%')})" for lab in labs]
            t.add_row(row["op_type"], str(row["count"]), *cells, *([fmt(row["ratio_32_64"])] if pair else []))
        console.print(t)
        rows = op_rows(with_ops)
        rows.sort(key=lambda r: -max([v for v in r["ms"].values() if v is not None] or [0]))
        shown = rows if top <= 0 else rows[:top]
        t = Table(title=f"{model}: slowest {len(shown)} of {len(rows)} ops (ms)", title_justify="left")
        t.add_column("#", justify="right")
        t.add_column("op")
        t.add_column("output tensor", overflow="ellipsis", max_width=36)
        for lab in labs:
            t.add_column(lab, justify="right")
        if pair:
            t.add_column("32/64", justify="right")
        for row in shown:
            t.add_row(str(row["index"]), row["op_type"], row["name"],
                      *[fmt(row["ms"].get(lab), 3) for lab in labs], *([fmt(row["ratio_32_64"])] if pair else []))
        console.print(t)
    methods = sorted({r.per_op_method for r in report.runs if r.per_op_method})
    for m in methods:
        console.print(f"per-op method: {m}", markup=False)
    if any_emu:
        console.print(f"[bold]{EMU_WARNING}[/bold]")
    # Modelled cores: each says how it was estimated (core, clock, method), once.
    for method in dict.fromkeys(r.extra.get("method", "") for r in report.runs if r.device_kind == "estimated"):
        console.print(method, style="bold", markup=False)


def print_matrix(groups, console) -> None:
    """Models x devices, median ms, plus the 32/64 ratio: several models compared at a glance."""
    from rich.table import Table

    labs: list[str] = []
    for runs in groups.values():
        labs += [label(r) for r in runs if label(r) not in labs]
    t = Table(title="median ms per inference, all models", title_justify="left")
    t.add_column("model")
    for lab in labs:
        t.add_column(lab, justify="right")
    t.add_column("32/64", justify="right")
    for model, runs in groups.items():
        med = {label(r): r.median_ms for r in runs}
        pair = pair_32_64(runs)
        t.add_row(model, *[fmt(med.get(lab), 2) for lab in labs],
                  fmt(ratio(pair[0].median_ms, pair[1].median_ms)) if pair else "-")
    console.print(t)
