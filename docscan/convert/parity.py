"""Numbers that say whether a .tflite computes what the Keras model computes.

Per output: max abs error, mean abs error and PSNR against Keras on the same inputs
(random images and real photos, resized). Edge models (every output one channel at the
input's H x W, like HED) are compared as probabilities (sigmoid of logits) and also get
the edge F-score at 0.5 of the .tflite edges against the Keras edges and, on real
photos, the mean IoU of the page quads both find.

Every check is computed and reported; whether it is *gated* (decides the exit code) says
whether it means something for this model: the edge F-score counts pixels on either side
of 0.5, which on an untrained network's near-0.5 noise map is the noise itself, so it is
gated only for trained weights (see ``gate``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from docscan.errors import DocscanError
from docscan.paths import real_photos_dir
from docscan.tflite_names import UNKNOWN, source_index

# Checks per variant: (metric, comparison, bound). max_abs and psnr are taken over all
# outputs and input sets (worst case); edge_f on the first output (HED's fused map) of the
# real photos when there are any: on uniform noise a trained detector sees few edges, so
# its F-score there measures noise, not the detector (it is still reported).
# edge_f is gated for trained weights only (UNTRAINED says why in the report).
THRESHOLDS = {
    "fp32": {"edge": [("max_abs", "<=", 1e-4)], "other": [("max_abs_rel", "<=", 1e-4)]},
    "fp16": {"edge": [("max_abs", "<=", 1e-2)], "other": [("max_abs_rel", "<=", 1e-2)]},
    "dynamic-int8": {"edge": [("edge_f", ">=", 0.95)], "other": [("psnr", ">=", 25.0)]},
    "int8": {"edge": [("edge_f", ">=", 0.95)], "other": [("psnr", ">=", 20.0)]},
}
FOLD_TOLERANCE_REL = 1e-5   # folded vs unfolded Keras, relative to the outputs' magnitude
WEIGHT_SENSITIVE = ("edge_f",)   # metrics that measure noise on an untrained network's outputs
UNTRAINED = "untrained zoo weights"


def parity_inputs(hw: tuple[int, int], channels: int, n_random: int, n_real: int, seed: int = 0):
    """{"random": (N,H,W,C), "real": (M,H,W,C) or absent} float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    sets = {}
    if n_random > 0:
        sets["random"] = rng.random((n_random, hw[0], hw[1], channels), dtype=np.float32)
    real = real_photos_dir()
    if n_real > 0 and channels == 3 and real.is_dir():
        from docscan.convert.calibration import from_directory
        sets["real"] = np.stack(from_directory(real, n_real, hw))
    return sets


# --- running ----------------------------------------------------------------------
def _output_order(details) -> list:
    """Interpreter outputs in the Keras model's order, where their names tell it."""
    keys = [source_index(d["name"]) for d in details]
    if UNKNOWN in keys or len(set(keys)) != len(keys):
        return list(details)
    return [d for _, d in sorted(zip(keys, details), key=lambda kv: kv[0])]


