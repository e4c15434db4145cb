"""`docscan synth`: write a fixed synthetic document set to disk (for `docscan eval`)."""

from __future__ import annotations

from pathlib import Path

import click

from docscan.errors import DocscanError


@click.command(help="Write N synthetic document photos (JPEG), their edge maps (edges/*.png) and "
                    "labels.json (docscan eval's format) to OUTDIR. Same --seed, same set.")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("-n", "count", type=int, default=500, show_default=True, help="number of images")
@click.option("--seed", type=int, default=1000, show_default=True,
              help="stream seed (training uses small seeds; keep eval seeds apart)")
@click.option("--size", default="512x384", show_default=True, help="HEIGHTxWIDTH of each image")
def command(outdir, count, seed, size):
    from docscan.commands.progress_display import ProgressDisplay
    from docscan.train.synth import write_set

    try:
        h, w = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise DocscanError(f"--size: expected HEIGHTxWIDTH like 512x384, got {size!r}") from None
    if count <= 0:
        raise DocscanError(f"-n: must be positive, got {count}")
    with ProgressDisplay() as progress:
        labels = write_set(Path(outdir), count, seed, (h, w), progress=progress)
    click.echo(f"wrote {count} images and {labels}")
