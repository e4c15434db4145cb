"""What a second look buys: steadier corners, and a retake signal that flags more wrong ones.

Every labelled real photo of ``real-photos-dev`` and ``-dev2``, in the eight views of
``real_views.py`` (labels moved with the pixels), is detected as the app does on the live
preview (one look), and as ``docscan detect`` does for a shot still (``--looks``): seen
again mirrored, the answer found on both looks' maps averaged (``docscan.detect.second_look``),
and with ``--looks 4`` (the default, as in ``docscan detect``) the part around the page
also cut out and seen close, both ways, its maps pasted over the frame's
(``docscan.detect.close_look``). "the still" below is that answer. Right is IoU >= 0.9 with
the label. It reports:

* accuracy: mean IoU with one look and with the still's looks, per set, and the gain with a
  95% bootstrap interval over photos (``real_views.bootstrap_mean`` of each photo's view mean);
* the retake signal: for each score, with the detections it comes with, the AUROC and, at
  the threshold that keeps 95% of the right detections, the share of wrong ones flagged
  (``docscan.detect.confidence.separation``), pooled and per set, with 95% bootstrap
  intervals over photos for the pooled share and for its gain over one look's confidence
  (a photo's views fail together). Scores: one look's confidence; with the still's looks,
  the answer's confidence, the looks' agreement, confidence x agreement (stop 28's rule,
  chosen on these photos) and ``checked_confidence`` (what ``docscan detect`` reports: a
  logistic model of the confidence and agreement, fitted on synthetic scenes). As the two
  looks make more answers right, and the threshold follows the right ones, the flagged
  shares compare different answers; so also, for the same cost to the user (5, 10, 15% of
  all detections sent back for a retake), how many wrong answers each score lets through;
* what the looks cost (median ms of a detection with one look and with the still's, on
  this machine).

With ``--fit``, the check is first refitted on synthetic scenes (``docscan.train.synth``,
as ``confidence_fit.py`` makes them; the real photos are never fitted on): the weights to
put in ``second_look.CHECKS`` are printed, the real views are scored with them, and
a held-out synthetic stream shows the accuracy and the scores on generated scenes.

    python3 benchmarks/second_look.py [--model M] [--sets real-dev,real-dev2] [--looks 4|2]
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

# score -> (row field scored, row field of the IoU of the detection it comes with)
SCORES = {"one look: confidence": ("first_confidence", "first_iou"),
          "confidence": ("confidence", "iou"),
          "agreement": ("agreement", "iou"),
          "product": ("product", "iou"),
          "checked_confidence": ("checked_confidence", "iou")}
BASELINE = "one look: confidence"
RETAKE_RATES = (0.05, 0.10, 0.15)
SCORE_NAMES = {"one look: confidence": "one look:\nconfidence", "confidence": "the still:\nconfidence",
               "agreement": "agreement\nof the looks", "product": "confidence x\nagreement",
               "checked_confidence": "checked_confidence\n(fitted)"}


def detectors(model: str, looks: int = 4):
    """(one look, the still's ``looks``) detectors sharing one loaded model."""
    from docscan.detect.detector import Detector

    plain = Detector(model)
    return plain, Detector(model=plain.model, params=plain.params, second_look=True, close_look=looks == 4)


def look_twice(plain, looked, image, truth) -> dict:
    """One frame with one look and as a still: IoUs with ``truth``, confidences, agreement, ms."""
    from docscan.detect.geometry import polygon_iou

    def iou(d):
        return float(polygon_iou(d.corners, truth)) if d.corners is not None else 0.0

    t0 = time.perf_counter()
    a = plain.detect(image, warp=False)
    t1 = time.perf_counter()
    b = looked.detect(image, warp=False)
    t2 = time.perf_counter()
    return {"first_iou": iou(a), "first_confidence": float(a.confidence), "iou": iou(b),
            "confidence": float(b.confidence), "agreement": b.second_look.agreement,
            "one_look_ms": (t1 - t0) * 1e3, "still_ms": (t2 - t1) * 1e3}


def add_scores(rows, check: dict | None = None, looks: int = 4) -> None:
    """The product and ``checked_confidence`` of each row (with ``check``'s weights and
    intercept, else the shipped ones for ``looks``)."""
    from docscan.detect.second_look import CHECKS, checked_confidence

    weights, intercept = CHECKS[looks] if check is None else (tuple(check["weights"]), check["intercept"])
    kw = {"weights": weights, "intercept": intercept}
    for r in rows:
        r["product"] = r["confidence"] * r["agreement"]
        r["checked_confidence"] = checked_confidence(r["confidence"], r["agreement"], **kw)


def separations(rows) -> dict:
    return {name: separation([r[s] for r in rows], [r[i] for r in rows]) for name, (s, i) in SCORES.items()}


def at_retake_rates(rows, rates=RETAKE_RATES) -> dict:
    """For each score: with the lowest-scored ``rate`` of all detections sent back for a
    retake, how many of the rest are right and how many wrong (accepted without a word).
    Unlike ``separation``, whose threshold follows the right ones, this compares scores
    that come with different answers at the same cost to the user."""
    out = {}
    for name, (score, iou_field) in SCORES.items():
        s = np.array([r[score] for r in rows])
        iou = np.array([r[iou_field] for r in rows])
        order = np.argsort(s, kind="stable")
        out[name] = {}
        for rate in rates:
            kept = np.ones(len(rows), bool)
            kept[order[:int(rate * len(rows))]] = False
            out[name][f"{rate:.0%}"] = {"accepted_right": int((iou[kept] >= IOU_GOOD).sum()),
                                        "accepted_wrong": int((iou[kept] < IOU_GOOD).sum())}
    return out


def accuracy(rows) -> dict:
    """Mean IoU and share right with one look and as a still."""
    one, two = np.array([r["first_iou"] for r in rows]), np.array([r["iou"] for r in rows])
    return {"one_look": {"mean_iou": float(one.mean()), "right": float((one >= IOU_GOOD).mean())},
            "still": {"mean_iou": float(two.mean()), "right": float((two >= IOU_GOOD).mean())},
            "n": len(rows)}


def fit_check(plain, looked, streams: list[tuple[int, int]], held_out: int) -> dict:
    """The check refitted on synthetic scenes (``streams``: (seed, n)): weights, intercept;
    and on ``held_out`` scenes of another stream, accuracy with one look and as a still (gain with
    a bootstrap interval over scenes) and the scores' separation."""
    from docscan.detect.second_look import logit

    def scenes(seed, n):
        rows = []
        for i, (image, truth) in enumerate(confidence_fit.synthetic(seed, n)):
            rows.append(look_twice(plain, looked, image, truth))
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
    gain = real_views.bootstrap_mean([r["iou"] - r["first_iou"] for r in held])
    check["held_out"] = {"stream": f"{confidence_fit.HELD_OUT_SEED}:{held_out}", "accuracy": accuracy(held),
                         "gain": list(gain), "separation": separations(held)}
    return check


def intervals(rows, n: int = 2000, seed: int = 0) -> dict:
    """95% bootstrap intervals, resampling photos (a photo's views fail together), of each
    score's share of wrong views flagged ("flagged") and of its gain over one look's
    confidence ("gain", paired: the same resampled photos)."""
    photos = sorted({(r["set"], r["photo"]) for r in rows})
    by_photo = {p: [r for r in rows if (r["set"], r["photo"]) == p] for p in photos}
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in SCORES}
    for _ in range(n):
        sample = [r for k in rng.integers(len(photos), size=len(photos)) for r in by_photo[photos[k]]]
        shares = {name: s["flagged_wrong"] for name, s in separations(sample).items()}
        if None not in shares.values():
            for name in SCORES:
                draws[name].append((shares[name], shares[name] - shares[BASELINE]))
    out = {}
    for name, d in draws.items():
        d = np.array(d).reshape(-1, 2)
        out[name] = None if not len(d) else {
            "flagged": [float(v) for v in np.percentile(d[:, 0], [2.5, 97.5])],
            "gain": [float(v) for v in np.percentile(d[:, 1], [2.5, 97.5])]}
    return out


