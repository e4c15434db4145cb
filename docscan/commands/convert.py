"""`docscan convert`: a Keras model in, verified .tflite variants and their reports out."""

from __future__ import annotations

import re

import click

from docscan.errors import DocscanError


def parse_variants(text: str) -> tuple[str, ...]:
    from docscan.convert.tflite_convert import VARIANTS

    if text == "all":
        return VARIANTS
    out = []
    for v in text.split(","):
        v = v.strip()
        if v not in VARIANTS:
            raise DocscanError(f"--variant: unknown variant '{v}' (choose from {', '.join(VARIANTS)}, all)")
        out.append(v)
    return tuple(dict.fromkeys(out))


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[x, ]\s*(\d+)\s*", text or "")
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise DocscanError(f"--input-size: expected H W or HxW, got '{text}'")
    return int(m.group(1)), int(m.group(2))


class _SizeArgs(click.Command):
    """Let `--input-size 256 256` through as well as `--input-size 256x256`."""

    def parse_args(self, ctx, args):
        args = list(args)
        for i, a in enumerate(args[:-2]):
            if a == "--input-size" and args[i + 1].isdigit() and args[i + 2].isdigit():
                args[i + 1:i + 3] = [f"{args[i + 1]}x{args[i + 2]}"]
                break
        return super().parse_args(ctx, args)


@click.command(cls=_SizeArgs)
@click.argument("model")
@click.option("--weights", default=None, help="Weights file for a zoo architecture name.")
@click.option("--variant", default="fp32", show_default=True,
              help="fp32, fp16, dynamic-int8, int8, a comma list, or all.")
@click.option("--io-dtype", type=click.Choice(["int8", "uint8"]), default="int8", show_default=True,
              help="Input/output type of the full-integer (int8) variant.")
@click.option("--calib-dir", default=None, help="Images for int8 calibration (default: synthetic pages).")
@click.option("--calib-samples", type=int, default=32, show_default=True, help="Calibration images.")
@click.option("--input-size", default=None, help="Fixed input size, H W or HxW (default: the model's).")
@click.option("--no-fold-bn", is_flag=True, help="Leave BatchNorm to the converter.")
@click.option("--rewrite-transpose-conv", is_flag=True,
              help="Replace TRANSPOSE_CONV by an exact CONV_2D + DEPTH_TO_SPACE.")
@click.option("--sum-fuse", is_flag=True,
              help="Replace CONCATENATION of one-channel maps + 1x1 CONV_2D (HED's fuse) by MUL + ADD.")
@click.option("--target-runtime", default=None, help="Fail unless a TFLite runtime of this version (e.g. 2.4) can run every op.")
@click.option("--parity-samples", type=click.IntRange(min=0), default=4, show_default=True,
              help="Random and real images each for the parity report (0: skip parity).")
@click.option("-o", "--outdir", default=".", show_default=True, help="Output directory.")
def command(model, weights, variant, io_dtype, calib_dir, calib_samples, input_size, no_fold_bn,
            rewrite_transpose_conv, sum_fuse, target_runtime, parity_samples, outdir):
    """Convert MODEL (.keras file, SavedModel directory or zoo architecture name) to .tflite.

    Writes NAME.<variant>.tflite and NAME.<variant>.report.json per variant. Exits 1
    when a gated parity threshold fails (the files are still written: they are the
    evidence). A zoo name without --weights is built with seeded weights, so every run
    gives the same result; its edge F-score is reported but not gated (on untrained
    weights it measures noise).
    """
    from rich.console import Console

    from docscan.commands import convert_tables as tables
    from docscan.commands.progress_display import ProgressDisplay
    from docscan.convert import loading, pipeline
    from docscan.convert.tflite_convert import input_spec

    size = parse_size(input_size) if input_size else None
    variants = parse_variants(variant)
    if "int8" in variants and calib_samples < 1:
        raise DocscanError(f"--calib-samples must be >= 1, got {calib_samples}")
    if calib_dir:
        from docscan.convert.calibration import list_images
        list_images(calib_dir)          # fail before any conversion work
    loaded = loading.load(model, weights, size)
    if size is None and None in input_spec(loaded.model)[:2]:
        raise DocscanError(f"{loaded.model.name}: input size is not fixed in the model; pass --input-size H W")
    opts = pipeline.Options(
        variants=variants, io_dtype=io_dtype, calib_dir=calib_dir,
        calib_samples=calib_samples, input_size=size, fold_bn=not no_fold_bn,
        rewrite_transpose_conv=rewrite_transpose_conv, sum_fuse=sum_fuse, target_runtime=target_runtime,
        parity_random=parity_samples, parity_real=parity_samples, trained=loaded.trained)
    with ProgressDisplay(stderr=True, transient=True) as progress:
        results = pipeline.convert_model(loaded.model, loaded.name, outdir, opts, source=loaded.source,
                                         progress=progress)
    out = Console()
    if not out.is_terminal:
        out = Console(width=max(out.width, 200))    # piped: keep each variant on one row
    bn = tables.bn_table(results[0].report["passes"])
    if bn is not None:
        out.print(bn)
    out.print(tables.convert_table(results))
    for r in results:
        for c in r.checks:
            if not c.gated:
                out.print(f"{r.variant}: {c}", soft_wrap=True, highlight=False, markup=False)
    for r in results:
        out.print(f"wrote {r.paths['tflite']}  {r.paths['report']}")
    failed = [f"{r.variant}: {c}" for r in results for c in r.checks if c.failed]
    if failed:
        click.echo("error: parity thresholds failed: " + "; ".join(failed), err=True)
        raise SystemExit(1)
