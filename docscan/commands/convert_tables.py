"""Terminal tables (rich) for `docscan convert` and `docscan inspect`: the commands' view of
what ``docscan.convert`` returns (the library builds the data, these only lay it out)."""

from __future__ import annotations

from collections import Counter

from rich.table import Table


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _macs(n) -> str:
    if not n:
        return "-"
    if n >= 1e9:
        return f"{n / 1e9:.2f} G"
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.1f} k"


def convert_table(results) -> Table:
    t = Table(title="docscan convert", show_lines=False)
    for col in ("variant", "size", "vs fp32", "ops", "MACs", "min runtime", "worst max abs", "edge F",
                "corner IoU", "checks"):
        t.add_column(col, justify="right" if col not in ("variant", "checks", "ops") else "left")
    for r in results:
        rep = r.report
        counts = rep["inventory"]["counts"]
        top = ", ".join(f"{op} {n}" for op, n in list(counts.items())[:4])
        worst = max((o.max_abs for s in r.parity_sets for o in s.outputs), default=None)
        fs = " / ".join(f"{s.inputs} {s.outputs[0].edge_f:.3f}" for s in r.parity_sets
                        if s.outputs and s.outputs[0].edge_f is not None)
        iou = " / ".join(f"{s.inputs} {s.corner_iou:.3f}" for s in r.parity_sets if s.corner_iou is not None)
        ratio = rep["size_vs_fp32"]
        checks = "; ".join(str(c) for c in r.checks)
        t.add_row(r.variant, _mb(rep["size_bytes"]), "-" if ratio is None else f"{ratio:.2f}", top,
                  _macs(rep["inventory"]["total_macs"]), rep["inventory"]["min_runtime"] or "?",
                  "-" if worst is None else f"{worst:.2e}", fs or "-", iou or "-",
                  f"[green]{checks}[/]" if r.passed else f"[red]{checks}[/]")
    return t


def bn_table(passes: dict) -> Table | None:
    layers = passes.get("bn_folding", {}).get("layers", [])
    if not layers:
        return None
    t = Table(title="BatchNorm folding")
    t.add_column("fate")
    t.add_column("count", justify="right")
    t.add_column("example")
    by = Counter(layer["action"] for layer in layers)
    for action, n in by.most_common():
        ex = next(layer for layer in layers if layer["action"] == action)
        t.add_row(action, str(n), f"{ex['name']} -> {ex['target'] or ex['reason']}")
    diff = passes["bn_folding"].get("folded_vs_unfolded")
    if diff:
        for label, d in diff.items():
            t.add_row(f"max |folded - unfolded| ({label})", "", f"{d['max_abs']:.2e} (outputs up to {d['output_max_abs']:.3g})")
    return t


def inventory_table(inv, title: str = "") -> Table:
    t = Table(title=title or None)
    for col in ("#", "op", "ver", "min runtime", "inputs", "outputs", "MACs"):
        t.add_column(col, justify="right" if col in ("#", "ver", "MACs") else "left")

    def fmt(ts):
        return ", ".join(f"{x.dtype.lower()}{x.shape}" for x in ts if x.index >= 0)
    for o in inv.ops:
        t.add_row(str(o.index), o.op, str(o.version), o.min_runtime or "?", fmt(o.inputs), fmt(o.outputs),
                  _macs(o.macs))
    return t


def inventory_summary(inv, path: str) -> Table:
    t = Table(title=f"{path}", show_header=False)
    t.add_column("k")
    t.add_column("v")
    counts = Counter(o.op for o in inv.ops)
    t.add_row("size", f"{_mb(inv.size_bytes)} ({inv.size_bytes} bytes; buffers {_mb(inv.weight_bytes)})")
    t.add_row("operators", f"{len(inv.ops)} in {inv.subgraphs} subgraph(s): " +
              ", ".join(f"{op} {n}" for op, n in counts.most_common()))
    t.add_row("MACs", _macs(inv.total_macs))
    t.add_row("inputs", ", ".join(f"{x.name} {x.dtype.lower()}{x.shape}" for x in inv.inputs))
    t.add_row("outputs", ", ".join(f"{x.name} {x.dtype.lower()}{x.shape}" for x in inv.outputs))
    t.add_row("min runtime", inv.min_runtime or "unknown")
    return t
