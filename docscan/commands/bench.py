"""docscan bench: thin CLI over docscan.bench.run / report (and the phone helpers)."""

from __future__ import annotations

import click

from docscan.errors import DocscanError
from docscan.regress.cli import regress_options


@click.command(name="bench")
@click.argument("models", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--device", "-d", "devices", multiple=True,
              help="host, emu:armv7, emu:aarch64 or adb:SERIAL; repeat to compare (default: host).")
@click.option("--runs", default=10, show_default=True, help="Timed inferences per model and device.")
@click.option("--warmup", default=2, show_default=True, help="Untimed inferences first.")
@click.option("--threads", default=1, show_default=True, help="Interpreter threads.")
@click.option("--xnnpack/--no-xnnpack", default=True, show_default=True, help="TFLite's default XNNPACK delegate.")
@click.option("--per-op/--no-per-op", default=True, show_default=True,
              help="Per-op timings (one-op models cut from each model, timed on the same device).")
@click.option("--op-runs", type=int, default=None, help="Timed runs per one-op model (default: --runs).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="docscan-bench.json", show_default=True,
              help="JSON report; a PNG chart is written beside it.")
@click.option("--no-png", is_flag=True, help="Skip the PNG chart.")
@click.option("--top", default=15, show_default=True, help="Ops shown in the per-op table (0: all).")
@click.option("--parse", "parse_files", multiple=True, type=click.Path(dir_okay=False),
              help="Turn a saved benchmark_model log into our table (repeatable).")
@click.option("--compare", "compare", is_flag=True,
              help="The arguments are saved docscan bench JSON files: put them side by side.")
@click.option("--benchmark-binary", "benchmark_binaries", multiple=True, metavar="ABI=PATH",
              help="Phones: your benchmark_model build for armeabi-v7a or arm64-v8a (repeatable).")
@click.option("--android-config", type=click.Path(dir_okay=False), default=None,
              help="Phones: TOML/JSON naming android_arm / android_aarch64 binaries "
                   "(default ~/.config/docscan/android.toml).")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@regress_options   # --baseline FILE --check / --update-baseline [--deterministic]: docscan.regress
def command(models, devices, runs, warmup, threads, xnnpack, per_op, op_runs, output, no_png, top,
            parse_files, compare, benchmark_binaries, android_config, quiet):
    """Benchmark MODEL.tflite files on host, emulated ARM (qemu) and phones, with per-op tables.

    \b
    docscan bench a.tflite b.tflite -d emu:armv7 -d emu:aarch64 -d host
    docscan bench a.tflite -d adb:SERIAL/armeabi-v7a -d adb:SERIAL/arm64-v8a \\
        --benchmark-binary armeabi-v7a=bm32 --benchmark-binary arm64-v8a=bm64
    docscan bench --compare phone.json emulated.json
    docscan bench --parse benchmark_model.log
    """
    from docscan.bench import report as rep

    if parse_files and (models or compare):
        raise DocscanError("--parse LOG takes no MODEL arguments and no --compare")
    if not (models or parse_files):
        raise DocscanError("give MODEL files, or --parse LOG, or --compare A.json B.json")
    if compare:
        if devices:
            raise DocscanError("--compare reads saved results; it takes no --device")
        report = rep.compare(models)
    elif parse_files:
        report = parse_logs(parse_files)
    else:
        from docscan.bench.run import run_bench
        report = run_bench(models, list(devices), runs=runs, warmup=warmup, threads=threads, xnnpack=xnnpack,
                           per_op=per_op, op_runs=op_runs, progress=not quiet,
                           phone={"binaries": android_config, "overrides": list(benchmark_binaries)})
    rep.print_report(report, top=top)
    for path in rep.save(report, output, png=not no_png):
        click.echo(f"wrote {path}")


def parse_logs(files):
    import time
    from pathlib import Path

    from docscan.bench.schema import BenchReport

    try:
        from docscan.bench.benchmark_model import parse_log
    except ImportError:
        raise DocscanError("--parse: the benchmark_model parser is not in this build") from None
    runs = []
    for f in files:
        p = Path(f)
        try:
            text = p.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise DocscanError(f"{p}: no such file") from None
        except OSError as exc:
            raise DocscanError(f"{p}: cannot read ({exc.strerror})") from None
        runs.append(parse_log(text, str(p)))
    return BenchReport(runs=runs, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       command="parse " + " ".join(files))
