"""Every labelled real set, the shipped HED + quad finder and two baselines, one table.

Sets (under ``docscan.paths.shared_dir()/data``): ``real-photos-dev`` (25 labelled),
``real-photos-dev2`` (39, with a ``condition`` per photo) and ``real-photos-fullres``
(6 of dev2's photos as camera originals). "all" pools dev and dev2 (fullres repeats
photos of dev2). Methods:

- ``hed+quad``: the shipped model (default ``models/hed_default.int8.tflite``) + docscan's quad finder;
- ``two-looks``: the same with a second, mirrored look (``docscan detect --looks 2``: corners
  from both looks' maps; the confidence, and the checked confidence);
- ``four-looks``: also the close look at the page, both ways: a shot still as ``docscan
  detect`` sees it by default (``--looks 4``, ``docscan.detect.close_look``);
- ``author-hed``: the seed author's published HED (``shared/anchors/author-hed/``, comparison only,
  never shipped) with the contour quad its README describes: logits > 0, dilated 3x3, the
  largest contours' convex hulls approximated to 4 points (epsilon 2..10% of the perimeter);
- ``classic``: OpenCV Canny + largest 4-point contour (``docscan.detect.classic``).

Per set, method and condition: mean IoU, share IoU >= 0.9, min IoU; per set and method,
how well the confidence separates right (IoU >= 0.9) from wrong detections (AUROC, wrong
flagged at the threshold keeping 95% of the right ones; the baselines' confidence is only
found / not found).

    python3 benchmarks/real_sets.py [--model M] [--methods hed+quad,two-looks,four-looks,author-hed,classic] [-o OUT.json]
        [--also NAME=DIR]   # another labelled set (e.g. a held-out synthetic one), not pooled

Writes benchmarks/results/real_sets.json and .png, naming the machine.
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

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.detect.conditions import by_condition  # noqa: E402
from docscan.detect.detector import Detection  # noqa: E402
from docscan.detect.evaluate import evaluate, match_labels, summarize  # noqa: E402
from docscan.detect.geometry import order_corners  # noqa: E402
from docscan.detect.quad import NO_DOCUMENT  # noqa: E402
from docscan.machine import describe_host  # noqa: E402
from docscan.paths import shared_dir  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SETS = {"real-dev": "real-photos-dev", "real-dev2": "real-photos-dev2", "real-fullres": "real-photos-fullres"}
POOLED = ("real-dev", "real-dev2")
METHODS = ("hed+quad", "two-looks", "four-looks", "author-hed", "classic")


class AuthorHedDetector:
    """The seed author's HED (float32 .tflite, 256x256 RGB/255 in, fused-edge logits out)
    with the contour quad of its README; same ``detect`` interface as ``Detector``."""

    def __init__(self, path: Path, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.interp = Interpreter(model_path=str(path), num_threads=num_threads)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]
        self.out = self.interp.get_output_details()[0]
        self.size = int(self.inp["shape"][1])

    def detect(self, image_rgb: np.ndarray, warp: bool = False) -> Detection:
        t0 = time.perf_counter()
        H, W = image_rgb.shape[:2]
        x = cv2.resize(image_rgb, (self.size, self.size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        self.interp.set_tensor(self.inp["index"], x[None])
        self.interp.invoke()
        logits = self.interp.get_tensor(self.out["index"])[0, ..., 0]
        t1 = time.perf_counter()
        edges = cv2.dilate((logits > 0).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
        corners = _contour_quad(edges)
        if corners is not None:
            corners = order_corners((corners + 0.5) * np.float32([W / self.size, H / self.size]) - 0.5)
        t2 = time.perf_counter()
        return Detection(corners, 1.0 if corners is not None else 0.0, 1.0 / (1.0 + np.exp(-logits)),
                         {"model": (t1 - t0) * 1e3, "quad": (t2 - t1) * 1e3}, "" if corners is not None else NO_DOCUMENT)


def _contour_quad(edges: np.ndarray) -> np.ndarray | None:
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for c in sorted(contours, key=cv2.contourArea, reverse=True)[:5]:
        hull = cv2.convexHull(c)
        peri = cv2.arcLength(hull, True)
        for eps in np.arange(0.02, 0.1001, 0.01):
            approx = cv2.approxPolyDP(hull, eps * peri, True)
            if len(approx) == 4:
                return approx.reshape(4, 2).astype(np.float32)
            if len(approx) < 4:
                break
    return None


def make_detectors(methods, model):
    from docscan.detect.detector import Detector

    dets = {}
    if "hed+quad" in methods:
        dets["hed+quad"] = Detector(model)
    if {"two-looks", "four-looks"} & set(methods):
        first = dets.get("hed+quad") or Detector(model)   # one model for every way of looking
        for name, close in (("two-looks", False), ("four-looks", True)):
            if name in methods:
                dets[name] = Detector(model=first.model, second_look=True, close_look=close)
    if "author-hed" in methods:
        path = shared_dir() / "anchors" / "author-hed" / "hed_author.fp32.tflite"
        if path.is_file():
            dets["author-hed"] = AuthorHedDetector(path)
        else:
            print(f"author-hed skipped: no {path}", flush=True)
    if "classic" in methods:
        from docscan.detect.classic import ClassicDetector

        dets["classic"] = ClassicDetector()
    return dets


def _row(results) -> dict:
    s = summarize(results)
    return {"n": s["evaluated"], "mean_iou": s["mean_iou"], "share_iou_ge_0.9": s["share_iou_ge_0.9"],
            "min_iou": min((r.iou for r in results if r.error is None), default=None),
            "confidence": s["confidence"], "checked_confidence": s["checked_confidence"]}


def run(methods, model, also=()) -> dict:
    detectors = make_detectors(methods, model)
    report = {"host": describe_host(), "model": None, "sets": {}}
    hed = detectors.get("hed+quad") or detectors.get("two-looks") or detectors.get("four-looks")
    if hed is not None:
        p = Path(hed.model.path)
        report["model"] = str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p)
    pooled = {m: [] for m in detectors}
    sets = [(name, shared_dir() / "data" / folder) for name, folder in SETS.items()] + list(also)
    for name, d in sets:
        if not (d / "labels.json").is_file():
            print(f"{name} skipped: no {d / 'labels.json'}", flush=True)
            continue
        items, _ = match_labels(d, d / "labels.json")
        entry = {"dir": str(d), "n": len(items), "methods": {}}
        for method, det in detectors.items():
            t0 = time.perf_counter()
            results, _ = evaluate(det, items)
            row = _row(results)
            row["wall_s"] = round(time.perf_counter() - t0, 1)
            row["by_condition"] = {c: {k: g[k] for k in ("evaluated", "mean_iou", "share_iou_ge_0.9", "min_iou")}
                                   for c, g in by_condition(results).items()}
            row["images"] = {r.name: {"iou": round(r.iou, 4), "confidence": round(r.confidence, 4),
                                      "condition": r.condition} for r in results}
            entry["methods"][method] = row
            if name in POOLED:
                pooled[method] += results
            _print_row(name, method, row)
        report["sets"][name] = entry
    if all(s in report["sets"] for s in POOLED):
        entry = {"n": sum(report["sets"][s]["n"] for s in POOLED), "pools": list(POOLED), "methods": {}}
        for method, results in pooled.items():
            entry["methods"][method] = _row(results)
            _print_row("all", method, entry["methods"][method])
        report["sets"]["all"] = entry
    return report


def _print_row(name, method, row):
    conf = ""
    for label, key in (("conf", "confidence"), ("checked", "checked_confidence")):
        c = row.get(key)
        if c and c["auroc"] is not None:
            conf += f"  {label} AUROC {c['auroc']:.3f}, wrong flagged {c['flagged_wrong']:.0%} ({c['n_wrong']} wrong)"
    print(f"{name:>12} {method:>10}: mean IoU {row['mean_iou']:.4f}  IoU>=0.9 {row['share_iou_ge_0.9']:.1%}"
          f"{conf}", flush=True)
    for cond, g in row.get("by_condition", {}).items():
        print(f"{'':>12} {'':>10}  {cond:>18} ({g['evaluated']:>2}): {g['mean_iou']:.4f}  "
              f"{g['share_iou_ge_0.9']:.0%}", flush=True)


def table_rows(report) -> list[tuple[str, dict]]:
    """(row label, {method: (mean IoU, share >= 0.9, n)}): each set, then dev2's conditions."""
    rows = []
    for name, entry in report["sets"].items():
        rows.append((f"{name} ({entry['n']})", {m: (v["mean_iou"], v["share_iou_ge_0.9"], v["n"])
                                                for m, v in entry["methods"].items()}))
    dev2 = report["sets"].get("real-dev2", {}).get("methods", {})
    conds = sorted({c for v in dev2.values() for c in v.get("by_condition", {})})
    for c in conds:
        vals = {m: (v["by_condition"][c]["mean_iou"], v["by_condition"][c]["share_iou_ge_0.9"],
                    v["by_condition"][c]["evaluated"]) for m, v in dev2.items() if c in v.get("by_condition", {})}
        rows.append((f"dev2 {c} ({next(iter(vals.values()))[2]})", vals))
    return rows