def run(model: str, set_names, limit: int | None = None, fit: list[tuple[int, int]] = (),
        held_out: int = 300, looks: int = 4) -> dict:
    """A row per view of every photo (the first ``limit`` photos), accuracy and the scores'
    separation; with ``fit`` streams, the check refitted first (``fit_check``) and used."""
    from docscan.detect.second_look import CHECKS

    plain, looked = detectors(model, looks)
    check = fit_check(plain, looked, list(fit), held_out) if fit else None
    photos = real_views.load_sets(set_names)[:limit]
    rows = []
    t_start = time.perf_counter()
    for k, (s, name, _, image, truth) in enumerate(photos):
        for view, im, c in real_views.views(image, truth):
            rows.append({"set": s, "photo": name, "view": view, **look_twice(plain, looked, im, c)})
        print(f"\r{k + 1}/{len(photos)} photos, {time.perf_counter() - t_start:.0f} s", end="",
              file=sys.stderr, flush=True)
    print(file=sys.stderr)
    add_scores(rows, check, looks)

    groups = {"pooled": rows}
    for s in set_names:
        groups[s] = [r for r in rows if r["set"] == s]
    groups = {g: sub for g, sub in groups.items() if sub}

    def gain(sub):
        photo_means = {}
        for r in sub:
            photo_means.setdefault((r["set"], r["photo"]), []).append(r["iou"] - r["first_iou"])
        return list(real_views.bootstrap_mean([np.mean(v) for v in photo_means.values()]))

    shown = Path(model).resolve()
    shown = shown.relative_to(REPO) if shown.is_relative_to(REPO) else shown
    used = check or {"weights": list(CHECKS[looks][0]), "intercept": CHECKS[looks][1]}
    report = {"host": describe_host(), "model": str(shown), "looks": looks, "iou_good": IOU_GOOD,
              "views": list(real_views.VIEWS), "photos": len(photos),
              "accuracy": {g: {**accuracy(sub), "gain": gain(sub)} for g, sub in groups.items()},
              "separation": {g: separations(sub) for g, sub in groups.items()},
              "intervals": intervals(rows),
              "at_retake_rates": at_retake_rates(rows),
              "check": {"weights": list(used["weights"]), "intercept": used["intercept"],
                        "from": "refitted by this run" if check else "docscan.detect.second_look (shipped)"},
              "cost_ms": {"one_look_median": float(np.median([r["one_look_ms"] for r in rows])),
                          "still_median": float(np.median([r["still_ms"] for r in rows]))},
              "rows": rows}
    if check is not None:
        report["fit"] = check
    return report


