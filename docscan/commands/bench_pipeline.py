"""`docscan bench --pipeline PHOTO -d emu:armv7 -d emu:aarch64`: the whole detect pipeline's
instruction counts per stage on emulated ARM, printed as a table and saved as JSON + PNG.

``pipeline_options`` adds the options to `docscan bench` (one decorator line there);
``take_pipeline_flags`` removes them from the command's keyword arguments; with
``--pipeline`` given, ``run_pipeline_command`` is the whole command.
"""

from __future__ import annotations

from pathlib import Path

import click

from docscan.errors import DocscanError

PIPELINE_FILE = "docscan-pipeline.json"     # written in -o DIR, with its PNG beside it
PIPELINE_FLAGS = ("pipeline", "pipeline_kind", "pipeline_frames")


def pipeline_options(f):
    options = [
        click.option("--pipeline", type=click.Path(dir_okay=False), default=None, metavar="PHOTO",
                     help="Count the whole detect pipeline's instructions per stage on PHOTO (emulated "
                          f"devices only; writes {PIPELINE_FILE}). MODEL: the .tflite to use (default: shipped)."),
        click.option("--pipeline-kind", type=click.Choice(["camera", "preview", "both"]), default="camera",
                     show_default=True,
                     help="--pipeline: the camera-file path (decode .. warp), a 1280x720 preview frame, or both."),
        click.option("--pipeline-frames", type=int, default=2, show_default=True,
                     help="--pipeline: measured frames (after one warm-up) averaged per stage."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def take_pipeline_flags(flags: dict) -> dict:
    """The pipeline's options, removed from ``flags``."""
    return {k: flags.pop(k) for k in PIPELINE_FLAGS}


def run_pipeline_command(models, devices, folder: Path, png: bool, quiet: bool, *, pipeline, pipeline_kind,
                         pipeline_frames) -> None:
    from docscan.bench import pipeline_stages as ps
    from docscan.commands.progress_display import ProgressDisplay

    if len(models) > 1:
        raise DocscanError("--pipeline takes at most one MODEL (the .tflite the pipeline runs)")
    if not devices:
        raise DocscanError("--pipeline needs emulated devices: -d emu:armv7 -d emu:aarch64")
    kinds = ["camera", "preview"] if pipeline_kind == "both" else [pipeline_kind]
    model = models[0] if models else None
    counts = []
    with ProgressDisplay(enabled=not quiet, stderr=True) as progress:
        for kind in kinds:
            report = ps.run_pipeline(pipeline, list(devices), model=model, pipeline=kind, frames=pipeline_frames,
                                     compare_model=(kind == kinds[0]), progress=progress)
            counts.extend(report.counts)
    share_model_count(counts)
    for kind in kinds:
        print_table(ps.PipelineReport([c for c in counts if c.pipeline == kind]))
    for path in ps.save(ps.PipelineReport(counts), folder / PIPELINE_FILE, png=png):
        click.echo(f"wrote {path}")


def share_model_count(counts) -> None:
    """The bare model's count is one per device (the same model): give it to every pipeline."""
    by_device = {c.device: c.model_count for c in counts if c.model_count}
    for c in counts:
        c.model_count = c.model_count or by_device.get(c.device)


def print_table(report) -> None:
    counts = report.counts
    first = counts[0]
    h, w = first.frame_shape[:2]
    what = (f"camera file (detected on {w}x{h})" if first.pipeline == "camera"
            else f"preview frame {w}x{h} (RGB in memory)")
    click.echo(f"\n{Path(first.photo).name}: detect pipeline, {what}, per frame "
               f"(mean of {first.frames}, after a warm-up)")
    click.echo(f"{first.label}; millions of guest instructions")
    ratio = len(counts) == 2 and report.ratio() is not None
    head = f"{'stage':<36}" + "".join(f"{c.device:>14}{'share':>7}" for c in counts) + (f"{'32/64':>8}" if ratio else "")
    click.echo(head)
    click.echo("-" * len(head))
    for stage in report.stages():
        row = f"{stage:<36}"
        for c in counts:
            n = c.per_frame(stage)
            row += f"{n / 1e6:>14.2f}{100 * n / c.total:>6.1f}%"
        if ratio:
            r = report.ratio(stage)
            row += f"{r:>8.2f}" if r is not None else f"{'-':>8}"
        click.echo(row)
    click.echo("-" * len(head))
    click.echo(f"{'whole frame':<36}" + "".join(f"{c.total / 1e6:>14.2f}{'':>7}" for c in counts)
               + (f"{report.ratio():>8.2f}" if ratio else ""))
    if any(c.corners_only != c.total for c in counts):
        click.echo(f"{'photo -> corners (no flat scan)':<36}" + "".join(f"{c.corners_only / 1e6:>14.2f}{'':>7}"
                                                                        for c in counts))
    if any(c.model_count for c in counts):
        click.echo(f"{'the bare model (count_emulated)':<36}"
                   + "".join(f"{c.model_count / 1e6:>14.2f}{'':>7}" if c.model_count else f"{'-':>21}" for c in counts))
    for c in counts:
        top = c.dominant()
        line = f"dominant on {c.device}: {top} ({100 * c.per_frame(top) / c.total:.0f} % of the frame)"
        if c.corners_only != c.total:
            top = c.dominant(scan=False)
            line += f"; without the scan: {top} ({100 * c.per_frame(top) / c.corners_only:.0f} %)"
        click.echo(line)
    for note in sorted({n for c in counts for n in c.compat}):
        where = [c.device for c in counts if note in c.compat]
        click.echo(f"guest compat ({', '.join(where)}): {note}")
    missing = sorted({m for c in counts for m in c.missing_probes})
    if missing:
        click.echo(f"not probed (counted in 'other'): {', '.join(missing)}")
