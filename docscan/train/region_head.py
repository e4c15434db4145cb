"""Train only the page-region head of a trained HED, on cached backbone taps
(``docscan train-region``).

``docscan train --region-head`` trains the whole network, and every step pays the
backbone's forward and backward pass (~1.2-1.5 s per batch of 16 at 160x160 on 2 CPU
cores). The region head reads only two backbone taps (1/8, 1/16;
``docscan.zoo.hed.REGION_TAPS``), so with the backbone frozen a synthetic sample needs one
forward pass: its taps are computed once (``docscan.train.region_taps``) and the head
trains on them for many epochs (~12 s per epoch of 16,000 samples on the same machine,
after ~5 min of taps). The edge outputs stay those of the source model, bit for bit.

Samples come from stream ``seed`` of ``docscan.train.synth``: indices ``0 .. samples - 1``
train, the next ``val_samples`` pick the best epoch by region IoU. One directory holds the
run: ``model.keras`` (the source model's backbone and edge heads plus the trained head),
``train_log.json`` and ``train_curve.png``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from docscan.atomic import write_json
from docscan.errors import DocscanError
from docscan.machine import describe_host
from docscan.progress import Progress, silent
from docscan.train.checkpoint import RunExists, load_model_file, save_model
from docscan.train.curves import plot_region_curve
from docscan.train.dev_set import load_dev_set
from docscan.train.losses import region_bce
from docscan.train.metrics import region_iou, region_iou_of
from docscan.train.region_taps import cache_taps, tap_tensors


@dataclass
class RegionHeadConfig:
    init_from: str
    samples: int = 16000
    val_samples: int = 1000
    seed: int = 4
    epochs: int = 24
    batch: int = 32
    lr: float = 2e-3
    warmup: int = 200
    workers: int = 2          # processes generating samples


def _head_on(tap_list):
    from docscan.zoo.hed import REGION_TAPS, region_logits

    taps = [None] * 5
    for i, t in zip(REGION_TAPS, tap_list):
        taps[i] = t
    return region_logits(taps)


def standalone_head(tap_shapes):
    """The region head as a model of its own, on tap inputs; its layers are named as in a
    full HED, so trained weights move across by layer name."""
    import keras

    inputs = [keras.Input(tuple(s), name=f"tap{k}") for k, s in enumerate(tap_shapes)]
    return keras.Model(inputs, _head_on(inputs), name="region_head")


def with_new_head(source, head):
    """``source``'s six edge outputs plus ``head``'s region output, on ``source``'s backbone."""
    import keras
    from keras import layers

    from docscan.zoo.hed import OUTPUT_NAMES, REGION_OUTPUT

    edges = [source.get_layer(name).output for name in OUTPUT_NAMES]
    region = layers.Identity(name=REGION_OUTPUT)(_head_on(tap_tensors(source)))
    full = keras.Model(source.inputs, edges + [region], name=source.name)
    trained = {layer.name: layer for layer in head.layers}
    for layer in full.layers:
        if layer.name in trained and layer.weights:
            layer.set_weights(trained[layer.name].get_weights())
    return full


def check_request(cfg: RegionHeadConfig, out: Path) -> None:
    """Refuse what cannot run before any work; ``RunExists`` when ``out`` holds a model."""
    for name in ("samples", "val_samples", "epochs", "batch", "workers"):
        if getattr(cfg, name) <= 0:
            raise DocscanError(f"train-region: {name} must be positive, got {getattr(cfg, name)}")
    if not cfg.lr > 0:
        raise DocscanError(f"train-region: lr must be positive, got {cfg.lr}")
    if out.exists() and not out.is_dir():
        raise DocscanError(f"{out}: exists and is not a directory")
    if (out / "model.keras").exists():
        raise RunExists(f"{out}: already holds a trained model")


def load_source(path):
    """The trained HED whose backbone the head goes on."""
    source = load_model_file(path, "cannot load it")
    if len(source.outputs) not in (6, 7):
        raise DocscanError(f"{path}: not an HED (needs fused + 5 side outputs)")
    return source


