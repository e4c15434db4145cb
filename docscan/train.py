"""Train a zoo HED edge detector on the synthetic document stream.

Loss: the HED paper's class-balanced sigmoid cross-entropy (Xie & Tu 2015, eq. 2) on the
fused output plus deep supervision with equal weight on every side output. Per image,
beta = |Y-| / |Y| (share of non-edge pixels); positives are weighted by beta, negatives
by 1 - beta, so the rare boundary pixels are not drowned by the background.

A run lives in one directory:

* ``ckpt/model.weights.h5``, ``ckpt/optimizer.npz``, ``ckpt/state.json``: the latest
  checkpoint (the three written as one set: a new folder renamed into place); ``resume=True`` continues
  from it, including the data
  stream position, so a resumed run sees the same samples as an uninterrupted one.
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

import numpy as np

from docscan.atomic import atomic_path, write_figure, write_json
from docscan.errors import DocscanError


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
    dev_eval: bool = True


# ---------------------------------------------------------------------------------------
# Loss

def balanced_bce(labels, logits):
    """Class-balanced sigmoid cross-entropy per image, averaged over pixels and batch."""
    import tensorflow as tf

    n = tf.cast(tf.reduce_prod(tf.shape(labels)[1:]), tf.float32)
    pos = tf.reduce_sum(labels, axis=[1, 2, 3], keepdims=True)
    beta = 1.0 - pos / n                               # share of negatives
    beta = tf.clip_by_value(beta, 0.5, 1.0 - 1e-4)     # an edge-free image is plain BCE
    per_pixel = tf.nn.weighted_cross_entropy_with_logits(labels=labels, logits=logits,
                                                         pos_weight=beta / (1.0 - beta))
    return tf.reduce_mean(per_pixel * (1.0 - beta)) * 2.0   # x2: plain BCE scale at beta = 0.5


def region_bce(labels, logits):
    """Plain sigmoid cross-entropy of the page-region map (pages cover ~10-70 % of a frame,
    so no class balancing is needed)."""
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def init_from_model(model, path) -> int:
    """Copy weights of same-named, same-shaped layers from the Keras file ``path``.

    Fine-tuning starts from a trained model when a head is added (e.g. the region head).
    Returns how many layers were copied.
    """
    import keras

    try:
        src = keras.saving.load_model(str(path), compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise DocscanError(f"{path}: cannot initialise from it ({str(exc).splitlines()[0][:200]})") from None
    by_name = {layer.name: layer for layer in src.layers}
    copied = 0
    for layer in model.layers:
        other = by_name.get(layer.name)
        if other is None or not layer.weights:
            continue
        theirs = other.get_weights()
        if [w.shape for w in theirs] == [tuple(w.shape) for w in layer.weights]:
            layer.set_weights(theirs)
            copied += 1
    if copied == 0:
        raise DocscanError(f"{path}: no layer matches this model by name and shape")
    return copied


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``lr_min`` at ``steps``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))


# ---------------------------------------------------------------------------------------
# Cheap real-photo check: edge F-score against the labelled page outline

def load_dev_set(shared_dir, size: int):
    """(images float32 (N,size,size,3), outline maps (N,size,size), filled page maps
    (N,size,size)) of the labelled dev photos."""
    import cv2

    root = Path(shared_dir) / "data" / "real-photos-dev"
    labels_path = root / "labels.json"
    if not labels_path.is_file():
        return None
    labels = json.loads(labels_path.read_text())
    images, targets, pages = [], [], []
    for name, lab in sorted(labels.items()):
        im = cv2.imread(str(root / name), cv2.IMREAD_COLOR)
        if im is None:
            continue
        h, w = im.shape[:2]
        im = cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA)[..., ::-1]
        c = np.asarray(lab["corners"], np.float32) * np.array([size / w, size / h], np.float32)
        t = np.zeros((size, size), np.uint8)
        cv2.polylines(t, [np.round(c * 16).astype(np.int32)], True, 1, 1, cv2.LINE_8, 4)
        page = np.zeros((size, size), np.uint8)
        cv2.fillPoly(page, [np.round(c * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        images.append(im.astype(np.float32) / 255)
        targets.append(t)
        pages.append(page)
    if not images:
        return None
    return np.stack(images), np.stack(targets), np.stack(pages)


def edge_fscore(prob: np.ndarray, target: np.ndarray, threshold: float = 0.5, tol: float = 2.0) -> dict:
    """Precision/recall/F of predicted edge pixels against the outline, matched within ``tol`` px.

    Text and background edges count against precision; a missed page side against recall.
    The label is only the labelled page, so a second sheet's boundary counts as a false edge.
    """
    import cv2

    ps, rs = [], []
    for p, t in zip(prob, target):
        pred = p > threshold
        dist_to_t = cv2.distanceTransform((1 - t).astype(np.uint8), cv2.DIST_L2, 3)
        dist_to_p = cv2.distanceTransform((~pred).astype(np.uint8), cv2.DIST_L2, 3)
        ps.append(float((dist_to_t[pred] <= tol).mean()) if pred.any() else 0.0)
        rs.append(float((dist_to_p[t > 0] <= tol).mean()) if t.any() else 0.0)
    p, r = float(np.mean(ps)), float(np.mean(rs))
    return {"precision": p, "recall": r, "f": 2 * p * r / (p + r) if p + r > 0 else 0.0}


def predict_edges(model, images: np.ndarray, batch: int = 8, output: int = 0) -> np.ndarray:
    """Sigmoid of output ``output`` (0: fused edges), (N, H, W)."""
    out = []
    for i in range(0, len(images), batch):
        y = model(images[i:i + batch], training=False)[output]
        out.append(1 / (1 + np.exp(-np.asarray(y)[..., 0])))
    return np.concatenate(out)


def mask_ious(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-sample IoU of boolean page masks (N, H, W); no page predicted where there is
    none is a perfect 1, not 0."""
    union = np.logical_or(pred, truth).sum((1, 2))
    return np.where(union > 0, np.logical_and(pred, truth).sum((1, 2)) / np.maximum(union, 1), 1.0)


