"""`docscan bench MODEL --device D --baseline FILE --check | --update-baseline` as one call.

``cli_check`` is what the bench command calls (and what anyone can call without click):
it prints the verdict and the per-op diff table, writes the verdict as JSON with a PNG
beside it, and returns the process exit code: 0 pass, 1 regression. Bad input (baseline of
another schema, model or set-up; a corrupt file) raises DocscanError (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from docscan.errors import DocscanError
from docscan.regress import gate

VERDICT_SCHEMA = "docscan.regress-verdict/1"


def cli_check(model: str, device: str, baseline: str, *, check: bool = False, update: bool = False,
              deterministic: bool = False, tolerance: float | None = None, threads: int = 1,
              xnnpack: bool = True, rounds: int = 12, runs: int = 7, warmup: int = 2, per_op: bool = True,
              allow_op_change: bool = False, output: str | None = "docscan-regress.json", png: bool = True,
              top: int = 15, echo=print) -> int:
    if check == update:
        raise DocscanError("--baseline FILE needs exactly one of --check or --update-baseline")
    if not model:
        raise DocscanError("--baseline: give exactly one MODEL.tflite")
    if tolerance is not None and not 0 <= tolerance < 1:
        raise DocscanError(f"--tolerance {tolerance}: a fraction, e.g. 0.05 for 5 %")
    from docscan.bench.run import check_models, parse_device

    check_models([model])
    device = parse_device(device).spec
    mode = "instructions" if deterministic else "walltime"
    if update:
        entry, notes = gate.update(model, baseline, device, deterministic=deterministic, threads=threads,
                                   xnnpack=xnnpack, rounds=rounds, runs=runs, warmup=warmup, per_op=per_op)
        value = (f"{entry.stats['per_inference']:,} instructions/inference" if deterministic
                 else f"median {entry.stats['median_ms']:.3f} ms (x{entry.stats['norm']:.3f} yardstick, "
                      f"spread {100 * entry.stats['norm_rel_mad']:.1f} %)")
        for n in notes:
            echo(f"note: {n}")
        emu = " (EMULATED)" if entry.setup.emulated else ""
        echo(f"baseline updated: {baseline} [{device}{emu}, {mode}]: {value}")
        return 0
    verdict = gate.check(model, baseline, device, deterministic=deterministic, tolerance=tolerance,
                         threads=threads, xnnpack=xnnpack, rounds=rounds, runs=runs, warmup=warmup, per_op=per_op,
                         allow_op_change=allow_op_change)
    print_verdict(verdict, top=top)
    if output:
        from docscan.atomic import write_json
        out = Path(output)
        write_json(out, {"schema": VERDICT_SCHEMA, "baseline": str(baseline), **verdict.to_dict()})
        echo(f"wrote {out}")
        if png:
            echo(f"wrote {write_png(verdict, out.with_suffix('.png'))}")
    return 0 if verdict.passed else 1


def _fmt(v, unit: str) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if unit == "instructions" else f"{v:.4f}"


def print_verdict(v: gate.Verdict, top: int = 15, table: bool = True) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    emu = " EMULATED" if v.emulated else ""
    colour = "red" if not v.passed else "green"
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


def write_png(v: gate.Verdict, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from docscan.atomic import atomic_path

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 2]})
    ratios = [100 * (a["ratio"] - 1) for a in v.attempts]
    thr = [100 * a["threshold"] for a in v.attempts]
    xs = range(1, len(ratios) + 1)
    a1.bar(xs, ratios, color=["tab:red" if r > t else "tab:green" for r, t in zip(ratios, thr)])
    a1.plot(xs, thr, "k_", ms=30, mew=2, label="threshold")
    a1.axhline(0, color="k", lw=0.7)
    a1.set_xticks(list(xs))
    a1.set_xlabel("measurement (2nd = confirmation)")
    a1.set_ylabel("change vs baseline (%)")
    a1.legend(fontsize=8)
    emu = " - EMULATED" if v.emulated else ""
    a1.set_title(f"{v.status}: {v.mode}{emu}", fontsize=9)
    rows = [r for r in v.op_diff if r["delta"]][:15]
    if rows:
        labels = [f"{r['op_type']} {str(r['name'])[:38]}" for r in rows][::-1]
        vals = [r["delta"] for r in rows][::-1]
        a2.barh(range(len(rows)), vals, color=["tab:red" if x > 0 else "tab:green" for x in vals])
        a2.set_yticks(range(len(rows)))
        a2.set_yticklabels(labels, fontsize=6)
        a2.axvline(0, color="k", lw=0.7)
        a2.set_xlabel("change (" + ("instructions / inference" if v.mode == "instructions" else "ms") + ")")
        a2.set_title("largest per-op / per-kernel changes", fontsize=9)
    else:
        a2.axis("off")
        a2.text(0.5, 0.5, "no per-op changes recorded", ha="center", va="center")
    fig.suptitle(f"{v.model} on {v.device}{emu}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def regress_options(f):
    """Adds the gate's options to `docscan bench` (one decorator line there).

    With ``--baseline FILE`` the command becomes the gate: one MODEL, one --device,
    ``--check`` or ``--update-baseline``; without it, ``docscan bench`` is unchanged.
    """
    import functools

    import click

    @functools.wraps(f)
    def wrapper(*args, baseline, check, update_baseline, deterministic, tolerance, allow_op_change, rounds, **kw):
        if baseline is None:
            if check or update_baseline or deterministic or allow_op_change or tolerance is not None:
                raise DocscanError("--check, --update-baseline, --deterministic, --tolerance and "
                                   "--allow-op-change need --baseline FILE")
            return f(*args, **kw)
        models, devices = kw.get("models") or (), kw.get("devices") or ()
        if len(models) != 1:
            raise DocscanError(f"--baseline: give exactly one MODEL.tflite (got {len(models)})")
        if len(devices) > 1:
            raise DocscanError("--baseline: give one --device per check (run the command once per device)")
        if kw.get("compare") or kw.get("parse_files"):
            raise DocscanError("--baseline does not combine with --compare or --parse")
        ctx = click.get_current_context()
        output = kw.get("output")
        if ctx.get_parameter_source("output") == click.core.ParameterSource.DEFAULT:
            output = "docscan-regress.json"
        code = cli_check(models[0], devices[0] if devices else "host", baseline, check=check,
                         update=update_baseline, deterministic=deterministic, tolerance=tolerance,
                         threads=kw.get("threads", 1), xnnpack=kw.get("xnnpack", True), rounds=rounds,
                         runs=kw.get("runs") or 7, warmup=kw.get("warmup", 2), per_op=kw.get("per_op", True),
                         allow_op_change=allow_op_change, output=output, png=not kw.get("no_png", False),
                         top=kw.get("top", 15), echo=click.echo)
        if code:
            ctx.exit(code)

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
        wrapper = opt(wrapper)
    return wrapper