def run_tflite(tflite: bytes, images: np.ndarray, num_threads: int = 2) -> list[np.ndarray]:
    """Float outputs (dequantized) for each image, stacked per output."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        it = Interpreter(model_content=tflite, num_threads=num_threads)
        it.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise DocscanError(f"the TFLite interpreter cannot load the model ({exc})") from None
    inp = it.get_input_details()[0]
    outs = _output_order(it.get_output_details())
    results = [[] for _ in outs]
    for img in images:
        x = img[None].astype(np.float32)
        if inp["dtype"] != np.float32:
            scale, zp = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale + zp), info.min, info.max).astype(inp["dtype"])
        it.set_tensor(inp["index"], x)
        it.invoke()
        for k, d in enumerate(outs):
            y = it.get_tensor(d["index"])
            if d["dtype"] != np.float32:
                scale, zp = d["quantization"]
                y = (y.astype(np.float32) - zp) * scale
            results[k].append(y[0])
    return [np.stack(r) for r in results]


def run_keras(model, images: np.ndarray) -> list[np.ndarray]:
    outs = [model(images[i:i + 4], training=False) for i in range(0, len(images), 4)]
    if not isinstance(outs[0], (list, tuple)):
        outs = [[o] for o in outs]
    return [np.concatenate([np.asarray(o[k]) for o in outs]) for k in range(len(outs[0]))]


# --- metrics ------------------------------------------------------------------------
def is_edge_model(outputs: list[np.ndarray], hw) -> bool:
    return all(o.ndim == 4 and o.shape[1:3] == tuple(hw) and o.shape[3] == 1 for o in outputs)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80, 80)))


def edge_f_score(ref_prob: np.ndarray, test_prob: np.ndarray, threshold: float = 0.5) -> float:
    a, b = ref_prob >= threshold, test_prob >= threshold
    tp = float(np.logical_and(a, b).sum())
    if not a.any() and not b.any():
        return 1.0
    precision = tp / max(b.sum(), 1)
    recall = tp / max(a.sum(), 1)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def psnr(ref, test, peak) -> float:
    mse = float(np.mean((ref.astype(np.float64) - test) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


@dataclass
class OutputParity:
    name: str
    max_abs: float
    mean_abs: float
    psnr: float
    max_abs_rel: float
    edge_f: float | None = None
    top1_agreement: float | None = None      # classifier outputs (N, classes)


@dataclass
class SetParity:
    inputs: str
    n: int
    space: str
    outputs: list[OutputParity]
    corner_iou: float | None = None


def compare(ref: list[np.ndarray], test: list[np.ndarray], names, hw, inputs_label: str,
            corner_fn=None) -> SetParity:
    edge = is_edge_model(ref, hw)
    logits = edge and any(float(r.min()) < 0 or float(r.max()) > 1 for r in ref)
    unit = all(float(r.min()) >= 0 and float(r.max()) <= 1 for r in ref)   # probabilities, e.g. softmax
    space = "sigmoid(logits)" if logits else ("probability" if edge or unit else "raw")
    outs = []
    for name, r, t in zip(names, ref, test):
        if logits:
            r, t = sigmoid(r.astype(np.float64)), sigmoid(t.astype(np.float64))
        diff = np.abs(r.astype(np.float64) - t)
        # PSNR peak: 1 for probabilities; the reference's own range for unbounded outputs
        peak = 1.0 if (edge or unit) else max(float(r.max() - r.min()), float(np.abs(r).max()), 1e-6)
        mag = max(float(np.abs(r).max()), 1e-12)
        top1 = (float(np.mean(r.argmax(-1) == t.argmax(-1)))
                if r.ndim == 2 and r.shape[1] > 1 else None)
        outs.append(OutputParity(name, float(diff.max()), float(diff.mean()), psnr(r, t, peak),
                                 float(diff.max()) / max(mag, 1.0),
                                 edge_f_score(r, t) if edge else None, top1))
    if edge and corner_fn:
        # a region-head HED's quad finder also reads its region output
        k = list(names).index("region") if "region" in list(names) else None
        iou = corner_fn(ref[0], test[0], logits, None if k is None else ref[k], None if k is None else test[k])
    else:
        iou = None
    return SetParity(inputs_label, int(ref[0].shape[0]), space, outs, iou)


def corner_iou_fn():
    """Mean IoU of the page quads found on Keras vs .tflite fused maps (and region maps, for
    a region-head HED)."""
    from docscan.detect.geometry import polygon_iou
    from docscan.detect.quad import find_quad

    def fn(ref, test, logits, ref_region=None, test_region=None):
        def prob(x):    # one (H, W, 1) output -> the (H, W) probability map find_quad reads
            return None if x is None else (sigmoid(x) if logits else x)[..., 0].astype(np.float32)

        ious = []
        for i, (r, t) in enumerate(zip(ref, test)):
            qa = find_quad(prob(r), region=prob(None if ref_region is None else ref_region[i]))
            qb = find_quad(prob(t), region=prob(None if test_region is None else test_region[i]))
            ca, cb = getattr(qa, "corners", None), getattr(qb, "corners", None)
            if ca is None and cb is None:
                continue
            if ca is None or cb is None:
                ious.append(0.0)
                continue
            ious.append(polygon_iou(ca, cb))    # the same exact IoU as detection and eval
        return float(np.mean(ious)) if ious else None
    return fn


@dataclass
class CheckResult:
    metric: str
    op: str
    bound: float
    value: float | None
    held: bool
    gated: bool = True             # False: reported only, it does not decide pass/fail
    not_gated_because: str | None = None

    @property
    def failed(self) -> bool:
        """A gated check that did not hold."""
        return self.gated and not self.held

    def __str__(self):
        v = "n/a" if self.value is None else f"{self.value:.4g}"
        verdict = "held" if self.held else ("FAILED" if self.gated else "not met")
        note = "" if self.gated else f" (reported, not gated: {self.not_gated_because})"
        return f"{self.metric} {v} {self.op} {self.bound:g}: {verdict}{note}"


def gate(metric: str, trained: bool) -> tuple[bool, str | None]:
    """(gated, why not): a weight-sensitive metric is only gated for trained weights."""
    if metric in WEIGHT_SENSITIVE and not trained:
        return False, UNTRAINED
    return True, None


def check(variant: str, sets: list[SetParity], trained: bool = True) -> list[CheckResult]:
    """The variant's thresholds on ``sets``; ``trained`` False (a freshly initialised zoo
    build) reports the weight-sensitive ones without gating on them."""
    if not sets:                # parity not asked for (no samples): nothing to hold
        return []
    edge = all(o.edge_f is not None for s in sets for o in s.outputs)
    results = []
    for metric, op, bound in THRESHOLDS[variant]["edge" if edge else "other"]:
        if metric == "edge_f":
            judged = [s for s in sets if s.inputs == "real"] or sets
            value = min(s.outputs[0].edge_f for s in judged)
        elif metric == "psnr":
            value = min(o.psnr for s in sets for o in s.outputs)
        else:
            value = max(getattr(o, metric) for s in sets for o in s.outputs)
        held = value <= bound if op == "<=" else value >= bound
        results.append(CheckResult(metric, op, bound, value, bool(held), *gate(metric, trained)))
    return results


def fold_difference(original, folded, sets: dict) -> dict:
    """Max abs difference, Keras unfolded vs folded (raw outputs), per input set."""
    out = {}
    for label, x in sets.items():
        a, b = run_keras(original, x), run_keras(folded, x)
        diff = max(float(np.abs(p.astype(np.float64) - q).max()) for p, q in zip(a, b))
        mag = max(float(np.abs(p).max()) for p in a)
        out[label] = {"max_abs": diff, "output_max_abs": mag, "relative": diff / max(mag, 1e-12),
                      "within_float32_rounding": bool(diff <= FOLD_TOLERANCE_REL * max(mag, 1.0))}
    return out


def to_dict(obj):
    return asdict(obj)