def region_iou(prob: np.ndarray, corners_maps: np.ndarray) -> float:
    """Mean IoU of the thresholded region map (N, H, W) against the filled labelled pages."""
    return float(np.mean(mask_ious(prob > 0.5, corners_maps > 0)))


# ---------------------------------------------------------------------------------------
# Checkpoints

def _save_checkpoint(model, optimizer, state: dict, ckpt: Path) -> None:
    """Weights, optimizer and state as one set: written into a fresh folder that then
    replaces ``ckpt`` by renames, so a kill at any moment leaves a complete old or new set."""
    import shutil

    partial, old = ckpt.with_name(ckpt.name + ".partial"), ckpt.with_name(ckpt.name + ".old")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.save_weights(str(partial / "model.weights.h5"))
    with open(partial / "optimizer.npz", "wb") as f:
        np.savez(f, *[np.asarray(v) for v in optimizer.variables])
    write_json(partial / "state.json", state)
    if ckpt.exists():
        # (with no ckpt, e.g. resumed from ckpt.old, the old set stays until the new is in place)
        shutil.rmtree(old, ignore_errors=True)
        ckpt.rename(old)
    partial.rename(ckpt)
    shutil.rmtree(old, ignore_errors=True)


def _checkpoint_dir(ckpt: Path) -> Path | None:
    """The complete checkpoint set: ``ckpt``, or ``ckpt.old`` after a kill between renames."""
    for d in (ckpt, ckpt.with_name(ckpt.name + ".old")):
        if (d / "state.json").is_file():
            return d
    return None


def _load_checkpoint(model, optimizer, ckpt: Path) -> dict:
    ckpt = _checkpoint_dir(ckpt) or ckpt
    try:
        state = json.loads((ckpt / "state.json").read_text())
        model.load_weights(str(ckpt / "model.weights.h5"))
        optimizer.build(model.trainable_variables)
        with np.load(ckpt / "optimizer.npz") as data:
            values = [data[f"arr_{i}"] for i in range(len(data.files))]
    except (OSError, ValueError, KeyError) as exc:
        raise DocscanError(f"{ckpt}: cannot resume from checkpoint ({exc})") from None
    if len(values) != len(optimizer.variables):
        raise DocscanError(f"{ckpt}: checkpoint does not match this model/optimizer")
    for var, val in zip(optimizer.variables, values):
        var.assign(val)
    return state


def _save_model(model, path: Path) -> None:
    with atomic_path(path) as tmp:
        keras_tmp = tmp.with_name(tmp.name + ".keras")
        model.save(str(keras_tmp))
        keras_tmp.replace(tmp)


