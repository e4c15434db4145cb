"""The quad finder's settings one at a time, on every labelled real set (issue 15).

Each ``KEY=VALUE`` is one variant: ``QuadParams`` with that one field changed, the shipped
int8 model's maps, the full detector (refinement included). Per variant and set the mean
IoU and its change from the defaults, and the photos it helps and hurts most: a setting
that fixes one photo and breaks another is tuning to these photos, not a gain.

    python3 benchmarks/quad_params_sweep.py ridge_threshold=0.2 support_hi=0.9 max_lines=18

Writes benchmarks/results/quad_params_sweep.json and .png (``-o`` elsewhere). With the quad
finder's C path (docscan.detect.native) the 70 photos take about 5 s per variant here.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import one_thread  # noqa: F401  (before numpy / cv2 / TensorFlow)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.detect import native  # noqa: E402
from docscan.detect.detector import Detector  # noqa: E402
from docscan.detect.evaluate import evaluate, match_labels  # noqa: E402
from docscan.detect.quad_params import DEFAULT_PARAMS, parse_setting  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402
from docscan.machine import describe_host  # noqa: E402
from docscan.paths import shared_dir  # noqa: E402

SETS = ("real-photos-dev", "real-photos-dev2", "real-photos-fullres")


def score(changes: dict, sets: dict) -> dict:
    det = Detector(params=dataclasses.replace(DEFAULT_PARAMS, **changes))
    t0 = time.perf_counter()
    per_set, per_photo = {}, {}
    for name, items in sets.items():
        results, _ = evaluate(det, items)
        per_set[name] = float(np.mean([r.iou for r in results]))
        per_photo.update({f"{name}/{r.name}": float(r.iou) for r in results})
    return {"changes": changes, "mean_iou": per_set, "photos": per_photo, "seconds": time.perf_counter() - t0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", metavar="KEY=VALUE")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "quad_params_sweep.json")
    args = ap.parse_args(argv)
    try:
        variants = [parse_setting(v) for v in args.variants]
    except DocscanError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sets = {}
    for name in SETS:
        folder = shared_dir() / "data" / name
        if (folder / "labels.json").is_file():
            sets[name] = match_labels(folder, folder / "labels.json")[0]
    if not sets:
        print(f"error: {shared_dir() / 'data'}: no labelled real sets", file=sys.stderr)
        return 2
    base = score({}, sets)
    print("defaults: " + "  ".join(f"{s} {v:.4f}" for s, v in base["mean_iou"].items()), flush=True)
    rows = []
    for changes in variants:
        row = score(changes, sets)
        delta = {k: row["photos"][k] - base["photos"][k] for k in base["photos"]}
        ranked = sorted(delta.items(), key=lambda kv: kv[1])
        row["delta"] = {s: row["mean_iou"][s] - base["mean_iou"][s] for s in sets}
        row["hurts"], row["helps"] = ranked[:3], ranked[::-1][:3]
        del row["photos"]
        rows.append(row)
        label = ", ".join(f"{k}={v}" for k, v in changes.items())
        print(f"{label:28s} " + "  ".join(f"{s} {row['delta'][s]:+.4f}" for s in sets)
              + f"  worst {ranked[0][0].split('/')[-1][:28]} {ranked[0][1]:+.3f}"
              + f"  best {ranked[-1][0].split('/')[-1][:28]} {ranked[-1][1]:+.3f}", flush=True)
    report = {"host": describe_host(), "quad_finder_arithmetic": native.status(),
              "model": str(Detector().model.path), "defaults": base["mean_iou"], "variants": rows}
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


def plot(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["variants"]
    sets = list(report["defaults"])
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.5))
    y = np.arange(len(rows))
    for k, s in enumerate(sets):
        ax.barh(y + (k - 1) * 0.25, [r["delta"][s] for r in rows], height=0.25, label=s)
    ax.set_yticks(y, [", ".join(f"{a}={b}" for a, b in r["changes"].items()) for r in rows])
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("mean IoU change from the defaults")
    ax.legend(fontsize=8)
    write_figure(path, fig, title="quad finder settings, one at a time (shipped int8 model)")


if __name__ == "__main__":
    sys.exit(main())
