"""Train only the page-region head of a trained HED, on cached backbone taps.

`docscan train --region-head` trains the whole network, and every step pays the backbone's
forward and backward pass (~1.2-1.5 s per batch of 16 at 160x160 on 2 CPU cores). The
region head reads only two backbone taps (1/8, 1/16; ``docscan.zoo.hed.REGION_TAPS``), so
with the backbone frozen a synthetic sample needs one forward pass: its taps are computed
once and the head trains on them for many epochs (~12 s per epoch of 16,000 samples on the
same machine, after ~5 min of taps). The edge outputs stay those of the source model, bit
for bit.

Samples come from stream ``seed`` of ``docscan.synth``: indices ``0 .. samples - 1`` train,
the next ``val_samples`` pick the best epoch by region IoU. One directory holds the run:
``model.keras`` (the source model's backbone and edge heads plus the trained head),
``train_log.json`` and ``train_curve.png``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from docscan.atomic import write_figure, write_json
from docscan.errors import DocscanError
from docscan.train import mask_ious

CHUNK = 250       # samples generated and tapped at once


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


def tap_tensors(model) -> list:
    """The source model's taps that the region head reads (symbolic): the inputs of the HED's
    side-output convs ``dsn{i + 1}_conv`` for i in ``REGION_TAPS``."""
    from docscan.zoo.hed import REGION_TAPS

    names = [f"dsn{i + 1}_conv" for i in REGION_TAPS]
    try:
        return [model.get_layer(name).input for name in names]
    except ValueError:
        raise DocscanError(f"{model.name}: not a zoo HED (no {', '.join(names)} layers)") from None


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


def _sample_chunk(args):
    seed, start, stop, size, shared_dir = args
    from docscan.synth import make_sample

    images, regions = [], []
    for i in range(start, stop):
        s = make_sample(seed, i, size, shared_dir)
        images.append(s.image)
        regions.append(np.round(s.region * 255).astype(np.uint8))
    return np.stack(images), np.stack(regions)


def cache_taps(source, seed: int, start: int, n: int, shared_dir, workers: int, on_chunk=None) -> dict:
    """Taps (``taps``: a list of float16 arrays) and page-region targets (``region``: uint8,
    0..255) of samples start .. start+n-1."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import keras

    taps = keras.Model(source.inputs, tap_tensors(source))
    size = tuple(int(v) for v in source.inputs[0].shape[1:3])
    jobs = [(seed, a, min(a + CHUNK, start + n), size, str(shared_dir) if shared_dir else None)
            for a in range(start, start + n, CHUNK)]
    parts = {"taps": [[] for _ in taps.outputs], "region": []}
    # spawn, not fork: this process holds TensorFlow's thread pools
    with ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        for images, regions in pool.map(_sample_chunk, jobs):
            for a in range(0, len(images), 50):   # eager calls: predict() retraces on a short last chunk
                outs = taps([images[a:a + 50].astype(np.float32) / 255.0], training=False)
                for part, value in zip(parts["taps"], outs):
                    part.append(np.asarray(value).astype(np.float16))
            parts["region"].append(regions)
            if on_chunk:
                on_chunk(len(images))
    return {"taps": [np.concatenate(p) for p in parts["taps"]], "region": np.concatenate(parts["region"])}


