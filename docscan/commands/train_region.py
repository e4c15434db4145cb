"""`docscan train-region`: a new page-region head on a trained HED's frozen backbone."""

from __future__ import annotations

from pathlib import Path

import click

from docscan.errors import DocscanError


@click.command(help="Train a fresh page-region head on MODEL's frozen backbone, from cached backbone "
                    "taps of synthetic samples (minutes on a CPU; the edge outputs stay bit for bit). "
                    "model.keras, log JSON and curve PNG go to the -o/--out folder.")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--samples", type=int, default=16000, show_default=True, help="training samples (each tapped once)")
@click.option("--val-samples", type=int, default=1000, show_default=True,
              help="the next samples of the stream, for picking the best epoch")
@click.option("--seed", type=int, default=4, show_default=True, help="synthetic data stream seed")
@click.option("--epochs", type=int, default=24, show_default=True)
@click.option("--batch", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=2e-3, show_default=True, help="peak learning rate (cosine decay)")
@click.option("--workers", type=int, default=2, show_default=True, help="processes generating samples")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), required=True, help="run folder")
def command(model, samples, val_samples, seed, epochs, batch, lr, workers, out_dir):
    from docscan.commands.progress_display import ProgressDisplay
    from docscan.train.checkpoint import RunExists
    from docscan.train.region_head import RegionHeadConfig, train_region_head

    if not Path(model).is_file():
        raise DocscanError(f"{model}: model not found")
    cfg = RegionHeadConfig(init_from=model, samples=samples, val_samples=val_samples, seed=seed, epochs=epochs,
                           batch=batch, lr=lr, workers=workers)
    with ProgressDisplay() as progress:
        try:
            result = train_region_head(cfg, Path(out_dir), progress=progress)
        except RunExists as exc:
            raise DocscanError(f"{exc}; choose another --out") from None
    dev = f", real dev photos {result['dev_region_iou']:.3f}" if "dev_region_iou" in result else ""
    progress.console.print(f"done: region IoU {result['best_val_region_iou']:.3f} on held-back samples "
                           f"(epoch {result['best_epoch']}){dev}, {result['elapsed_s'] / 60:.1f} min; "
                           f"model {Path(out_dir) / 'model.keras'}")
