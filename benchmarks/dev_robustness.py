"""The labelled real dev photos turned and degraded: does detection hold up?

The unseen real photos the model is judged on may come in any orientation (a sensor's raw
frame, a gallery image with or without its EXIF rotation) and from worse cameras or light
than the dev set's. Each condition is applied to every labelled dev photo (labels turned
with the pixels):

* turned clockwise by 90, 180 and 270 degrees: the detector squashes every frame to its
  square input, so a portrait page turned sideways is a different picture to it;
* contrast halved about the mean (haze, a grey exposure), darkened (gamma 2), JPEG quality
  25, Gaussian blur (sigma 3 px at 1280 px), sensor noise (sd 12 grey levels).

    python3 benchmarks/dev_robustness.py [--model models/hed_default.int8.tflite] [--no-stretch]

``--no-stretch`` turns off the pipeline's stretch of low-contrast frames
(``docscan.detect.edge_model.model_frame``), to see what it is worth.

Writes benchmarks/results/dev_robustness.json and .png (IoU per photo and condition).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.machine import describe_host  # noqa: E402
from docscan.paths import real_photos_dir  # noqa: E402


def turn_clockwise(image: np.ndarray, corners, degrees: int):
    """``image`` and its ``corners`` (N, 2) in pixel coordinates, turned clockwise."""
    c = np.asarray(corners, np.float64)
    for _ in range(degrees // 90):
        h = image.shape[0]
        image = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
        c = np.stack([h - 1 - c[:, 1], c[:, 0]], 1)     # (x, y) -> (h - 1 - y, x)
    return image, c


def _pixels(fn):
    return lambda image, corners: (fn(image), np.asarray(corners, np.float64))


def _jpeg(image, quality=25):
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


CONDITIONS = {
    "as taken": _pixels(lambda im: im),
    "turned 90": lambda im, c: turn_clockwise(im, c, 90),
    "turned 180": lambda im, c: turn_clockwise(im, c, 180),
    "turned 270": lambda im, c: turn_clockwise(im, c, 270),
    "contrast x0.5": _pixels(lambda im: np.clip((im.astype(np.float32) - im.mean()) * 0.5 + im.mean(), 0, 255)
                             .astype(np.uint8)),
    "gamma 2 (dark)": _pixels(lambda im: np.clip(255 * (im / 255.0) ** 2.0, 0, 255).astype(np.uint8)),
    "JPEG q25": _pixels(_jpeg),
    "blur sigma 3": _pixels(lambda im: cv2.GaussianBlur(im, (0, 0), 3)),
    "noise sd 12": _pixels(lambda im: np.clip(im + np.random.default_rng(0).normal(0, 12, im.shape), 0, 255)
                           .astype(np.uint8)),
}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, conds = sorted(report["per_image"]), list(report["conditions"])
    grid = np.array([[report["per_image"][n][c] for c in conds] for n in names])
    fig, ax = plt.subplots(figsize=(9, 9), dpi=100)
    im = ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="RdYlGn", aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6.5)
    ax.set_xticks(range(len(conds)),
                  [f"{c}\n{report['conditions'][c]['mean_iou']:.3f}" for c in conds], fontsize=7, rotation=30)
    ax.set_yticks(range(len(names)), [n.replace("IMG_", "").replace(".jpg", "") for n in names], fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.03, label="polygon IoU")
    stretch = "" if report["low_contrast_stretch"] else ", no low-contrast stretch"
    write_figure(path, fig, f"real dev photos turned and degraded (mean IoU under each): "
                            f"{Path(report['model']).name}{stretch}, {report['machine']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models" / "hed_default.int8.tflite"))
    ap.add_argument("--photos", type=Path, default=real_photos_dir())
    ap.add_argument("--no-stretch", action="store_true", help="feed low-contrast frames to the model as they are")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "dev_robustness.json")
    args = ap.parse_args(argv)

    from docscan.detect import edge_model as pipeline
    from docscan.detect.detector import Detector
    from docscan.detect.edge_model import load_edge_model
    from docscan.detect.geometry import polygon_iou
    from docscan.detect.image_io import load_image

    if args.no_stretch:
        pipeline.LOW_CONTRAST_SPAN = 0     # every frame's span is >= 0: none is stretched

    labels_path = args.photos / "labels.json"
    if not labels_path.is_file():
        print(f"error: {labels_path}: no labels (see ../shared/data/README)", file=sys.stderr)
        return 2
    labels = json.loads(labels_path.read_text())
    detector = Detector(model=load_edge_model(args.model))
    per_image = {}
    for name, label in sorted(labels.items()):
        photo = load_image(args.photos / name)
        per_image[name] = {}
        for cond, apply in CONDITIONS.items():
            image, truth = apply(photo, label["corners"])
            d = detector.detect(image, warp=False)
            per_image[name][cond] = polygon_iou(d.corners, truth) if d.found else 0.0
    conditions = {}
    for cond in CONDITIONS:
        v = np.array([per_image[n][cond] for n in per_image])
        conditions[cond] = {"mean_iou": float(v.mean()), "share_iou_ge_0.9": float((v >= 0.9).mean()),
                            "min_iou": float(v.min()), "below_0.9": [n for n in per_image if per_image[n][cond] < 0.9]}
    report = {"model": args.model, "machine": describe_host(), "photos": str(args.photos), "n": len(per_image),
              "low_contrast_stretch": not args.no_stretch,
              "conditions": conditions, "per_image": per_image}
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    for cond, r in conditions.items():
        print(f"{cond:>15}: mean IoU {r['mean_iou']:.3f}  IoU>=0.9 {r['share_iou_ge_0.9']:.0%}  "
              f"min {r['min_iou']:.3f}  {' '.join(r['below_0.9'])}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
