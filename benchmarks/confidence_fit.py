"""Fit the detection confidence (``docscan.detect.quad_confidence``) on synthetic scenes and
check it on the labelled real photos, which the fit never sees.

For every synthetic sample (``docscan.train.synth.make_sample``, JPEG quality 95 as
``docscan synth`` writes them) the model's maps go through the quad finder; the pick's
features and whether it is right (IoU >= 0.9 with the drawn page) make a logistic
regression (Newton steps, small L2 on standardised features). The coefficients come out
in raw feature units, ready for ``quad_confidence.WEIGHTS``.

The report compares today's confidence (whatever the checkout ships), the product it
replaced, and the refit, by AUROC and by the share of wrong detections flagged at the
threshold that keeps 95% of the right ones (``docscan.detect.confidence.separation``) on:
the real sets pooled (dev + dev2, as ``benchmarks/real_sets.py``), and a held-out synthetic
stream (seed 9001, as ``region_oracle.py``).

    python3 benchmarks/confidence_fit.py [--model M] [--fit 9500:400,9600:600] [--held-out 300]

Writes benchmarks/results/confidence_fit.json and .png, naming the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.detect.confidence import IOU_GOOD, separation  # noqa: E402
from docscan.detect.quad_confidence import FEATURES, confidence  # noqa: E402
from docscan.machine import describe_host  # noqa: E402
from docscan.paths import shared_dir  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
REAL_SETS = ("real-photos-dev", "real-photos-dev2")
HELD_OUT_SEED, SIZE = 9001, (512, 384)


def detections(detector, images_and_truths, label: str, total: int | None = None):
    """(features dict or None, reported confidence, the product's confidence, IoU) per image;
    a progress line per 100 images (the fit's 1000 scenes take minutes)."""
    from docscan.detect.geometry import polygon_iou
    from docscan.detect.quad_pick import _quality
    rows = []
    for image, truth in images_and_truths:
        det = detector.detect(image, warp=False)
        iou = polygon_iou(det.corners, truth) if det.found else 0.0
        f = det.features
        product = 0.0 if f is None else _quality(f["share"], f["region_iou"], f["inner"], detector.params)
        rows.append((f, det.confidence, product, iou))
        if len(rows) % 100 == 0:
            print(f"{label}: {len(rows)}" + (f"/{total}" if total else "") + " images", flush=True)
    return rows


def synthetic(seed: int, n: int):
    from docscan.train.synth import make_sample
    for i in range(n):
        s = make_sample(seed, i, SIZE)
        _, jpeg = cv2.imencode(".jpg", s.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        yield cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1].copy(), s.corners


def real_photos():
    from docscan.detect.evaluate import load_labelled, match_labels
    for name in REAL_SETS:
        d = shared_dir() / "data" / name
        items, _ = match_labels(d, d / "labels.json")
        for it in items:
            yield load_labelled(it)


def matrix(rows):
    """Feature matrix (rows without a pick: zeros) and IoUs."""
    x = np.array([[f[k] for k in FEATURES] if f else [0.0] * len(FEATURES) for f, _, _, _ in rows])
    return x, np.array([r[3] for r in rows])


def fit_logistic(x, iou, l2: float = 1e-2, steps: int = 50):
    """Logistic regression of IoU >= 0.9 on the columns of ``x``; (weights in raw units,
    intercept). Also fits ``docscan.detect.second_look``'s check (``second_look.py --fit``)."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.c_[(x - mu) / sd, np.ones(len(x))]
    t = (iou >= IOU_GOOD).astype(float)
    w = np.zeros(z.shape[1])
    reg = l2 * np.r_[np.ones(x.shape[1]), 0.0]
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        grad = z.T @ (p - t) / len(t) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z / len(t) + np.diag(reg + 1e-9)
        w -= np.linalg.solve(hess, grad)
    raw = w[:-1] / sd
    return raw, float(w[-1] - (raw * mu).sum())


def scores(x, weights, intercept):
    """``quad_confidence.confidence`` of each row of ``x`` with these weights."""
    w = dict(zip(FEATURES, weights))
    return [confidence(dict(zip(FEATURES, row)), w, intercept) for row in x]


def streams_arg(text: str) -> list[tuple[int, int]]:
    """``--fit``: synthetic streams SEED:N[,SEED:N...], N >= 1 (also for second_look.py)."""
    streams = []
    for spec in text.split(","):
        seed, sep, n = spec.partition(":")
        try:
            streams.append((int(seed), int(n)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{spec!r}: expected SEED:N, two integers") from None
        if not sep or streams[-1][1] < 1:
            raise argparse.ArgumentTypeError(f"{spec!r}: expected SEED:N with N >= 1")
    return streams


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models" / "hed_default.int8.tflite"))
    ap.add_argument("--fit", type=streams_arg, default="9500:400,9600:600", help="synthetic streams SEED:N to fit on")
    ap.add_argument("--held-out", type=int, default=300, help=f"held-out synthetic samples (seed {HELD_OUT_SEED})")
    ap.add_argument("-o", "--out", type=Path, default=RESULTS / "confidence_fit.json")
    args = ap.parse_args(argv)

    from docscan.detect.detector import Detector
    detector = Detector(args.model)
    if not detector.model.has_region:
        print(f"{args.model}: no region head; its confidence is the product, nothing to fit", file=sys.stderr)
        return 2
    fit_rows = []
    for seed, n in args.fit:
        fit_rows += detections(detector, synthetic(seed, n), f"fit stream {seed}", n)
    held = detections(detector, synthetic(HELD_OUT_SEED, args.held_out), f"held-out {HELD_OUT_SEED}", args.held_out)
    real = detections(detector, real_photos(), "real photos")
    weights, intercept = fit_logistic(*matrix(fit_rows))

    report = {"model": args.model, "machine": describe_host(),
              "fit": ",".join(f"{seed}:{n}" for seed, n in args.fit), "features": list(FEATURES),
              "weights": dict(zip(FEATURES, np.round(weights, 4).tolist())), "intercept": round(intercept, 4),
              "sets": {}}
    for set_name, rows in (("real dev+dev2", real), (f"synthetic held-out {HELD_OUT_SEED}", held),
                           ("synthetic fit (in-sample)", fit_rows)):
        x, iou = matrix(rows)
        report["sets"][set_name] = {
            "reported today": separation([r[1] for r in rows], iou),
            "product (before)": separation([r[2] for r in rows], iou),
            "refit": separation(scores(x, weights, intercept), iou),
        }
    write_json(args.out, report)
    _figure(report, args.out.with_suffix(".png"))
    print("WEIGHTS = {" + ", ".join(f'"{k}": {v}' for k, v in report["weights"].items()) + "}")
    print(f"INTERCEPT = {report['intercept']}")
    for set_name, by in report["sets"].items():
        for how, s in by.items():
            flagged = "-" if s["flagged_wrong"] is None else f"{s['flagged_wrong']:.0%}"
            auroc = "-" if s["auroc"] is None else f"{s['auroc']:.3f}"
            print(f"{set_name:>32} {how:>18}: AUROC {auroc}  wrong flagged {flagged} "
                  f"(right {s['n_right']}, wrong {s['n_wrong']})")
    print(f"wrote {args.out}")
    return 0


def _figure(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sets = list(report["sets"])
    hows = list(next(iter(report["sets"].values())))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "auroc", "AUROC"), (axes[1], "flagged_wrong", "wrong flagged at 95% right kept")):
        for j, how in enumerate(hows):
            vals = [report["sets"][s][how][key] or 0.0 for s in sets]
            ax.bar(np.arange(len(sets)) + (j - 1) * 0.27, vals, 0.27, label=how)
        ax.set_xticks(np.arange(len(sets)), [s.replace(" (", "\n(") for s in sets], fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(label)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"detection confidence, {Path(report['model']).name}\n{report['machine']}", fontsize=9)
    write_figure(path, fig)


if __name__ == "__main__":
    sys.exit(main())
