"""Train a zoo HED edge detector on the synthetic document stream (``docscan train``).

Loss: the HED paper's class-balanced sigmoid cross-entropy (``docscan.train.losses``) on
the fused output plus deep supervision with equal weight on every side output, plus the
region loss for a model with a region head.

A run lives in one directory:

* ``ckpt/model.weights.h5``, ``ckpt/optimizer.npz``, ``ckpt/state.json``: the latest
  checkpoint (the three written as one set: a new folder renamed into place); ``resume=True``
  continues from it, including the data stream position, so a resumed run sees the same
  samples as an uninterrupted one.
* ``model.keras``: the latest model; ``best.keras``: the best by real-photo edge F-score
  (with a region head: the mean of that and the region IoU; logged as ``best_dev_f``)
  when the dev photos are available (else the latest).
* ``train_log.json`` and ``train_curve.png``: losses, learning rate, dev F-score, timings.

Runs unchanged on a GPU; on CPU set ``threads`` to the cores you may use.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from docscan.atomic import write_json
from docscan.errors import DocscanError
from docscan.machine import describe_host
from docscan.progress import Progress, silent
from docscan.train.checkpoint import (
    RunExists,
    find_checkpoint,
    load_checkpoint,
    load_model_file,
    save_checkpoint,
    save_model,
)
from docscan.train.curves import plot_curve
from docscan.train.dev_set import load_dev_set
from docscan.train.losses import balanced_bce, region_bce
from docscan.train.metrics import edge_fscore, predict_edges, region_iou


@dataclass
class TrainConfig:
    arch: str = "hed_mobilenet_v2"
    knobs: dict = field(default_factory=dict)
    input_size: int = 256
    steps: int = 1000
    batch: int = 16
    lr: float = 1e-3
    lr_min: float = 2e-5
    warmup: int = 100
    seed: int = 1
    ckpt_every: int = 200
    log_every: int = 20
    threads: int = 0                  # 0: leave TensorFlow's default
    side_weight: float = 1.0
    region_weight: float = 1.0        # models with a region head (knob region_head=True)
    init_from: str = ""               # .keras file whose same-named layers seed a fresh run
    imagenet: bool = False            # hed_mobilenet_v2_stock's body from ImageNet (docscan.zoo.imagenet)
    dev_eval: bool = True


@dataclass
class Run:
    """A run in progress: its model and optimizer, and where it stands."""
    cfg: TrainConfig
    out: Path
    model: Any
    optimizer: Any
    dev: tuple | None = None          # load_dev_set's arrays, or None: no dev check
    step: int = 0
    best_f: float = -1.0              # best dev score so far (-1: none yet)
    elapsed: float = 0.0              # training seconds, checkpoints and evaluation excluded
    history: list[dict] = field(default_factory=list)

    @property
    def ckpt(self) -> Path:
        return self.out / "ckpt"

    @property
    def has_region(self) -> bool:
        return len(self.model.outputs) == 7


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``lr_min`` at ``steps``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))


# The stock HED's full-size branch and dsn1 are the seed network's first two convs and dsn1,
# under other names (``docscan.zoo.hed.mobilenet_v2_stock_hed``).
FULL_SIZE_FROM_SEED = {"full0_conv": "block0_conv", "full0_bn": "block0_bn", "full1_conv": "block1_conv",
                       "full1_bn": "block1_bn", "dsn1_conv": "dsn1_conv", "dsn1_bn": "dsn1_bn"}


def init_from_model(model, path, names: dict[str, str] | None = None) -> int:
    """Copy weights of same-named, same-shaped layers from the Keras file ``path``, or, with
    ``names`` (this model's layer -> the file's), of those layers only.

    Fine-tuning starts from a trained model when a head is added (e.g. the region head).
    Returns how many layers were copied.
    """
    src = load_model_file(path, "cannot initialise from it")
    by_name = {layer.name: layer for layer in src.layers}
    copied = 0
    for layer in model.layers:
        if names is not None and layer.name not in names:
            continue
        other = by_name.get(layer.name if names is None else names[layer.name])
        if other is None or not layer.weights:
            continue
        theirs = other.get_weights()
        if [w.shape for w in theirs] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(theirs)
            copied += 1
    if copied == 0:
        raise DocscanError(f"{path}: no layer matches this model by name and shape")
    return copied


# ---------------------------------------------------------------------------------------
# Set-up

def check_request(cfg: TrainConfig, out: Path, resume: bool) -> None:
    """Refuse what cannot run before any work: bad sizes, nothing to resume, a run that
    would be overwritten (``RunExists``)."""
    if cfg.input_size % 16:
        raise DocscanError(f"train: input size {cfg.input_size} must be divisible by 16")
    if cfg.steps <= 0 or cfg.batch <= 0:
        raise DocscanError("train: steps and batch must be positive")
    ckpt = out / "ckpt"
    if resume and find_checkpoint(ckpt) is None:
        raise DocscanError(f"{ckpt}: no checkpoint to resume from")
    if not resume and find_checkpoint(ckpt) is not None:
        raise RunExists(f"{out}: already holds a run")


def set_threads(threads: int) -> None:
    """TensorFlow's CPU thread pools (0: leave its default)."""
    import tensorflow as tf

    if not threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(max(1, threads // 2))
    except RuntimeError:
        pass   # already initialised in this process (tests); keep what is there


def start_run(cfg: TrainConfig, out: Path, resume: bool, shared_dir: Path, progress: Progress) -> Run:
    """The model and optimizer, fresh (seeded from ``cfg.init_from`` when given) or restored
    from the run's checkpoint, and the dev photos when ``cfg.dev_eval``."""
    import keras

    from docscan import zoo

    size = cfg.input_size
    model = zoo.build(cfg.arch, input_shape=(size, size, 3), **cfg.knobs)
    if len(model.outputs) not in (6, 7):
        raise DocscanError(f"train: {cfg.arch} is not an HED network (needs fused + 5 side outputs)")
    run = Run(cfg, out, model, keras.optimizers.Adam(learning_rate=cfg.lr))
    if resume:
        _restore(run)
    elif cfg.imagenet:
        from docscan.zoo import imagenet

        if cfg.init_from:
            copied = init_from_model(model, cfg.init_from, FULL_SIZE_FROM_SEED)
            progress(f"initialised {copied} full-size layers from {cfg.init_from}")
        tarball = imagenet.fetch()
        seeded = imagenet.seed_body(model, imagenet.mobilenet_v2_weights(tarball))
        progress(f"initialised {seeded} body layers with ImageNet weights ({tarball.name})")
    elif cfg.init_from:
        copied = init_from_model(model, cfg.init_from)
        progress(f"initialised {copied} layers from {cfg.init_from}")
    run.dev = load_dev_set(shared_dir, size) if cfg.dev_eval else None
    return run


def _restore(run: Run) -> None:
    cfg = run.cfg
    state = load_checkpoint(run.model, run.optimizer, run.ckpt)
    saved = state.get("config", {})
    for key in ("arch", "input_size", "seed", "knobs"):
        if saved.get(key) != asdict(cfg)[key]:
            raise DocscanError(f"{run.ckpt}: checkpoint has {key}={saved.get(key)!r}, "
                               f"asked for {asdict(cfg)[key]!r}")
    if not cfg.init_from:   # the run's provenance stays in its log across resumes
        cfg.init_from = saved.get("init_from", "")
    run.step, run.best_f = int(state["step"]), float(state.get("best_f", -1.0))
    run.history, run.elapsed = state.get("history", []), float(state.get("elapsed_s", 0.0))


# ---------------------------------------------------------------------------------------
# One step

def make_train_step(run: Run):
    """The compiled optimiser step: (images, targets, lr) -> (total, fused, region) losses."""
    import tensorflow as tf

    cfg, model, optimizer, has_region = run.cfg, run.model, run.optimizer, run.has_region

    @tf.function(reduce_retracing=True)
    def train_step(x, y, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            edges = y[..., :1]
            losses = [balanced_bce(edges, o) for o in outputs[:6]]
            total = losses[0] + cfg.side_weight * tf.add_n(losses[1:6])
            region = region_bce(y[..., 1:2], outputs[6]) if has_region else tf.constant(0.0)
            total = total + cfg.region_weight * region
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return total, losses[0], region

    return train_step


# ---------------------------------------------------------------------------------------
# Evaluation and checkpoints

def evaluate_dev(run: Run) -> dict | None:
    """Edge precision/recall/F (and region IoU with a region head) on the dev photos."""
    if run.dev is None:
        return None
    images, outlines, pages = run.dev
    scores = edge_fscore(predict_edges(run.model, images), outlines)
    if run.has_region:
        scores["region_iou"] = region_iou(predict_edges(run.model, images, output=6), pages)
    return scores


def checkpoint(run: Run, progress: Progress, final: bool = False) -> None:
    """Score the dev photos, save ``model.keras`` (and ``best.keras`` when it is the best),
    the checkpoint set, the log and the curve."""
    entry = {"step": run.step}
    scores = evaluate_dev(run)
    is_best = scores is None
    if scores is not None:
        entry.update({"dev_f": scores["f"], "dev_precision": scores["precision"],
                      "dev_recall": scores["recall"]})
        # With a region head the pick weighs both maps the quad finder reads.
        score = scores["f"]
        if "region_iou" in scores:
            entry["dev_region_iou"] = scores["region_iou"]
            score = (scores["f"] + scores["region_iou"]) / 2
        is_best = score > run.best_f
        run.best_f = max(run.best_f, score)
        region = f", region IoU {scores['region_iou']:.3f}" if "region_iou" in scores else ""
        progress(f"step {run.step}: dev edge F {scores['f']:.3f} (P {scores['precision']:.3f} "
                 f"R {scores['recall']:.3f}){region}{'  best' if is_best else ''}")
    run.history.append(entry)
    save_model(run.model, run.out / "model.keras")
    if is_best:
        save_model(run.model, run.out / "best.keras")
    state = {"step": run.step, "best_f": run.best_f, "elapsed_s": run.elapsed, "config": asdict(run.cfg),
             "history": run.history}
    save_checkpoint(run.model, run.optimizer, state, run.ckpt)
    write_log(run, final)


def write_log(run: Run, final: bool = False) -> dict:
    """``train_log.json`` (config, losses, dev scores, machine) and ``train_curve.png``."""
    cfg = run.cfg
    last = [h for h in run.history if "loss" in h][-50:]
    summary = {
        "config": asdict(cfg), "params": int(run.model.count_params()), "step": run.step,
        "elapsed_s": round(run.elapsed, 1), "final": final,
        "final_loss": float(np.mean([h["loss"] for h in last])) if last else None,
        "final_fused_loss": float(np.mean([h["fused_loss"] for h in last])) if last else None,
        "best_dev_f": run.best_f if run.best_f >= 0 else None,
        "machine": describe_host(), "history": run.history,
    }
    write_json(run.out / "train_log.json", summary)
    plot_curve(run.history, run.out / "train_curve.png",
               f"{cfg.arch} {cfg.knobs or ''} {cfg.input_size}x{cfg.input_size}, batch {cfg.batch}")
    return summary


# ---------------------------------------------------------------------------------------
# The loop

def train(cfg: TrainConfig, out_dir, resume: bool = False, shared_dir=None, progress: Progress = silent) -> dict:
    """Train (or continue) a run in ``out_dir``; returns the final log dict.

    ``progress`` hears the set-up, each dev score, and every step (``done``/``total``)
    with the latest loss line as its text.
    """
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from docscan.paths import shared_dir as default_shared_dir
    from docscan.train.synth import make_dataset

    out = Path(out_dir)
    check_request(cfg, out, resume)
    set_threads(cfg.threads)
    shared_dir = Path(shared_dir) if shared_dir else default_shared_dir()
    run = start_run(cfg, out, resume, shared_dir, progress)
    size = cfg.input_size
    ds = make_dataset(cfg.seed, cfg.batch, (size, size), shared_dir, start=run.step * cfg.batch,
                      with_region=run.has_region)
    train_step = make_train_step(run)

    out.mkdir(parents=True, exist_ok=True)
    progress(f"training {cfg.arch} {cfg.knobs} at {size}x{size}: {run.model.count_params()} params, "
             f"steps {run.step}..{cfg.steps}, batch {cfg.batch}, out {out}")
    if run.step >= cfg.steps:
        return write_log(run, final=True)

    window, t_last, line = [], time.perf_counter(), ""
    for x, y in ds:
        if run.step >= cfg.steps:
            break
        lr = lr_at(cfg, run.step)
        losses = tuple(float(v) for v in train_step(x, y, tf.constant(lr, tf.float32)))
        if not math.isfinite(losses[0]):
            raise DocscanError(f"train: loss became {losses[0]} at step {run.step}; lower the learning rate")
        run.step += 1
        now = time.perf_counter()
        run.elapsed += now - t_last
        t_last = now
        window.append(losses)
        if run.step % cfg.log_every == 0 or run.step == cfg.steps:
            line = _log_losses(run, window, lr)
            window.clear()
        progress(line, done=run.step, total=cfg.steps)
        if run.step % cfg.ckpt_every == 0 and run.step < cfg.steps:
            checkpoint(run, progress)
            t_last = time.perf_counter()   # checkpoint/eval time is not training time
    checkpoint(run, progress, final=True)
    if run.dev is None or not (out / "best.keras").exists():
        save_model(run.model, out / "best.keras")
    return json.loads((out / "train_log.json").read_text())


def _log_losses(run: Run, window: list[tuple], lr: float) -> str:
    """Append the window's mean losses to the history; returns them as one line."""
    tl, fl, rl = (float(v) for v in np.mean(window, axis=0))
    entry = {"step": run.step, "loss": tl, "fused_loss": fl, "lr": lr, "elapsed_s": round(run.elapsed, 1)}
    if run.has_region:
        entry["region_loss"] = rl
    run.history.append(entry)
    info = f"loss {tl:.4f} fused {fl:.4f}{f' region {rl:.4f}' if run.has_region else ''} lr {lr:.2e}"
    return (f"step {run.step}/{run.cfg.steps} {info} {run.elapsed / run.step if run.step else 0:.2f}s/step "
            f"elapsed {run.elapsed / 60:.1f} min")
