"""The latency gate on the command line: `docscan bench MODEL --device D --baseline FILE
--check | --update-baseline`.

``gate_options`` adds the gate's options to `docscan bench`; ``wants_gate`` says whether
they were given; ``run_gate`` checks them, runs ``docscan.regress.gate`` and prints the
verdict and its per-op diff table, writes the verdict (JSON and PNG) in the output folder,
and returns the exit code: 0 pass, 1 regression. Bad input (a baseline of another schema,
model or set-up; a corrupt file) raises DocscanError (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import click

from docscan.errors import DocscanError
from docscan.progress import Progress, silent
from docscan.regress import gate

VERDICT_FILE = "docscan-regress.json"       # written in -o DIR, with its PNG beside it
GATE_FLAGS = ("check", "update_baseline", "deterministic", "tolerance", "allow_op_change")


def gate_options(f):
    """The gate's options on `docscan bench` (one decorator line there).

    With ``--baseline FILE`` the command becomes the gate: one MODEL, one --device,
    ``--check`` or ``--update-baseline``; without it, ``docscan bench`` is unchanged.
    """
    options = [
        click.option("--baseline", type=click.Path(dir_okay=False), default=None,
                     help="Latency baseline (JSON) for the regression gate: with --check or --update-baseline."),
        click.option("--check", is_flag=True, help="Compare MODEL with --baseline; exit 1 on a regression."),
        click.option("--update-baseline", is_flag=True, help="Measure MODEL and (re)write its entry in --baseline."),
        click.option("--deterministic", is_flag=True,
                     help="Count instructions per inference (callgrind / qemu plugin) instead of wall time."),
        click.option("--tolerance", type=float, default=None,
                     help="Smallest relative slowdown that fails (default 0.05 wall time, 0.01 deterministic); "
                          "wall time raises it further on a noisy machine."),
        click.option("--rounds", default=12, show_default=True,
                     help="Gate: interleaved model/yardstick rounds (each --runs inferences)."),
        click.option("--allow-op-change", is_flag=True,
                     help="Gate: compare even though MODEL's op list differs from the baseline's model."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def wants_gate(options: dict) -> bool:
    """Whether the command is the gate; a gate flag without --baseline is an error."""
    if options["baseline"] is not None:
        return True
    if any(options[k] not in (None, False) for k in GATE_FLAGS):
        raise DocscanError("--check, --update-baseline, --deterministic, --tolerance and "
                           "--allow-op-change need --baseline FILE")
    return False


def run_gate(models, devices, *, baseline: str, check: bool, update_baseline: bool, deterministic: bool,
             tolerance: float | None, allow_op_change: bool, rounds: int, runs: int, warmup: int, threads: int,
             xnnpack: bool, per_op: bool, folder: Path, png: bool, top: int, phone: dict,
             progress: Progress = silent, compare: bool = False, parse: bool = False) -> int:
    from docscan.bench.devices import parse_device
    from docscan.bench.run import check_models

    if len(models) != 1:
        raise DocscanError(f"--baseline: give exactly one MODEL.tflite (got {len(models)})")
    if len(devices) > 1:
        raise DocscanError("--baseline: give one --device per check (run the command once per device)")
    if compare or parse:
        raise DocscanError("--baseline does not combine with --compare or --parse")
    if check == update_baseline:
        raise DocscanError("--baseline FILE needs exactly one of --check or --update-baseline")
    if tolerance is not None and not 0 <= tolerance < 1:
        raise DocscanError(f"--tolerance {tolerance}: a fraction, e.g. 0.05 for 5 %")
    if not deterministic and (rounds < 3 or runs < 1):
        raise DocscanError(f"--rounds {rounds} / --runs {runs}: the gate needs >= 3 rounds of >= 1 run")
    model = models[0]
    check_models([model])
    device = parse_device(devices[0] if devices else "host", {"phone": phone}).spec
    measure = {"deterministic": deterministic, "threads": threads, "xnnpack": xnnpack, "rounds": rounds,
               "runs": runs, "warmup": warmup, "per_op": per_op, "progress": progress, "phone": phone}
    if update_baseline:
        entry, notes = gate.update(model, baseline, device, **measure)
        for n in notes:
            click.echo(f"note: {n}")
        click.echo(f"baseline updated: {baseline} [{device}{' (EMULATED)' if entry.setup.emulated else ''}, "
                   f"{'instructions' if deterministic else 'walltime'}]: {_baseline_value(entry)}")
        return 0
    verdict = gate.check(model, baseline, device, tolerance=tolerance, allow_op_change=allow_op_change, **measure)
    print_verdict(verdict, top=top)
    from docscan.regress.verdict import write_verdict

    for path in write_verdict(verdict, baseline, folder / VERDICT_FILE, png=png):
        click.echo(f"wrote {path}")
    return 0 if verdict.passed else 1


def _baseline_value(entry) -> str:
    s = entry.stats
    if s["unit"] == "instructions":
        return f"{s['per_inference']:,} instructions/inference"
    return f"median {s['median_ms']:.3f} ms (x{s['norm']:.3f} yardstick, spread {100 * s['norm_rel_mad']:.1f} %)"


def _fmt(v, unit: str) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if unit == "instructions" else f"{v:.4f}"


def print_verdict(v: gate.Verdict, top: int = 15, table: bool = True) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    emu = " EMULATED" if v.emulated else ""
    colour = "red" if not v.passed else ("yellow" if not v.compared else "green")
    if v.mode == "instructions":
        what = f"{v.new_value:,.0f} vs {v.base_value:,.0f} instructions/inference"
    else:
        what = (f"median {v.new_value:.3f} ms vs {v.base_value:.3f} ms raw; normalised to the yardstick "
                f"x{v.ratio:.3f}")
    console.print(f"[bold {colour}]{v.status}[/] {v.model} on {v.device}{emu} ({v.mode}): {what}; "
                  f"change {100 * (v.ratio - 1):+.2f} %, threshold +{100 * v.threshold:.2f} %")
    for i, a in enumerate(v.attempts):
        if len(v.attempts) > 1:
            console.print(f"  measurement {i + 1}: {100 * (a['ratio'] - 1):+.2f} % (threshold "
                          f"+{100 * a['threshold']:.2f} %)")
    for n in v.notes:
        console.print(f"  note: {n}")
    if not v.op_diff or not table:
        return
    unit = v.op_diff[0].get("unit") or ("instructions" if v.mode == "instructions" else "ms")
    title = ("per kernel function (callgrind self instructions, one inference)" if v.mode == "instructions"
             and v.device == "host" else f"per op ({'instructions' if v.mode == 'instructions' else 'ms'})")
    t = Table(title=f"{v.model} vs baseline: {title}{emu}")
    t.add_column("op" if v.mode == "walltime" else "kernel function", overflow="fold", ratio=3)
    for col in ("baseline", "now", "change", "%"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in v.op_diff[:top or None]:
        pct = "-" if r["pct"] is None else f"{r['pct']:+.1f}"
        style = "red" if r["change"] in ("slower", "added") else "green" if r["change"] in ("faster", "removed") else ""
        change = f"{r['change']} {_fmt(abs(r['delta']), unit)}" if r["delta"] else r["change"]
        if v.mode == "walltime" and r["pct"] is not None and abs(r["pct"]) < 100 * v.threshold:
            style, change = "", "within noise"     # per-op times are single-shot medians
        t.add_row(str(r["key"]), _fmt(r["base"], unit), _fmt(r["new"], unit),
                  f"[{style}]{change}[/]" if style else change, pct)
    console.print(t)
