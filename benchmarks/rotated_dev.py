"""The labelled real dev photos turned by 0, 90, 180 and 270 degrees, labels turned with them.

A phone photo can reach docscan in any of the four orientations (a sensor's raw frame, a
gallery image with its EXIF rotation applied or not), and the detector squashes every frame
to its square input, so a portrait page turned sideways is a different picture to it. The
synthetic training data come in all orientations; this checks that the real photos do not
depend on the one they were labelled in.

    python3 benchmarks/rotated_dev.py [--model models/hed_default.int8.tflite]

Writes benchmarks/results/rotated_dev.json and .png (per-photo IoU in each orientation).
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

from docscan.atomic import atomic_path, write_json  # noqa: E402
from docscan.machine import host_cpu  # noqa: E402

TURNS = (0, 90, 180, 270)


def turn_clockwise(image: np.ndarray, corners: np.ndarray, degrees: int):
    """``image`` and its ``corners`` (N, 2) in pixel coordinates, turned clockwise."""
    c = np.asarray(corners, np.float64)
    for _ in range(degrees // 90):
        h = image.shape[0]
        image = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
        c = np.stack([h - 1 - c[:, 1], c[:, 0]], 1)     # (x, y) -> (h - 1 - y, x)
    return image, c


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(report["per_image"])
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    x = np.arange(len(names))
    for k, turn in enumerate(TURNS):
        ax.bar(x + (k - 1.5) * 0.2, [report["per_image"][n][str(turn)] for n in names], 0.2, label=f"{turn} deg")
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, [n.replace("IMG_", "").replace(".jpg", "") for n in names], rotation=90, fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("polygon IoU")
    ax.set_title(f"real dev photos turned clockwise: {Path(report['model']).name} ({report['machine']})", fontsize=9)
    ax.legend(ncol=4, fontsize=8, loc="lower left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models" / "hed_default.int8.tflite"))
    ap.add_argument("--photos", type=Path, default=REPO.parent / "shared" / "data" / "real-photos-dev")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "rotated_dev.json")
    args = ap.parse_args(argv)

    from docscan.detect.pipeline import Detector, load_edge_model, load_image, polygon_iou

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
        for turn in TURNS:
            image, truth = turn_clockwise(photo, label["corners"], turn)
            d = detector.detect(image, warp=False)
            per_image[name][str(turn)] = polygon_iou(d.corners, truth) if d.found else 0.0
    turns = {}
    for turn in TURNS:
        v = np.array([per_image[n][str(turn)] for n in per_image])
        turns[str(turn)] = {"mean_iou": float(v.mean()), "share_iou_ge_0.9": float((v >= 0.9).mean()),
                            "min_iou": float(v.min()), "below_0.9": [n for n in per_image if per_image[n][str(turn)] < 0.9]}
    report = {"model": args.model, "machine": host_cpu(), "photos": str(args.photos), "n": len(per_image),
              "turns": turns, "per_image": per_image}
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    for turn, r in turns.items():
        print(f"{turn:>3} deg: mean IoU {r['mean_iou']:.3f}  IoU>=0.9 {r['share_iou_ge_0.9']:.0%}  "
              f"min {r['min_iou']:.3f}  {' '.join(r['below_0.9'])}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
