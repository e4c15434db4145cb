"""`docscan models`: every zoo architecture with its parameters, MACs and float32 size.

The numbers come from ``docscan.zoo.summary.summarize``; this command only prints them.
"""

from __future__ import annotations

import json

import click


def _print_table(rows, per_layer: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from docscan.macs import format_count

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 200))   # piped: keep one row per model
    table = Table(title="docscan model zoo (MACs = multiply-accumulates per image; MB = 10^6 bytes)")
    for col, justify in (("name", "left"), ("family", "left"), ("input", "right"), ("params", "right"),
                         ("MACs", "right"), ("float32 MB", "right")):
        table.add_column(col, justify=justify, no_wrap=True)
    table.add_column("source", overflow="fold")
    for r in rows:
        h, w, c = r["input_shape"]
        table.add_row(r["name"], r["family"], f"{h}x{w}x{c}", f"{r['params']:,}", format_count(r["macs"]),
                      f"{r['float32_mb']:.2f}", r["source"])
    console.print(table)
    if per_layer:
        for r in rows:
            t = Table(title=f"{r['name']}: per layer")
            for col in ("layer", "type", "output", "params", "MACs"):
                t.add_column(col, justify="left" if col in ("layer", "type") else "right")
            for lc in r["layers"]:
                t.add_row(lc.name, lc.kind, "x".join(str(v) for v in lc.output_shape), f"{lc.params:,}",
                          f"{lc.macs:,}")
            t.add_row("total", "", "", f"{r['params']:,}", f"{r['macs']:,}")
            console.print(t)


@click.command(name="models")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--layers", "per_layer", is_flag=True, help="Also list parameters and MACs per layer.")
def command(names, as_json, per_layer):
    """List zoo architectures (all, or NAMES) with input size, parameters, MACs and float32 size."""
    from docscan.zoo.summary import summarize

    rows = summarize(names)
    if as_json:
        from dataclasses import asdict

        for r in rows:
            layers = r.pop("layers")
            if per_layer:
                r["layers"] = [asdict(lc) for lc in layers]
        click.echo(json.dumps(rows, indent=2))
    else:
        _print_table(rows, per_layer)