def _print_separations(title, seps, ci=None) -> None:
    for name, sep in seps.items():
        auroc = "-" if sep["auroc"] is None else f"{sep['auroc']:.3f}"
        flagged = "-" if sep["flagged_wrong"] is None else f"{sep['flagged_wrong']:.0%} of {sep['n_wrong']}"
        if ci and ci.get(name):
            lo, hi = ci[name]["flagged"]
            flagged += f" [{lo:.0%}, {hi:.0%}]"
            if name != BASELINE:
                lo, hi = ci[name]["gain"]
                flagged += f", gain {lo:+.0%}..{hi:+.0%}"
        t = "-" if sep["threshold"] is None else f"{sep['threshold']:.3f}"
        print(f"{title:>22} {name:>22} {auroc:>7} {flagged:>44} {t:>10}")


def _print_accuracy(title, acc, looks) -> None:
    one, two = acc["one_look"], acc["still"]
    g = acc.get("gain")
    gain = "" if g is None else f"  gain {g[0]:+.4f} [{g[1]:+.4f}, {g[2]:+.4f}]"
    print(f"{title:>22} mean IoU one look {one['mean_iou']:.4f} ({one['right']:.0%} right), "
          f"{looks} looks {two['mean_iou']:.4f} ({two['right']:.0%} right){gain}")


def print_table(report) -> None:
    if "fit" in report:
        f = report["fit"]
        print(f"check fitted on synthetic {', '.join(f['streams'])}: "
              f"CHECKS[{report['looks']}] = (({f['weights'][0]}, {f['weights'][1]}), {f['intercept']})")
    print(f"{report['model']}: {report['photos']} photos x up to {len(report['views'])} views; "
          f"right = IoU >= {report['iou_good']}")
    for g, acc in report["accuracy"].items():
        _print_accuracy(g, acc, report["looks"])
    if "fit" in report:
        held = report["fit"]["held_out"]
        _print_accuracy(f"synthetic {held['stream']}", {**held["accuracy"], "gain": held["gain"]}, report["looks"])
    head = "wrong flagged (95% of right kept) [interval]"
    print(f"{'group':>22} {'score':>22} {'AUROC':>7} {head:>44} {'threshold':>10}")
    for g, seps in report["separation"].items():
        _print_separations(g, seps, report["intervals"] if g == "pooled" else None)
    if "fit" in report:
        _print_separations(f"synthetic {report['fit']['held_out']['stream']}", report["fit"]["held_out"]["separation"])
    rates = report["at_retake_rates"]
    print("pooled, the lowest-scored share sent back for a retake: accepted right / accepted wrong")
    print(f"{'score':>45} " + " ".join(f"{'retake ' + k:>14}" for k in next(iter(rates.values()))))
    for name, by_rate in rates.items():
        print(f"{name:>45} " + " ".join(f"{v['accepted_right']:>8} / {v['accepted_wrong']:<3}" for v in by_rate.values()))
    c = report["cost_ms"]
    print(f"cost: median detection {c['one_look_median']:.1f} ms with one look, {c['still_median']:.1f} ms "
          f"with {report['looks']}")