def fit_head(cfg: RegionHeadConfig, train: dict, val: dict, progress: Progress, t0: float):
    """Train a fresh head on the cached taps; returns (head with the best epoch's weights,
    per-epoch history, best held-back region IoU)."""
    import keras
    import tensorflow as tf

    head = standalone_head([t.shape[1:] for t in train["taps"]])
    steps_per_epoch = max(1, cfg.samples // cfg.batch)
    total = cfg.epochs * steps_per_epoch
    warmup = min(cfg.warmup, max(1, total // 10))
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.lr * 0.1, max(1, total - warmup), alpha=0.02, warmup_target=cfg.lr, warmup_steps=warmup)
    optimizer = keras.optimizers.Adam(schedule)

    @tf.function(reduce_retracing=True)
    def step(taps, y):
        with tf.GradientTape() as tape:
            loss = region_bce(y, head(taps, training=True))
        grads = tape.gradient(loss, head.trainable_variables)
        optimizer.apply_gradients(zip(grads, head.trainable_variables))
        return loss

    def val_iou() -> float:
        logits = head.predict([t.astype(np.float32) for t in val["taps"]], batch_size=64, verbose=0)
        return float(np.mean(region_iou_of(logits, val["region"])))

    rng = np.random.default_rng(cfg.seed)
    history, best, best_weights = [], -1.0, None
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(cfg.samples)
        losses = []
        for k in range(steps_per_epoch):
            idx = np.sort(order[k * cfg.batch:(k + 1) * cfg.batch])
            y = (train["region"][idx].astype(np.float32) / 255.0)[..., None]
            loss = float(step([t[idx].astype(np.float32) for t in train["taps"]], y))
            if not math.isfinite(loss):
                raise DocscanError(f"train-region: loss became {loss} in epoch {epoch}; lower the learning rate")
            losses.append(loss)
        iou = val_iou()
        if iou > best:
            best, best_weights = iou, head.get_weights()
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_region_iou": iou,
                        "elapsed_s": round(time.perf_counter() - t0, 1)})
        info = f"loss {np.mean(losses):.4f} val region IoU {iou:.4f}{'  best' if iou == best else ''}"
        progress(f"epoch {epoch}/{cfg.epochs} {info}", done=epoch, total=cfg.epochs)
    head.set_weights(best_weights)
    return head, history, best


def train_region_head(cfg: RegionHeadConfig, out_dir, shared_dir=None, progress: Progress = silent) -> dict:
    """Train a fresh region head on ``cfg.init_from``'s frozen backbone; returns the log dict."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from docscan.paths import shared_dir as default_shared_dir

    out = Path(out_dir)
    check_request(cfg, out)
    source = load_source(cfg.init_from)
    shared_dir = Path(shared_dir) if shared_dir else default_shared_dir()

    t0 = time.perf_counter()
    # one pass (one worker pool, one tap model) over the training and held-back samples
    cached = cache_taps(source, cfg.seed, 0, cfg.samples + cfg.val_samples, shared_dir, cfg.workers, progress)
    train, val = ({"taps": [t[part] for t in cached["taps"]], "region": cached["region"][part]}
                  for part in (slice(0, cfg.samples), slice(cfg.samples, None)))
    cache_s = time.perf_counter() - t0
    progress(f"cached taps of {cfg.samples} + {cfg.val_samples} samples of stream {cfg.seed} "
             f"in {cache_s / 60:.1f} min")
    head, history, best = fit_head(cfg, train, val, progress, t0)

    model = with_new_head(source, head)
    summary = {
        "config": asdict(cfg), "head_params": int(head.count_params()), "params": int(model.count_params()),
        "best_val_region_iou": best, "best_epoch": 1 + int(np.argmax([h["val_region_iou"] for h in history])),
        "cache_s": round(cache_s, 1), "elapsed_s": round(time.perf_counter() - t0, 1),
        "machine": describe_host(), "history": history,
    }
    size = int(source.inputs[0].shape[1])
    dev = load_dev_set(shared_dir, size) if source.inputs[0].shape[1] == source.inputs[0].shape[2] else None
    if dev is not None:
        logits = model.predict(dev[0], batch_size=8, verbose=0)[6]
        summary["dev_region_iou"] = region_iou(1 / (1 + np.exp(-logits[..., 0])), dev[2])
    out.mkdir(parents=True, exist_ok=True)
    save_model(model, out / "model.keras")
    write_json(out / "train_log.json", summary)
    plot_region_curve(history, out / "train_curve.png",
                      f"region head on {Path(cfg.init_from).name}'s frozen backbone, stream {cfg.seed}")
    return summary
