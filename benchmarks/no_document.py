"""Photos with no document in them: how often each detector puts a quad on them anyway.

The seed author's 207 background photos (``shared/data/author-hed-samples/sample_images/
background_images/``: tables, floors, fabric, desks; no page) go through the detectors of
``real_sets.py``: the shipped model with one, two and four looks, the author's HED with its
contour quad, and the classic scanner. A quad on such a photo is a false find; the contract
is "no document found". Reports, per method, the false finds, how many of them come with a
confidence of 0.5 or more (the ones an app would not question), and, for the shipped model,
the confidences of its false finds. The baselines' confidence is 1 for any quad. (The
synthetic scenes use these photos as backgrounds under a page, so the model has seen them;
and two of them do show a page, a spiral notebook and a printed planner, so a handful of
finds are right.)

    python3 benchmarks/no_document.py [--model M] [--methods hed+quad,two-looks,four-looks,author-hed,classic]
        [-o benchmarks/results/no_document.json]

Writes the JSON and a PNG beside it, naming the machine.
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
import real_sets  # noqa: E402

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402
from docscan.images import IMAGE_SUFFIXES  # noqa: E402
from docscan.machine import describe_host  # noqa: E402
from docscan.paths import shared_dir  # noqa: E402

CONFIDENT = 0.5     # a false find at or above this confidence would not be questioned


def backgrounds_dir() -> Path:
    from docscan.train.synth.assets import SEED_SAMPLES

    return shared_dir() / SEED_SAMPLES / "background_images"


def run(methods, model=None, folder: Path | None = None, limit: int | None = None) -> dict:
    """Per method: photos, false finds (a quad returned), confident false finds, and each
    photo's (found, confidence); the first ``limit`` photos of ``folder``."""
    from docscan.detect.image_io import load_image

    folder = folder or backgrounds_dir()
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    detectors = real_sets.make_detectors(methods, model)
    per = {m: {} for m in detectors}
    unreadable = []
    t0 = time.perf_counter()
    for k, path in enumerate(paths):
        try:
            image = load_image(path)
        except DocscanError as exc:
            unreadable.append(str(exc))
            continue
        for method, det in detectors.items():
            d = det.detect(image, warp=False)
            per[method][path.name] = {"found": bool(d.found), "confidence": round(float(d.confidence), 4)}
        print(f"\r{k + 1}/{len(paths)} photos, {time.perf_counter() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    summary = {}
    for method, rows in per.items():
        found = [r["confidence"] for r in rows.values() if r["found"]]
        summary[method] = {"photos": len(rows), "false_finds": len(found),
                           "confident_false_finds": sum(c >= CONFIDENT for c in found),
                           "median_confidence_of_false_finds": float(np.median(found)) if found else None}
    hed = detectors.get("hed+quad") or detectors.get("two-looks") or detectors.get("four-looks")
    shown = None if hed is None else Path(hed.model.path)
    return {"host": describe_host(), "folder": str(folder), "confident": CONFIDENT,
            "model": None if shown is None else str(shown.relative_to(REPO) if shown.is_relative_to(REPO) else shown),
            "summary": summary, "unreadable": unreadable, "photos": per}


def print_table(report) -> None:
    print(f"{report['folder']}: photos with no document; a quad is a false find")
    print(f"{'method':>12} {'photos':>7} {'false finds':>12} {'confidence >= ' + str(report['confident']):>18} "
          f"{'median conf.':>13}")
    for method, s in report["summary"].items():
        med = "-" if s["median_confidence_of_false_finds"] is None else f"{s['median_confidence_of_false_finds']:.3f}"
        print(f"{method:>12} {s['photos']:>7} {s['false_finds']:>12} {s['confident_false_finds']:>18} {med:>13}")
    for err in report["unreadable"]:
        print(f"skipped: {err}")


def plot(report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=100)
    methods = list(report["summary"])
    s = report["summary"]
    x = np.arange(len(methods))
    ax.bar(x - 0.2, [s[m]["false_finds"] for m in methods], 0.4, label="false finds (a quad returned)")
    ax.bar(x + 0.2, [s[m]["confident_false_finds"] for m in methods], 0.4,
           label=f"... with confidence >= {report['confident']}")
    ax.set_xticks(x, methods)
    ax.set_ylabel(f"photos, of {max(v['photos'] for v in s.values())}")
    ax.legend(fontsize=8)
    ax.set_title("photos with no document", fontsize=9)
    for m in [m for m in ("hed+quad", "two-looks", "four-looks") if m in report["photos"]]:
        conf = [r["confidence"] for r in report["photos"][m].values() if r["found"]]
        ax2.hist(conf, bins=np.linspace(0, 1, 21), alpha=0.6, label=f"{m} ({len(conf)})")
    ax2.set_xlabel("confidence of the false finds")
    ax2.set_ylabel("photos")
    ax2.legend(fontsize=8)
    ax2.set_title("the shipped model's false finds", fontsize=9)
    fig.suptitle(f"no document in the frame: {report['model']}, {report['host']}", fontsize=9)
    write_figure(path, fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="edge model for hed+quad (default: the shipped int8 .tflite)")
    ap.add_argument("--methods", default="hed+quad,two-looks,four-looks,author-hed,classic",
                    help=f"comma-separated, of {', '.join(real_sets.METHODS)}")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "no_document.json")
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(real_sets.METHODS)
    if unknown or not methods:
        ap.error(f"--methods: unknown {', '.join(sorted(unknown)) or '(none given)'} "
                 f"(choose from {', '.join(real_sets.METHODS)})")
    if not backgrounds_dir().is_dir():
        ap.error(f"no {backgrounds_dir()}: the shared data is missing")
    report = run(methods, args.model)
    print_table(report)
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
