"""docscan bench: the flags and the printing over docscan.bench.run / report (and the gate,
``bench_gate``). The library returns reports; this module shows and saves them."""

from __future__ import annotations

from pathlib import Path

import click

from docscan.commands.bench_gate import VERDICT_FILE, gate_options, run_gate, wants_gate
from docscan.commands.bench_pipeline import pipeline_options, run_pipeline_command, take_pipeline_flags
from docscan.errors import DocscanError

REPORT_FILE = "docscan-bench.json"      # written in -o DIR, with its PNG beside it


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
@click.option("--per-op-method", type=click.Choice(["auto", "cuts", "profiler"]), default="auto", show_default=True,
              help="Per-op times from one-op cuts, or LiteRT's own profiler (host, emu:aarch64); auto: the "
                   "profiler where the device has it, else cuts (said in the report).")
@click.option("-o", "--outdir", default=".", show_default=True,
              help=f"Output folder: {REPORT_FILE} and a PNG chart beside it (the gate: {VERDICT_FILE}).")
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
@gate_options   # --baseline FILE --check / --update-baseline [--deterministic]: bench_gate.py
@pipeline_options   # --pipeline PHOTO [--pipeline-kind] [--pipeline-frames]: bench_pipeline.py
def command(models, devices, runs, warmup, threads, xnnpack, per_op, op_runs, per_op_method, outdir, no_png, top,
            parse_files, compare, benchmark_binaries, android_config, quiet, **gate_flags):
    """Benchmark MODEL.tflite files on host, emulated ARM (qemu) and phones, with per-op tables.

    \b
    docscan bench a.tflite b.tflite -d emu:armv7 -d emu:aarch64 -d host -o results/
    docscan bench a.tflite -d adb:SERIAL/armeabi-v7a -d adb:SERIAL/arm64-v8a \\
        --benchmark-binary armeabi-v7a=bm32 --benchmark-binary arm64-v8a=bm64
    docscan bench --compare phone/docscan-bench.json emulated/docscan-bench.json
    docscan bench --parse benchmark_model.log
    docscan bench --pipeline photo.jpg -d emu:armv7 -d emu:aarch64 -o results/
    """
    from docscan.bench import report as rep
    from docscan.commands.bench_tables import print_report
    from docscan.commands.progress_display import ProgressDisplay

    folder = output_folder(outdir)
    check_binary_flags(benchmark_binaries)
    phone = {"binaries": android_config, "overrides": list(benchmark_binaries)}
    pipeline_flags = take_pipeline_flags(gate_flags)
    if pipeline_flags["pipeline"] is not None:
        return run_pipeline_command(models, devices, folder, not no_png, quiet, **pipeline_flags)
    with ProgressDisplay(enabled=not quiet, stderr=True) as progress:
        if wants_gate(gate_flags):
            code = run_gate(models, devices, **gate_flags, runs=runs, warmup=warmup, threads=threads,
                            xnnpack=xnnpack, per_op=per_op, folder=folder, png=not no_png, top=top, phone=phone,
                            progress=progress, compare=compare, parse=bool(parse_files))
            if code:
                click.get_current_context().exit(code)
            return
        if parse_files and (models or compare):
            raise DocscanError("--parse LOG takes no MODEL arguments and no --compare")
        if not (models or parse_files):
            raise DocscanError("give MODEL files, or --parse LOG, or --compare A.json B.json")
        if compare:
            if devices:
                raise DocscanError("--compare reads saved results; it takes no --device")
            report = rep.compare(models)
        elif parse_files:
            report = rep.parse_logs(parse_files)
        else:
            if runs < 1 or warmup < 0 or threads < 1:
                raise DocscanError(f"--runs {runs} / --warmup {warmup} / --threads {threads}: runs and threads "
                                   "must be >= 1, warm-up >= 0")
            from docscan.bench.run import run_bench
            report = run_bench(models, list(devices), runs=runs, warmup=warmup, threads=threads, xnnpack=xnnpack,
                               per_op=per_op, op_runs=op_runs, progress=progress, phone=phone,
                               per_op_method=per_op_method)
    print_report(report, top=top)
    for path in rep.save(report, folder / REPORT_FILE, png=not no_png):
        click.echo(f"wrote {path}")


def output_folder(outdir: str) -> Path:
    """-o names a folder in every docscan command; a .json name is the old habit, said so."""
    if outdir.lower().endswith(".json"):
        raise DocscanError(f"-o {outdir}: -o takes a folder (docscan bench writes {REPORT_FILE} and a PNG in it)")
    folder = Path(outdir)
    if folder.exists() and not folder.is_dir():
        raise DocscanError(f"-o {outdir}: exists and is not a folder")
    return folder


def check_binary_flags(values) -> None:
    """--benchmark-binary ABI=PATH, checked before any phone is contacted."""
    from docscan.bench.adb import ABI_KEYS

    for item in values:
        abi, sep, path = item.partition("=")
        if not sep:
            raise DocscanError(f"--benchmark-binary: expected ABI=PATH (e.g. arm64-v8a=./benchmark_model), "
                               f"got {item!r}")
        if abi.strip().lower() not in ABI_KEYS:
            raise DocscanError(f"--benchmark-binary: unknown ABI {abi!r} (use armeabi-v7a / android_arm or "
                               "arm64-v8a / android_aarch64)")
        if not path:
            raise DocscanError(f"--benchmark-binary: empty path for {abi}")
