"""Does a second look flag the wrong detections the confidence lets through?

Every labelled real photo of ``real-photos-dev`` and ``-dev2``, in the eight views of
``real_views.py`` (labels moved with the pixels), is detected as the app would, then again
mirrored (``docscan.detect.second_look``). Right is IoU >= 0.9 with the label. For four
scores, the confidence, the agreement of the two looks, their product (stop 28's rule,
chosen on these photos) and ``checked_confidence`` (what ``docscan detect --second-look``
reports: a logistic model of both, fitted on synthetic scenes), it gives the AUROC and, at
the threshold that keeps 95% of the right detections, the share of wrong ones flagged
(``docscan.detect.confidence.separation``), pooled and per set, with a 95% bootstrap
interval over photos for the pooled share (a photo's views fail together); and what the
second look costs (median ms, against the first detection, on this machine).

With ``--fit``, the check is first refitted on synthetic scenes (``docscan.train.synth``,
as ``confidence_fit.py`` makes them; the real photos are never fitted on): the weights to
put in ``second_look.CHECK_WEIGHTS`` are printed, the real views are scored with them, and
a held-out synthetic stream shows how the four scores do on generated scenes.

    python3 benchmarks/second_look.py [--model M] [--sets real-dev,real-dev2]
        [--fit 9500:400,9600:600 [--held-out 300]] [-o benchmarks/results/second_look.json]

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

import confidence_fit  # noqa: E402
import numpy as np  # noqa: E402
import real_views  # noqa: E402

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.detect.confidence import IOU_GOOD, separation  # noqa: E402
from docscan.machine import describe_host  # noqa: E402

SCORES = ("confidence", "agreement", "product", "checked_confidence")
SCORE_NAMES = {"confidence": "confidence", "agreement": "agreement\n(mirrored look)",
               "product": "confidence x\nagreement", "checked_confidence": "checked_confidence\n(fitted)"}


def look_twice(detector, image, truth) -> dict:
    """One detection and its second look: IoU with ``truth``, confidence, agreement, ms."""
    from docscan.detect.geometry import polygon_iou
    from docscan.detect.second_look import agreement

    t0 = time.perf_counter()
    d = detector.detect(image, warp=False)
    t1 = time.perf_counter()
    agree = agreement(detector, image, d.corners)
    t2 = time.perf_counter()
    return {"iou": float(polygon_iou(d.corners, truth)) if d.corners is not None else 0.0,
            "confidence": float(d.confidence), "agreement": agree,
            "first_ms": (t1 - t0) * 1e3, "second_ms": (t2 - t1) * 1e3}


def add_scores(rows, check: dict | None = None) -> None:
    """The product and ``checked_confidence`` of each row (with ``check``'s weights and
    intercept, else the shipped ones)."""
    from docscan.detect.second_look import checked_confidence

    kw = {} if check is None else {"weights": tuple(check["weights"]), "intercept": check["intercept"]}
    for r in rows:
        r["product"] = r["confidence"] * r["agreement"]
        r["checked_confidence"] = checked_confidence(r["confidence"], r["agreement"], **kw)


def separations(rows) -> dict:
    iou = [r["iou"] for r in rows]
    return {score: separation([r[score] for r in rows], iou) for score in SCORES}


def fit_check(detector, streams: list[tuple[int, int]], held_out: int) -> dict:
    """The check refitted on synthetic scenes (``streams``: (seed, n)): weights, intercept,
    and the four scores' separation on ``held_out`` scenes of another stream."""
    from docscan.detect.second_look import logit

    def scenes(seed, n):
        rows = []
        for i, (image, truth) in enumerate(confidence_fit.synthetic(seed, n)):
            rows.append(look_twice(detector, image, truth))
            print(f"\rsynthetic stream {seed}: {i + 1}/{n} scenes", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return rows

    fit_rows = [r for seed, n in streams for r in scenes(seed, n)]
    x = np.array([[logit(r["confidence"]), r["agreement"]] for r in fit_rows])
    weights, intercept = confidence_fit.fit_logistic(x, np.array([r["iou"] for r in fit_rows]))
    check = {"streams": [f"{seed}:{n}" for seed, n in streams], "features": ["confidence logit", "agreement"],
             "weights": [round(float(w), 4) for w in weights], "intercept": round(float(intercept), 4)}
    held = scenes(confidence_fit.HELD_OUT_SEED, held_out)
    add_scores(held, check)
    check["held_out"] = {"stream": f"{confidence_fit.HELD_OUT_SEED}:{held_out}", "separation": separations(held)}
    return check


def flagged_intervals(rows, n: int = 2000, seed: int = 0) -> dict:
    """95% bootstrap intervals, resampling photos (a photo's views fail together), of each
    score's share of wrong views flagged ("flagged") and of its gain over the confidence
    alone ("gain", paired: the same resampled photos)."""
    photos = sorted({(r["set"], r["photo"]) for r in rows})
    by_photo = {p: [r for r in rows if (r["set"], r["photo"]) == p] for p in photos}
    rng = np.random.default_rng(seed)
    draws = {score: [] for score in SCORES}
    for _ in range(n):
        sample = [r for k in rng.integers(len(photos), size=len(photos)) for r in by_photo[photos[k]]]
        iou = [r["iou"] for r in sample]
        shares = {score: separation([r[score] for r in sample], iou)["flagged_wrong"] for score in SCORES}
        if None not in shares.values():
            for score in SCORES:
                draws[score].append((shares[score], shares[score] - shares["confidence"]))
    out = {}
    for score, d in draws.items():
        d = np.array(d).reshape(-1, 2)
        out[score] = None if not len(d) else {
            "flagged": [float(v) for v in np.percentile(d[:, 0], [2.5, 97.5])],
            "gain": [float(v) for v in np.percentile(d[:, 1], [2.5, 97.5])]}
    return out


def run(model: str, set_names, limit: int | None = None, fit: list[tuple[int, int]] = (),
        held_out: int = 300) -> dict:
    """A row per view of every photo (the first ``limit`` photos), and the scores' separation;
    with ``fit`` streams, the check refitted first (``fit_check``) and used for the scores."""
    from docscan.detect.detector import Detector

    detector = Detector(model)
    check = fit_check(detector, list(fit), held_out) if fit else None
    photos = real_views.load_sets(set_names)[:limit]
    rows = []
    t_start = time.perf_counter()
    for k, (s, name, _, image, truth) in enumerate(photos):
        for view, im, c in real_views.views(image, truth):
            rows.append({"set": s, "photo": name, "view": view, **look_twice(detector, im, c)})
        print(f"\r{k + 1}/{len(photos)} photos, {time.perf_counter() - t_start:.0f} s", end="",
              file=sys.stderr, flush=True)
    print(file=sys.stderr)
    add_scores(rows, check)

    groups = {"pooled": rows}
    for s in set_names:
        groups[s] = [r for r in rows if r["set"] == s]
    shown = Path(model).resolve()
    shown = shown.relative_to(REPO) if shown.is_relative_to(REPO) else shown
    report = {"host": describe_host(), "model": str(shown), "iou_good": IOU_GOOD, "views": list(real_views.VIEWS),
              "photos": len(photos), "separation": {g: separations(sub) for g, sub in groups.items() if sub},
              "intervals": flagged_intervals(rows),
              "cost_ms": {"first_median": float(np.median([r["first_ms"] for r in rows])),
                          "second_median": float(np.median([r["second_ms"] for r in rows]))},
              "rows": rows}
    if check is not None:
        report["fit"] = check
    from docscan.detect.second_look import CHECK_INTERCEPT, CHECK_WEIGHTS
    used = check or {"weights": list(CHECK_WEIGHTS), "intercept": CHECK_INTERCEPT}
    report["check"] = {"weights": list(used["weights"]), "intercept": used["intercept"],
                       "from": "refitted by this run" if check else "docscan.detect.second_look (shipped)"}
    return report


def _print_separations(title, seps, intervals=None) -> None:
    for score, sep in seps.items():
        auroc = "-" if sep["auroc"] is None else f"{sep['auroc']:.3f}"
        flagged = "-" if sep["flagged_wrong"] is None else f"{sep['flagged_wrong']:.0%} of {sep['n_wrong']}"
        if intervals and intervals.get(score):
            lo, hi = intervals[score]["flagged"]
            flagged += f" [{lo:.0%}, {hi:.0%}]"
            if score != "confidence":
                lo, hi = intervals[score]["gain"]
                flagged += f", {lo:+.0%}..{hi:+.0%} on conf."
        t = "-" if sep["threshold"] is None else f"{sep['threshold']:.3f}"
        print(f"{title:>22} {score:>20} {auroc:>7} {flagged:>52} {t:>10}")


def print_table(report) -> None:
    if "fit" in report:
        f = report["fit"]
        print(f"check fitted on synthetic {', '.join(f['streams'])}: "
              f"CHECK_WEIGHTS = ({f['weights'][0]}, {f['weights'][1]}), CHECK_INTERCEPT = {f['intercept']}")
    print(f"{report['model']}: {report['photos']} photos x up to {len(report['views'])} views; "
          f"right = IoU >= {report['iou_good']}")
    head = "wrong flagged (95% of right kept) [interval], gain on conf."
    print(f"{'group':>22} {'score':>20} {'AUROC':>7} {head:>52} {'threshold':>10}")
    for g, seps in report["separation"].items():
        _print_separations(g, seps, report["intervals"] if g == "pooled" else None)
    if "fit" in report:
        _print_separations(f"synthetic {report['fit']['held_out']['stream']}", report["fit"]["held_out"]["separation"])
    c = report["cost_ms"]
    print(f"cost: first detection median {c['first_median']:.1f} ms, second look {c['second_median']:.1f} ms")


def plot(report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=100)
    pooled = report["separation"]["pooled"]
    shares = [100 * (pooled[s]["flagged_wrong"] or 0) for s in SCORES]
    lo_hi = [(report["intervals"].get(s) or {"flagged": (0.0, 0.0)})["flagged"] for s in SCORES]
    err = np.array([[100 * (f / 100 - lo), 100 * (hi - f / 100)] for f, (lo, hi) in zip(shares, lo_hi)]).T
    bars = ax.bar(range(len(SCORES)), shares, yerr=np.maximum(err, 0), capsize=3,
                  color=["tab:blue", "tab:orange", "tab:grey", "tab:green"])
    for b, s in zip(bars, SCORES):
        ax.text(b.get_x() + b.get_width() / 2, 2, f"{b.get_height():.0f}%\nAUROC\n{pooled[s]['auroc'] or 0:.3f}",
                ha="center", fontsize=8, color="white")
    ax.axhline(80, color="black", ls="--", lw=1, label="issue 15's target: 80%")
    ax.set_xticks(range(len(SCORES)), [SCORE_NAMES[s] for s in SCORES], fontsize=8)
    ax.set_ylabel(f"wrong detections flagged (%), of {pooled['confidence']['n_wrong']}")
    ax.set_ylim(0, 110)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("at the threshold that keeps 95% of the right ones\n(bars: 95% interval, photos resampled)",
                 fontsize=9)
    rows = report["rows"]
    for right, colour, label in ((True, "tab:green", "right (IoU >= 0.9)"), (False, "tab:red", "wrong")):
        sel = [r for r in rows if (r["iou"] >= report["iou_good"]) == right]
        ax2.scatter([r["confidence"] for r in sel], [r["agreement"] for r in sel], s=10, c=colour, alpha=0.6, label=label)
    from docscan.detect.second_look import logit

    t = pooled["product"]["threshold"]
    if t:
        x = np.linspace(max(t, 1e-3), 1, 100)
        ax2.plot(x, np.clip(t / x, 0, 1.05), ":", color="tab:grey", lw=1.2, label=f"confidence x agreement = {t:.2f}")
    t = pooled["checked_confidence"]["threshold"]
    if t:
        (w_conf, w_agree), b = report["check"]["weights"], report["check"]["intercept"]
        x = np.linspace(0.005, 0.995, 200)
        y = (logit(t) - b - w_conf * np.array([logit(v) for v in x])) / w_agree
        keep = (y >= -0.02) & (y <= 1.05)
        ax2.plot(x[keep], y[keep], "k--", lw=1, label=f"checked_confidence = {t:.2f}")
    ax2.set_xlabel("confidence")
    ax2.set_ylabel("agreement of the mirrored look (IoU)")
    ax2.set_xlim(-0.02, 1.02)
    ax2.set_ylim(-0.02, 1.05)
    ax2.legend(loc="lower left", fontsize=8)
    ax2.set_title("every view of every photo", fontsize=9)
    fig.suptitle(f"second look, {Path(report['model']).name}, labelled real photos x views: "
                 f"{report['host']}", fontsize=9)
    write_figure(path, fig)


def _streams_arg(text: str) -> list[tuple[int, int]]:
    """``--fit``: SEED:N[,SEED:N...], N >= 1."""
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
    ap.add_argument("--model", default=str(REPO / "models" / "hed_default.int8.tflite"),
                    help="a .tflite or .keras edge model (default: the shipped int8 model)")
    ap.add_argument("--sets", type=real_views.sets_arg, default="real-dev,real-dev2",
                    help=f"comma-separated, of {', '.join(real_views.SETS)}")
    ap.add_argument("--fit", type=_streams_arg, default=[],
                    help="refit the check first on synthetic streams SEED:N[,SEED:N...] (e.g. 9500:400,9600:600)")
    ap.add_argument("--held-out", type=int, default=300,
                    help=f"with --fit: synthetic scenes of stream {confidence_fit.HELD_OUT_SEED} to check the fit on")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "second_look.json")
    args = ap.parse_args(argv)
    if not Path(args.model).is_file():
        ap.error(f"--model: {args.model}: no such file")
    if args.held_out < 1:
        ap.error(f"--held-out: {args.held_out}: at least 1")
    report = run(args.model, args.sets, fit=args.fit, held_out=args.held_out)
    print_table(report)
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
