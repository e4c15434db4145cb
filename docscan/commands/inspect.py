"""`docscan inspect MODEL.tflite`: the op inventory of any .tflite file."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the inventory as JSON.")
@click.option("--target-runtime", default=None, help="Also say which ops a runtime of this version cannot run.")
def command(model, as_json, target_runtime):
    """Print every operator of MODEL with version, tensor types, MACs and minimum runtime."""
    from docscan.convert import runtime_versions
    from docscan.convert.inventory import inspect_file
    from docscan.errors import DocscanError

    inv = inspect_file(model)
    blockers = unknown = None
    if target_runtime:
        blockers, unknown = runtime_versions.blockers(inv.ops, target_runtime)
    if as_json:
        d = inv.to_dict()
        if target_runtime:
            d["target_runtime"] = {"version": target_runtime, "blockers": [str(b) for b in blockers],
                                   "unknown": unknown}
        click.echo(json.dumps(d, indent=2))
    else:
        from rich.console import Console

        from docscan.commands.convert_tables import inventory_summary, inventory_table
        con = Console()
        con.print(inventory_table(inv))
        con.print(inventory_summary(inv, model))
    if blockers:
        raise DocscanError(f"{model}: runtime {target_runtime} cannot run " + ", ".join(str(b) for b in blockers))