def plot(report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from docscan.detect.second_look import logit

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), dpi=100)
    pooled = report["separation"]["pooled"]
    names = list(SCORES)
    shares = [100 * (pooled[s]["flagged_wrong"] or 0) for s in names]
    lo_hi = [(report["intervals"].get(s) or {"flagged": (0.0, 0.0)})["flagged"] for s in names]
    err = np.array([[f - 100 * lo, 100 * hi - f] for f, (lo, hi) in zip(shares, lo_hi)]).T
    bars = ax.bar(range(len(names)), shares, yerr=np.maximum(err, 0), capsize=3,
                  color=["tab:blue", "tab:cyan", "tab:orange", "tab:grey", "tab:green"])
    for b, s in zip(bars, names):
        ax.text(b.get_x() + b.get_width() / 2, 2, f"{b.get_height():.0f}%\nof {pooled[s]['n_wrong']}\n"
                f"AUROC\n{pooled[s]['auroc'] or 0:.3f}", ha="center", fontsize=8, color="white")
    ax.axhline(80, color="black", ls="--", lw=1, label="issue 15's target: 80%")
    ax.set_xticks(range(len(names)), [SCORE_NAMES[s] for s in names], fontsize=7.5)
    ax.set_ylabel("wrong detections flagged (%)")
    ax.set_ylim(0, 110)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("at the threshold that keeps 95% of the right ones\n(bars: 95% interval, photos resampled)",
                 fontsize=9)
    rows = report["rows"]
    for right, colour, label in ((True, "tab:green", "right (IoU >= 0.9)"), (False, "tab:red", "wrong")):
        sel = [r for r in rows if (r["iou"] >= report["iou_good"]) == right]
        ax2.scatter([r["confidence"] for r in sel], [r["agreement"] for r in sel], s=10, c=colour, alpha=0.6, label=label)
    t = pooled["checked_confidence"]["threshold"]
    if t:
        (w_conf, w_agree), b = report["check"]["weights"], report["check"]["intercept"]
        x = np.linspace(0.005, 0.995, 200)
        y = (logit(t) - b - w_conf * np.array([logit(v) for v in x])) / w_agree
        keep = (y >= -0.02) & (y <= 1.05)
        ax2.plot(x[keep], y[keep], "k--", lw=1, label=f"checked_confidence = {t:.2f}")
    acc = report["accuracy"]["pooled"]
    ax2.set_xlabel(f"confidence of the {report['looks']}-look answer")
    ax2.set_ylabel("agreement of the frame's two looks (IoU)")
    ax2.set_xlim(-0.02, 1.02)
    ax2.set_ylim(-0.02, 1.05)
    ax2.legend(loc="lower left", fontsize=8)
    ax2.set_title(f"every view of every photo; mean IoU {acc['one_look']['mean_iou']:.4f} with one look, "
                  f"{acc['still']['mean_iou']:.4f} with {report['looks']}", fontsize=9)
    fig.suptitle(f"one look vs {report['looks']}, {Path(report['model']).name}, labelled real photos x views: "
                 f"{report['host']}", fontsize=9)
    write_figure(path, fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models" / "hed_default.int8.tflite"),
                    help="a .tflite or .keras edge model (default: the shipped int8 model)")
    ap.add_argument("--sets", type=real_views.sets_arg, default="real-dev,real-dev2",
                    help=f"comma-separated, of {', '.join(real_views.SETS)}")
    ap.add_argument("--fit", type=confidence_fit.streams_arg, default=[],
                    help="refit the check first on synthetic streams SEED:N[,SEED:N...] (e.g. 9500:400,9600:600)")
    ap.add_argument("--held-out", type=int, default=300,
                    help=f"with --fit: synthetic scenes of stream {confidence_fit.HELD_OUT_SEED} to check the fit on")
    ap.add_argument("--looks", type=int, choices=(2, 4), default=4,
                    help="the still's answer: 2, the frame and the frame mirrored; 4, also the close look at the "
                         "page, both ways (docscan detect's default)")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "second_look.json")
    args = ap.parse_args(argv)
    if not Path(args.model).is_file():
        ap.error(f"--model: {args.model}: no such file")
    if args.held_out < 1:
        ap.error(f"--held-out: {args.held_out}: at least 1")
    report = run(args.model, args.sets, fit=args.fit, held_out=args.held_out, looks=args.looks)
    print_table(report)
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