def region_iou_of(logits: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Per-sample IoU of (logits > 0) with the uint8 target region (> half)."""
    return mask_ious(logits[..., 0] > 0, region > 127)


def plot_region_curve(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["loss"] for h in history], "o-", label="region loss (BCE), training samples")
    ax.set_xlabel("epoch")
    ax.set_ylabel("BCE")
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(epochs, [h["val_region_iou"] for h in history], "s-", color="tab:purple",
             label="region IoU, held-back synthetic samples")
    ax2.set_ylabel("region IoU")
    ax.legend(loc="upper left")
    ax2.legend(loc="lower right")
    write_figure(path, fig, title)


def train_region_head(cfg: RegionHeadConfig, out_dir, shared_dir=None, console=None, log=print) -> dict:
    """Train a fresh region head on ``cfg.init_from``'s frozen backbone; returns the log dict."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from docscan.paths import shared_dir as default_shared_dir
    from docscan.train import _machine, _save_model, load_dev_set, region_bce, region_iou

    for name in ("samples", "val_samples", "epochs", "batch", "workers"):
        if getattr(cfg, name) <= 0:
            raise DocscanError(f"train-region: {name} must be positive, got {getattr(cfg, name)}")
    if not cfg.lr > 0:
        raise DocscanError(f"train-region: lr must be positive, got {cfg.lr}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DocscanError(f"{out}: exists and is not a directory")
    if (out / "model.keras").exists():
        raise DocscanError(f"{out}: already holds a trained model; choose another --out")
    try:
        source = keras.saving.load_model(str(cfg.init_from), compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise DocscanError(f"{cfg.init_from}: cannot load it ({str(exc).splitlines()[0][:200]})") from None
    if len(source.outputs) not in (6, 7):
        raise DocscanError(f"{cfg.init_from}: not an HED (needs fused + 5 side outputs)")
    shared_dir = Path(shared_dir) if shared_dir else default_shared_dir()

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    interactive = console is not None and console.is_terminal
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=console,
                        disable=not interactive)
    t0 = time.perf_counter()
    with progress:
        task = progress.add_task("taps", total=cfg.samples + cfg.val_samples, info="")

        def advance(k):
            progress.advance(task, k)

        # one pass (one worker pool, one tap model) over the training and held-back samples
        cached = cache_taps(source, cfg.seed, 0, cfg.samples + cfg.val_samples, shared_dir, cfg.workers, advance)
        train, val = ({"taps": [t[part] for t in cached["taps"]], "region": cached["region"][part]}
                      for part in (slice(0, cfg.samples), slice(cfg.samples, None)))
        cache_s = time.perf_counter() - t0
        log(f"cached taps of {cfg.samples} + {cfg.val_samples} samples of stream {cfg.seed} "
            f"in {cache_s / 60:.1f} min")

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
        task = progress.add_task("head", total=cfg.epochs, info="")
        for epoch in range(1, cfg.epochs + 1):
            order = rng.permutation(cfg.samples)
            losses = []
            for k in range(steps_per_epoch):
                idx = np.sort(order[k * cfg.batch:(k + 1) * cfg.batch])
                y = (train["region"][idx].astype(np.float32) / 255.0)[..., None]
                loss = float(step([t[idx].astype(np.float32) for t in train["taps"]], y))
                if not math.isfinite(loss):
                    raise DocscanError(f"train-region: loss became {loss} in epoch {epoch}; lower --lr")
                losses.append(loss)
            iou = val_iou()
            if iou > best:
                best, best_weights = iou, head.get_weights()
            history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_region_iou": iou,
                            "elapsed_s": round(time.perf_counter() - t0, 1)})
            info = f"loss {np.mean(losses):.4f} val region IoU {iou:.4f}{'  best' if iou == best else ''}"
            progress.update(task, completed=epoch, info=info)
            if not interactive:
                log(f"epoch {epoch}/{cfg.epochs} {info}")

    head.set_weights(best_weights)
    model = with_new_head(source, head)
    summary = {
        "config": asdict(cfg), "head_params": int(head.count_params()), "params": int(model.count_params()),
        "best_val_region_iou": best, "best_epoch": 1 + int(np.argmax([h["val_region_iou"] for h in history])),
        "cache_s": round(cache_s, 1), "elapsed_s": round(time.perf_counter() - t0, 1),
        "machine": _machine(), "history": history,
    }
    size = int(source.inputs[0].shape[1])
    dev = load_dev_set(shared_dir, size) if source.inputs[0].shape[1] == source.inputs[0].shape[2] else None
    if dev is not None:
        logits = model.predict(dev[0], batch_size=8, verbose=0)[6]
        summary["dev_region_iou"] = region_iou(1 / (1 + np.exp(-logits[..., 0])), dev[2])
    out.mkdir(parents=True, exist_ok=True)
    _save_model(model, out / "model.keras")
    write_json(out / "train_log.json", summary)
    plot_region_curve(history, out / "train_curve.png",
                      f"region head on {Path(cfg.init_from).name}'s frozen backbone, stream {cfg.seed}")
    return summary
