"""Does a second look flag the wrong detections the confidence lets through?

Every labelled real photo of ``real-photos-dev`` and ``-dev2``, in the eight views of
``real_views.py`` (labels moved with the pixels), is detected as the app would, then again
mirrored (``docscan.detect.second_look``). Right is IoU >= 0.9 with the label. For three
scores, the confidence, the agreement of the two looks and their product
(``checked_confidence``, what ``docscan detect --second-look`` reports), it gives the AUROC
and, at the threshold that keeps 95% of the right detections, the share of wrong ones
flagged (``docscan.detect.confidence.separation``), pooled and per set; and what the second
look costs (median ms, against the first detection, on this machine).

    python3 benchmarks/second_look.py [--model M] [--sets real-dev,real-dev2] [-o benchmarks/results/second_look.json]

Writes the JSON and a PNG beside it (flagged share per score; confidence against agreement
per view, right and wrong), naming the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402
import real_views  # noqa: E402

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.detect.confidence import IOU_GOOD, separation  # noqa: E402
from docscan.machine import describe_host  # noqa: E402

SCORES = ("confidence", "agreement", "checked_confidence")


def run(model: str, set_names, limit: int | None = None) -> dict:
    """A row per view of every photo (the first ``limit`` photos), and the scores' separation."""
    from docscan.detect.detector import Detector
    from docscan.detect.geometry import polygon_iou
    from docscan.detect.second_look import agreement, checked_confidence

    detector = Detector(model)
    photos = real_views.load_sets(set_names)[:limit]
    rows = []
    t_start = time.perf_counter()
    for k, (s, name, _, image, truth) in enumerate(photos):
        for view, im, c in real_views.views(image, truth):
            t0 = time.perf_counter()
            d = detector.detect(im, warp=False)
            t1 = time.perf_counter()
            agree = agreement(detector, im, d.corners)
            t2 = time.perf_counter()
            rows.append({"set": s, "photo": name, "view": view,
                         "iou": float(polygon_iou(d.corners, c)) if d.corners is not None else 0.0,
                         "confidence": float(d.confidence), "agreement": agree,
                         "checked_confidence": checked_confidence(d.confidence, agree),
                         "first_ms": (t1 - t0) * 1e3, "second_ms": (t2 - t1) * 1e3})
        print(f"\r{k + 1}/{len(photos)} photos, {time.perf_counter() - t_start:.0f} s", end="",
              file=sys.stderr, flush=True)
    print(file=sys.stderr)

    def separations(subset):
        iou = [r["iou"] for r in subset]
        return {score: separation([r[score] for r in subset], iou) for score in SCORES}

    groups = {"pooled": rows}
    for s in set_names:
        groups[s] = [r for r in rows if r["set"] == s]
    shown = Path(model).resolve()
    shown = shown.relative_to(REPO) if shown.is_relative_to(REPO) else shown
    return {"host": describe_host(), "model": str(shown), "iou_good": IOU_GOOD, "views": list(real_views.VIEWS),
            "photos": len(photos), "separation": {g: separations(sub) for g, sub in groups.items() if sub},
            "cost_ms": {"first_median": float(np.median([r["first_ms"] for r in rows])),
                        "second_median": float(np.median([r["second_ms"] for r in rows]))},
            "rows": rows}


def print_table(report) -> None:
    print(f"{report['model']}: {report['photos']} photos x up to {len(report['views'])} views; "
          f"right = IoU >= {report['iou_good']}")
    print(f"{'group':>10} {'score':>20} {'AUROC':>7} {'wrong flagged (95% of right kept)':>36} {'threshold':>10}")
    for g, seps in report["separation"].items():
        for score, sep in seps.items():
            auroc = "-" if sep["auroc"] is None else f"{sep['auroc']:.3f}"
            flagged = "-" if sep["flagged_wrong"] is None else f"{sep['flagged_wrong']:.0%} of {sep['n_wrong']}"
            t = "-" if sep["threshold"] is None else f"{sep['threshold']:.3f}"
            print(f"{g:>10} {score:>20} {auroc:>7} {flagged:>36} {t:>10}")
    c = report["cost_ms"]
    print(f"cost: first detection median {c['first_median']:.1f} ms, second look {c['second_median']:.1f} ms")


def plot(report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=100)
    pooled = report["separation"]["pooled"]
    shares = [100 * (pooled[s]["flagged_wrong"] or 0) for s in SCORES]
    bars = ax.bar(range(len(SCORES)), shares, color=["tab:blue", "tab:orange", "tab:green"])
    for b, s in zip(bars, SCORES):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 1,
                f"{b.get_height():.0f}%\nAUROC {pooled[s]['auroc'] or 0:.3f}", ha="center", fontsize=8)
    ax.axhline(80, color="grey", ls="--", lw=1, label="issue 15's target: 80%")
    ax.set_xticks(range(len(SCORES)), ["confidence", "agreement\n(mirrored look)", "confidence x\nagreement"])
    ax.set_ylabel(f"wrong detections flagged (%), of {pooled['confidence']['n_wrong']}")
    ax.set_ylim(0, 110)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("at the threshold that keeps 95% of the right ones", fontsize=9)
    rows = report["rows"]
    for right, colour, label in ((True, "tab:green", "right (IoU >= 0.9)"), (False, "tab:red", "wrong")):
        sel = [r for r in rows if (r["iou"] >= report["iou_good"]) == right]
        ax2.scatter([r["confidence"] for r in sel], [r["agreement"] for r in sel], s=10, c=colour, alpha=0.6, label=label)
    t = pooled["checked_confidence"]["threshold"]
    if t:
        x = np.linspace(max(t, 1e-3), 1, 100)
        ax2.plot(x, np.clip(t / x, 0, 1.05), "k--", lw=1, label=f"confidence x agreement = {t:.2f}")
    ax2.set_xlabel("confidence")
    ax2.set_ylabel("agreement of the mirrored look (IoU)")
    ax2.set_xlim(-0.02, 1.02)
    ax2.set_ylim(-0.02, 1.05)
    ax2.legend(loc="lower left", fontsize=8)
    ax2.set_title("every view of every photo", fontsize=9)
    fig.suptitle(f"second look, {Path(report['model']).name}, labelled real photos x views: "
                 f"{report['host']}", fontsize=9)
    write_figure(path, fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models" / "hed_default.int8.tflite"),
                    help="a .tflite or .keras edge model (default: the shipped int8 model)")
    ap.add_argument("--sets", type=real_views.sets_arg, default="real-dev,real-dev2",
                    help=f"comma-separated, of {', '.join(real_views.SETS)}")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "second_look.json")
    args = ap.parse_args(argv)
    if not Path(args.model).is_file():
        ap.error(f"--model: {args.model}: no such file")
    report = run(args.model, args.sets)
    print_table(report)
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
