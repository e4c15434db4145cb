"""Classic OpenCV scanner vs the shipped HED + quad finder, on the same labelled sets.

Sets: the real development photos (``../shared/data/real-photos-dev`` with labels.json)
and a held-out synthetic set of 500 images from ``docscan.train.synth.write_set`` with seed 9001
(training streams use seeds 1, 2 and 3; tuning used seed 7331), written once to ~/.cache/docscan/ per generator version.
For a model with the region head, "hed-edges-only" is the same model with the region map
ignored (an ablation).

    python3 benchmarks/classic_baseline.py [--model M] [--synth-n 500] [--skip-synth]

Writes benchmarks/results/classic_baseline.json and .png (mean IoU and share IoU >= 0.9
per method and set).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from docscan.atomic import write_bytes, write_json  # noqa: E402
from docscan.detect.evaluate import evaluate, match_labels, summarize  # noqa: E402
from docscan.machine import describe_host  # noqa: E402
from docscan.paths import cache_dir, real_photos_dir  # noqa: E402

SYNTH_SEED = 9001
RESULTS = REPO / "benchmarks" / "results"


def heldout_synth(n: int) -> Path:
    """The held-out synthetic set, generated once (it takes minutes) and cached."""
    import hashlib

    import docscan.train.synth
    from docscan.train.synth import write_set

    # Keyed by the generator's source too: a changed generator must not reuse a stale set.
    sources = sorted(Path(docscan.train.synth.__file__).parent.glob("*.py"))
    gen = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:10]
    d = cache_dir(f"synth-heldout-seed{SYNTH_SEED}-n{n}-{gen}")
    if (d / "labels.json").is_file():
        return d
    tmp = d.with_name(f"{d.name}.partial-{os.getpid()}")
    print(f"writing {n} held-out synthetic images to {d} ...", flush=True)
    write_set(tmp, n, SYNTH_SEED)
    if (d / "labels.json").is_file():   # another process finished first: keep its copy
        shutil.rmtree(tmp)
    else:
        tmp.rename(d)
    return d


def visible_share(labels: Path) -> dict:
    """Share of each labelled page inside its frame: an upper bound on that image's IoU."""
    import json

    import numpy as np

    from docscan.detect.geometry import convex_overlap

    shares, names = [], []
    for name, entry in json.loads(labels.read_text()).items():
        names.append(name)
        quad = np.float32(entry["corners"])
        w, h = entry["width"], entry["height"]
        frame = np.float32([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
        inter, area, _ = convex_overlap(quad, frame)
        shares.append(min(1.0, inter / max(area, 1e-9)))
    shares = np.array(shares)
    return {"mean": float(shares.mean()), "share_fully_in_frame": float((shares > 0.999).mean()),
            "share_ge_0.9": float((shares >= 0.9).mean()),
            "fully_in_frame": [n for n, s in zip(names, shares) if s > 0.999]}


def by_scene(labels: Path, per_image_iou: dict) -> dict:
    """Mean IoU per scene (single, booklet, open-book, stack, picture) and per page kind, and
    each one's share of the set's shortfall from IoU 1, where the labels tell them."""
    import json

    entries = json.loads(labels.read_text())
    out = {}
    for key in ("scene", "page"):
        groups = {}
        for name, iou in per_image_iou.items():
            if key in entries.get(name, {}):
                groups.setdefault(str(entries[name][key]), []).append(iou)
        if groups:
            n = len(per_image_iou)
            out[key] = {g: {"n": len(v), "mean_iou": round(sum(v) / len(v), 4),
                            "shortfall": round(sum(1 - x for x in v) / n, 4)} for g, v in sorted(groups.items())}
    return out


def run_set(name: str, images: Path, labels: Path, detectors: dict) -> dict:
    items, _ = match_labels(images, labels)
    out = {"images_dir": str(images), "labels": str(labels), "n": len(items), "methods": {}}
    for method, det in detectors.items():
        t0 = time.perf_counter()
        results, _ = evaluate(det, items)
        s = summarize(results)
        s["wall_s"] = round(time.perf_counter() - t0, 1)
        s["per_image_iou"] = {r.name: round(r.iou, 4) for r in results}
        s["by_scene"] = by_scene(labels, s["per_image_iou"])
        out["methods"][method] = s
        print(f"{name:>14} {method:>8}: mean IoU {s['mean_iou']:.4f}  IoU>=0.9 {s['share_iou_ge_0.9']:.1%}  "
              f"corner err {s['mean_corner_error'] if s['mean_corner_error'] is None else round(s['mean_corner_error'], 4)}"
              f"  not found {len(s['not_found'])}", flush=True)
    return out


def plot(report: dict, path: Path) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(report["sets"])
    methods = sorted({m for s in sets for m in report["sets"][s]["methods"]})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((axes[0], "mean_iou", "mean polygon IoU"), (axes[1], "share_iou_ge_0.9", "share IoU >= 0.9")):
        width = 0.8 / max(1, len(methods))
        for k, m in enumerate(methods):
            vals = [report["sets"][s]["methods"].get(m, {}).get(key) or 0 for s in sets]
            bars = ax.bar([i + k * width for i in range(len(sets))], vals, width, label=m)
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
        ax.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(sets))],
                      [f"{s} (n={report['sets'][s]['n']})" for s in sets])
        ax.set_ylim(0, 1.18)
        ax.set_title(title)
        ax.legend(loc="upper center", ncol=len(methods), fontsize=7)
    fig.suptitle(f"document detection: classic OpenCV scanner vs {report.get('model') or 'HED'}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    write_bytes(path, buf.getvalue())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="edge model for the HED method (default: the shipped one)")
    ap.add_argument("--synth-n", type=int, default=500)
    ap.add_argument("--skip-synth", action="store_true")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=DIR",
                    help="also evaluate the labelled set in DIR as NAME (e.g. the held-out set of an earlier "
                         "generator version)")
    ap.add_argument("--classic-only", action="store_true")
    ap.add_argument("-o", "--out", type=Path, default=RESULTS / "classic_baseline.json")
    args = ap.parse_args(argv)

    from docscan.detect.classic import ClassicDetector

    detectors = {"classic": ClassicDetector(), "classic-closed": ClassicDetector(close=True)}
    model_name = None
    if not args.classic_only:
        from docscan.detect.detector import Detector
        from docscan.errors import DocscanError

        try:
            det = Detector(args.model)
            detectors["hed+quad"] = det
            if det.model.has_region:
                # ablation: the same model's edge map alone (no region head), same quad finder
                detectors["hed-edges-only"] = Detector(model=det.model, use_region=False)
            model_name = str(Path(det.model.path).relative_to(REPO)) if str(det.model.path).startswith(str(REPO)) \
                else str(det.model.path)
        except DocscanError as exc:
            print(f"HED method skipped: {exc}", flush=True)
    report = {"host": describe_host(), "model": model_name, "synth_seed": SYNTH_SEED,
              "sets": {}}
    dev = real_photos_dir()
    if (dev / "labels.json").is_file():
        report["sets"]["real-dev"] = run_set("real-dev", dev, dev / "labels.json", detectors)
    else:
        print(f"real photos skipped: no {dev / 'labels.json'}")
    if not args.skip_synth:
        d = heldout_synth(args.synth_n)
        entry = run_set(f"synth-{args.synth_n}", d, d / "labels.json", detectors)
        entry["visible_share"] = visible_share(d / "labels.json")
        inside = set(entry["visible_share"].pop("fully_in_frame"))
        for method, m in entry["methods"].items():
            ious = [v for k, v in m["per_image_iou"].items() if k in inside]
            m["mean_iou_page_fully_in_frame"] = sum(ious) / max(1, len(ious))
            m["share_iou_ge_0.9_page_fully_in_frame"] = sum(v >= 0.9 for v in ious) / max(1, len(ious))
            print(f"synth {method:>14}: pages fully in frame (n={len(ious)}): mean IoU "
                  f"{m['mean_iou_page_fully_in_frame']:.4f}, IoU>=0.9 {m['share_iou_ge_0.9_page_fully_in_frame']:.1%}")
        for method in ("hed+quad", "hed-edges-only"):
            for scene, v in entry["methods"].get(method, {}).get("by_scene", {}).get("scene", {}).items():
                print(f"synth {method:>14}: {scene:>9} (n={v['n']}): mean IoU {v['mean_iou']:.4f}, "
                      f"shortfall {v['shortfall']:.4f}")
        print(f"synth: mean share of the page inside the frame {entry['visible_share']['mean']:.4f} "
              "(the IoU no detector can beat when a side lies outside the frame)")
        report["sets"][f"synth-{args.synth_n}"] = entry
    for spec in args.also:
        name, _, d = spec.partition("=")
        d = Path(d)
        if not name or not (d / "labels.json").is_file():
            sys.exit(f"error: --also {spec}: expected NAME=DIR with DIR/labels.json")
        report["sets"][name] = run_set(name, d, d / "labels.json", detectors)
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