def plot_curve(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    steps = [h["step"] for h in history if "loss" in h]
    if steps:
        with_region = any("region_loss" in h for h in history)
        ax.plot(steps, [h["loss"] for h in history if "loss" in h], lw=1,
                label="total loss (fused + sides + region)" if with_region else "total loss (fused + sides)")
        ax.plot(steps, [h["fused_loss"] for h in history if "loss" in h], label="fused loss", lw=1)
        region = [(h["step"], h["region_loss"]) for h in history if "region_loss" in h]
        if region:
            ax.plot(*zip(*region), label="region loss (BCE)", lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("class-balanced BCE")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    dev = [h for h in history if "dev_f" in h]
    if dev:
        ax2 = ax.twinx()
        ax2.plot([h["step"] for h in dev], [h["dev_f"] for h in dev], "o-", color="tab:green",
                 label="edge F-score, real dev photos")
        region_dev = [h for h in dev if "dev_region_iou" in h]
        if region_dev:
            ax2.plot([h["step"] for h in region_dev], [h["dev_region_iou"] for h in region_dev], "s-",
                     color="tab:purple", label="region IoU, real dev photos")
        ax2.set_ylabel("real dev photos")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="upper right")
    if steps:
        ax.legend(loc="upper left")
    write_figure(path, fig, title)


# ---------------------------------------------------------------------------------------
# The loop

def train(cfg: TrainConfig, out_dir, resume: bool = False, shared_dir=None, console=None) -> dict:
    """Train (or continue) a run in ``out_dir``; returns the final log dict."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from docscan import zoo
    from docscan.paths import shared_dir as default_shared_dir
    from docscan.synth import make_dataset

    out = Path(out_dir)
    ckpt = out / "ckpt"
    if cfg.input_size % 16:
        raise DocscanError(f"train: input size {cfg.input_size} must be divisible by 16")
    if cfg.steps <= 0 or cfg.batch <= 0:
        raise DocscanError("train: steps and batch must be positive")
    if resume and _checkpoint_dir(ckpt) is None:
        raise DocscanError(f"{ckpt}: no checkpoint to resume from")
    if not resume and _checkpoint_dir(ckpt) is not None:
        raise DocscanError(f"{out}: already holds a run; pass --resume or choose another --out")
    if cfg.threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
            tf.config.threading.set_inter_op_parallelism_threads(max(1, cfg.threads // 2))
        except RuntimeError:
            pass   # already initialised in this process (tests); keep what is there
    shared_dir = Path(shared_dir) if shared_dir else default_shared_dir()
    size = cfg.input_size

    model = zoo.build(cfg.arch, input_shape=(size, size, 3), **cfg.knobs)
    n_out = len(model.outputs)
    has_region = n_out == 7
    if n_out not in (6, 7):
        raise DocscanError(f"train: {cfg.arch} is not an HED network (needs fused + 5 side outputs)")
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=cfg.lr)
    history: list[dict] = []
    step, best_f, elapsed = 0, -1.0, 0.0
    if resume:
        state = _load_checkpoint(model, optimizer, ckpt)
        saved = state.get("config", {})
        for key in ("arch", "input_size", "seed", "knobs"):
            if saved.get(key) != asdict(cfg)[key]:
                raise DocscanError(f"{ckpt}: checkpoint has {key}={saved.get(key)!r}, "
                                   f"asked for {asdict(cfg)[key]!r}")
        if not cfg.init_from:   # the run's provenance stays in its log across resumes
            cfg.init_from = saved.get("init_from", "")
        step, best_f = int(state["step"]), float(state.get("best_f", -1.0))
        history, elapsed = state.get("history", []), float(state.get("elapsed_s", 0.0))
    elif cfg.init_from:
        copied = init_from_model(model, cfg.init_from)
        print(f"initialised {copied} layers from {cfg.init_from}", flush=True)

    dev = load_dev_set(shared_dir, size) if cfg.dev_eval else None
    ds = make_dataset(cfg.seed, cfg.batch, (size, size), shared_dir, start=step * cfg.batch,
                      with_region=has_region)

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

    def log(msg):
        if console is not None:
            console.print(msg)
        else:
            print(msg, flush=True)

    def evaluate_dev():
        if dev is None:
            return None
        scores = edge_fscore(predict_edges(model, dev[0]), dev[1])
        if has_region:
            scores["region_iou"] = region_iou(predict_edges(model, dev[0], output=6), dev[2])
        return scores

    def checkpoint(final=False):
        nonlocal best_f
        entry = {"step": step}
        scores = evaluate_dev()
        is_best = scores is None
        if scores is not None:
            entry.update({"dev_f": scores["f"], "dev_precision": scores["precision"],
                          "dev_recall": scores["recall"]})
            # With a region head the pick weighs both maps the quad finder reads.
            score = scores["f"]
            if "region_iou" in scores:
                entry["dev_region_iou"] = scores["region_iou"]
                score = (scores["f"] + scores["region_iou"]) / 2
            is_best = score > best_f
            best_f = max(best_f, score)
            region = f", region IoU {scores['region_iou']:.3f}" if "region_iou" in scores else ""
            log(f"step {step}: dev edge F {scores['f']:.3f} (P {scores['precision']:.3f} "
                f"R {scores['recall']:.3f}){region}{'  best' if is_best else ''}")
        history.append(entry)
        _save_model(model, out / "model.keras")
        if is_best:
            _save_model(model, out / "best.keras")
        state = {"step": step, "best_f": best_f, "elapsed_s": elapsed, "config": asdict(cfg),
                 "history": history}
        _save_checkpoint(model, optimizer, state, ckpt)
        write_log(final)

    def write_log(final=False):
        losses = [h for h in history if "loss" in h]
        last = losses[-50:]
        summary = {
            "config": asdict(cfg), "params": int(model.count_params()), "step": step,
            "elapsed_s": round(elapsed, 1), "final": final,
            "final_loss": float(np.mean([h["loss"] for h in last])) if last else None,
            "final_fused_loss": float(np.mean([h["fused_loss"] for h in last])) if last else None,
            "best_dev_f": best_f if best_f >= 0 else None,
            "machine": _machine(), "history": history,
        }
        write_json(out / "train_log.json", summary)
        plot_curve(history, out / "train_curve.png",
                   f"{cfg.arch} {cfg.knobs or ''} {size}x{size}, batch {cfg.batch}")
        return summary

    out.mkdir(parents=True, exist_ok=True)
    log(f"training {cfg.arch} {cfg.knobs} at {size}x{size}: {model.count_params()} params, "
        f"steps {step}..{cfg.steps}, batch {cfg.batch}, out {out}")
    if step >= cfg.steps:
        return write_log(final=True)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    interactive = console is not None and console.is_terminal
    progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                        TimeRemainingColumn(), console=console, disable=not interactive)
    window, t_last = [], time.perf_counter()
    with progress:
        task = progress.add_task("train", total=cfg.steps, completed=step, info="")
        for x, y in ds:
            if step >= cfg.steps:
                break
            lr = lr_at(cfg, step)
            total, fused, region = train_step(x, y, tf.constant(lr, tf.float32))
            total, fused, region = float(total), float(fused), float(region)
            if not math.isfinite(total):
                raise DocscanError(f"train: loss became {total} at step {step}; lower --lr")
            step += 1
            now = time.perf_counter()
            elapsed += now - t_last
            t_last = now
            window.append((total, fused, region))
            if step % cfg.log_every == 0 or step == cfg.steps:
                tl, fl, rl = (float(v) for v in np.mean(window, axis=0))
                window.clear()
                entry = {"step": step, "loss": tl, "fused_loss": fl, "lr": lr, "elapsed_s": round(elapsed, 1)}
                if has_region:
                    entry["region_loss"] = rl
                history.append(entry)
                info = f"loss {tl:.4f} fused {fl:.4f}{f' region {rl:.4f}' if has_region else ''} lr {lr:.2e}"
                progress.update(task, completed=step, info=info)
                if not interactive:
                    log(f"step {step}/{cfg.steps} {info} {elapsed / step if step else 0:.2f}s/step "
                        f"elapsed {elapsed / 60:.1f} min")
            else:
                progress.update(task, completed=step)
            if step % cfg.ckpt_every == 0 and step < cfg.steps:
                checkpoint()
                t_last = time.perf_counter()   # checkpoint/eval time is not training time
    checkpoint(final=True)
    if dev is None or not (out / "best.keras").exists():
        _save_model(model, out / "best.keras")
    return json.loads((out / "train_log.json").read_text())


def _machine() -> str:
    import os
    import platform

    return f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus".strip()