def plot(report, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table_rows(report)
    methods = list(next(iter(report["sets"].values()))["methods"])
    fig, axes = plt.subplots(2, 1, figsize=(12, 7.5), sharex=True)
    width = 0.8 / max(1, len(methods))
    for ax, k, title in ((axes[0], 0, "mean polygon IoU"), (axes[1], 1, "share of photos with IoU >= 0.9")):
        for j, m in enumerate(methods):
            vals = [r[1].get(m, (0, 0, 0))[k] or 0 for r in rows]
            bars = ax.bar([i + j * width for i in range(len(rows))], vals, width, label=m)
            # upright, the labels of four methods' bars run into each other
            ax.bar_label(bars, fmt="%.2f", fontsize=6, rotation=90, padding=2)
        ax.set_ylim(0, 1.25)
        ax.set_ylabel(title)
        ax.axhline(0.97 if k == 0 else 0.95, color="grey", lw=0.6, ls="--")
        ax.legend(loc="upper right", ncol=len(methods), fontsize=7)
    axes[1].set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(rows))], [r[0] for r in rows],
                       rotation=30, ha="right", fontsize=7)
    fig.suptitle(f"labelled real photos: {report['model']} vs baselines\n{report['host']}", fontsize=9)
    write_figure(path, fig, dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="edge model for hed+quad (default: the shipped int8 .tflite)")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}")
    ap.add_argument("-o", "--out", type=Path, default=RESULTS / "real_sets.json")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=DIR",
                    help="also evaluate the labelled set in DIR (DIR/labels.json) as NAME; not pooled")
    args = ap.parse_args(argv)
    also = []
    for spec in args.also:
        name, _, d = spec.partition("=")
        if not name or not (Path(d) / "labels.json").is_file():
            sys.exit(f"error: --also {spec}: expected NAME=DIR with DIR/labels.json")
        also.append((name, Path(d)))
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        sys.exit(f"error: --methods: unknown {', '.join(sorted(unknown))} (choose from {', '.join(METHODS)})")
    report = run(methods, args.model, also)
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
