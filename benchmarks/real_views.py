"""Models compared on the labelled real photos seen eight ways: a steadier verdict than one pass.

On one pass over ``real-photos-dev`` and ``-dev2`` (64 photos), two checkpoints of the same
training differ by a few photos that sit on a knife edge of the quad finder's choice: a
photo flips between 0.98 and 0.5 while the model barely changed, and a set's mean moves by
0.01-0.03. This benchmark shows each photo to every model as eight views that a camera
could as well have given (the photo, mirrored, turned 4 degrees either way, the camera
further back, closer in, darker, brighter; labels moved with the pixels) and reports:

* per model, set and condition: the mean IoU over all views, the share of views at
  IoU >= 0.9, and how many photos are *unsteady* (some views right, some wrong);
* where each set's loss (1 - mean IoU) is, by kind of photo: *right* in every view (what
  is left is corner precision and the labels' own), *near miss* (some views under 0.9, none
  under 0.8: the page found, corners off), *flips* (right in some views, another quad in
  others), *wrong* (never right): each kind needs a different fix, and the shares say which
  is worth the most;
* against the first model: the mean per-photo difference (each photo's view-mean IoU),
  with a 95% bootstrap interval over photos, and how many photos got better or worse by
  more than 0.02. An interval that straddles 0 says "no difference shown".

    python3 benchmarks/real_views.py --model models/hed_default.int8.tflite --model NAME=OTHER.tflite ...
        [--variant NAME=KEY=VALUE[,KEY=VALUE]]   # the first model, quad finder settings changed
        [--looks 2,4]                            # every model also as a still seen two / four ways
        [--sets real-dev,real-dev2] [-o benchmarks/results/real_views.json]

Writes the JSON and a PNG beside it (view-mean IoU per set and condition, per model),
naming the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from docscan.detect.confidence import IOU_GOOD, separation  # noqa: E402
from docscan.detect.second_look import mirror_x  # noqa: E402
from docscan.machine import describe_host  # noqa: E402
from docscan.paths import shared_dir  # noqa: E402

SETS = {"real-dev": "real-photos-dev", "real-dev2": "real-photos-dev2", "real-fullres": "real-photos-fullres"}
POOLED = ("real-dev", "real-dev2")
CHANGED = 0.02          # a photo "got better / worse" when its view-mean IoU moved more than this
LOST = 0.8              # a view below this IoU holds another quad, not the page's corners a bit off


def _affine(image, corners, m):
    h, w = image.shape[:2]
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    c = np.asarray(corners, np.float64)
    return out, c @ m[:, :2].T + m[:, 2]


def _about_centre(image, corners, degrees=0.0, scale=1.0, centre=None):
    h, w = image.shape[:2]
    centre = ((w - 1) / 2, (h - 1) / 2) if centre is None else tuple(float(v) for v in centre)
    return _affine(image, corners, cv2.getRotationMatrix2D(centre, degrees, scale))


def _closer(image, corners, most=1.12, margin=0.02):
    """Zoomed in about the page's centre as far as ``most`` while the page stays in the frame
    (``margin`` of it to spare); None when the page already fills the frame."""
    h, w = image.shape[:2]
    c = np.asarray(corners, np.float64)
    centre = c.mean(axis=0)
    lo, hi = np.array([w * margin, h * margin]), np.array([w * (1 - margin), h * (1 - margin)])
    room = []
    for k in range(2):
        d = c[:, k] - centre[k]
        with np.errstate(divide="ignore"):
            room.append(np.where(d > 0, (hi[k] - centre[k]) / d, np.where(d < 0, (lo[k] - centre[k]) / d, np.inf)))
    zoom = min(most, float(np.min(room)))
    if zoom < 1.03:
        return None
    return _about_centre(image, c, 0.0, zoom, centre)


def _gamma(g):
    table = np.clip(255 * (np.arange(256) / 255.0) ** g, 0, 255).astype(np.uint8)
    return lambda image, corners: (cv2.LUT(image, table), np.asarray(corners, np.float64))


def _mirrored(image, corners):
    return cv2.flip(image, 1), mirror_x(corners, image.shape[1])


VIEWS = {
    "as taken": lambda im, c: (im, np.asarray(c, np.float64)),
    "mirrored": _mirrored,
    "turned +4 deg": lambda im, c: _about_centre(im, c, 4.0, 0.93),
    "turned -4 deg": lambda im, c: _about_centre(im, c, -4.0, 0.93),
    "further back": lambda im, c: _about_centre(im, c, 0.0, 0.8),
    "closer": _closer,
    "darker (gamma 1.35)": _gamma(1.35),
    "brighter (gamma 0.75)": _gamma(0.75),
}


def views(image, corners):
    """(view name, image, corners) for each view that applies to this photo."""
    for name, make in VIEWS.items():
        got = make(image, corners)
        if got is not None:
            yield name, got[0], got[1]


def bootstrap_mean(diffs, n=2000, seed=0) -> tuple[float, float, float]:
    """Mean of ``diffs`` and its 95% percentile-bootstrap interval (resampling the photos)."""
    d = np.asarray(diffs, np.float64)
    if d.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, (n, d.size))].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def compare(reference: dict[str, list[float]], other: dict[str, list[float]]) -> dict:
    """``other`` against ``reference`` (photo -> view IoUs), over the photos both have."""
    names = sorted(set(reference) & set(other))
    diffs = [float(np.mean(other[n]) - np.mean(reference[n])) for n in names]
    mean, lo, hi = bootstrap_mean(diffs)
    return {"photos": len(names), "mean_diff": mean, "ci95": [lo, hi],
            "better": [n for n, d in zip(names, diffs) if d > CHANGED],
            "worse": [n for n, d in zip(names, diffs) if d < -CHANGED]}


def photo_kind(ious) -> str:
    """right / near miss / flips / wrong (see the module doc) from one photo's view IoUs."""
    lo, hi = min(ious), max(ious)
    if lo >= IOU_GOOD:
        return "right"
    if lo >= LOST:
        return "near miss"
    return "flips" if hi >= IOU_GOOD else "wrong"


KINDS = ("right", "near miss", "flips", "wrong")


def loss_budget(per_photo: dict[str, list[float]]) -> dict:
    """The group's loss, 1 - (mean of the photos' view-mean IoUs), split by ``photo_kind``:
    per kind the photos and their part of the loss (the parts add up to the loss)."""
    n = len(per_photo)
    out = {k: {"photos": [], "loss": 0.0} for k in KINDS}
    for name, ious in per_photo.items():
        part = out[photo_kind(ious)]
        part["photos"].append(name)
        part["loss"] += (1.0 - float(np.mean(ious))) / n
    return out


def summary(per_photo: dict[str, list[float]], confidence: dict[str, list[float]]) -> dict:
    """Over every view of every photo: mean IoU, share right, unsteady photos, and how well
    the confidence separates right from wrong views (``docscan.detect.confidence``)."""
    flat = np.array([v for ious in per_photo.values() for v in ious], np.float64)
    conf = np.array([confidence[n][i] for n, ious in per_photo.items() for i in range(len(ious))], np.float64)
    unsteady = [n for n, ious in per_photo.items() if min(ious) < IOU_GOOD <= max(ious)]
    return {"photos": len(per_photo), "views": int(flat.size),
            "mean_iou": float(flat.mean()) if flat.size else None,
            "share_iou_ge_0.9": float((flat >= IOU_GOOD).mean()) if flat.size else None,
            "unsteady": len(unsteady), "unsteady_photos": unsteady,
            "loss_budget": loss_budget(per_photo),
            "confidence": separation(conf, flat)}


def load_sets(names):
    """(set, name, condition, image, corners) of every labelled photo in the named ``SETS``."""
    from docscan.detect.evaluate import load_labelled, match_labels

    photos = []
    for s in names:
        d = shared_dir() / "data" / SETS[s]
        if not (d / "labels.json").is_file():
            print(f"{s} skipped: no {d / 'labels.json'}", flush=True)
            continue
        items, _ = match_labels(d, d / "labels.json")
        for it in items:
            photos.append((s, it.name, it.condition, *load_labelled(it)))
    return photos


LOOK_NAMES = {2: "two looks", 4: "four looks"}


def run(models: list[tuple[str, str]], set_names, variants: list[tuple[str, dict]] = (),
        looks: tuple[int, ...] = ()) -> dict:
    """``models``: (label, path); ``variants``: (label, QuadParams changes) on the first model;
    for each number of ``looks`` (2, 4), each model also as "LABEL, two looks" (the frame
    mirrored too) and "LABEL, four looks" (and the close look, both ways): a still as
    ``docscan detect --looks N`` sees it (a model's one-look ranking need not hold)."""
    from docscan.detect.detector import Detector
    from docscan.detect.geometry import polygon_iou

    photos = load_sets(set_names)
    detectors = [(label, Detector(path)) for label, path in models]
    plain = list(zip(models, detectors))    # ((label, path), (label, detector)) of each model given
    first = detectors[0][1]
    detectors += [(label, Detector(model=first.model, params=dataclasses.replace(first.params, **changes)))
                  for label, changes in variants]
    models = list(models) + [(label, f"{models[0][1]} with {changes}") for label, changes in variants]
    for n in looks:
        for (label, path), (_, det) in plain:
            detectors.append((f"{label}, {LOOK_NAMES[n]}", Detector(model=det.model, params=det.params,
                                                                     second_look=True, close_look=n == 4)))
            models.append((f"{label}, {LOOK_NAMES[n]}", f"{path} with --looks {n}"))
    # model -> photo key -> IoU (and confidence) per view; each view goes through every
    # model before the next view is made
    ious = {label: {} for label, _ in models}
    confs = {label: {} for label, _ in models}
    by_view = {label: {} for label, _ in models}
    t0 = time.perf_counter()
    for k, (s, name, _, image, truth) in enumerate(photos):
        key = f"{s}/{name}"
        for view, im, c in views(image, truth):
            for label, det in detectors:
                d = det.detect(im, warp=False)
                iou = polygon_iou(d.corners, c) if d.corners is not None else 0.0
                ious[label].setdefault(key, []).append(iou)
                confs[label].setdefault(key, []).append(float(d.confidence))
                by_view[label].setdefault(view, []).append(iou)
        print(f"\r{k + 1}/{len(photos)} photos, {time.perf_counter() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    groups = {}     # group name -> photo keys: each set, the pooled sets, each dev2 condition
    for s, name, cond, _, _ in photos:
        groups.setdefault(s, []).append(f"{s}/{name}")
        if s in POOLED and all(p in set_names for p in POOLED):
            groups.setdefault("dev+dev2", []).append(f"{s}/{name}")
        if cond:
            groups.setdefault(f"{s} {cond}", []).append(f"{s}/{name}")
    ref = models[0][0]
    report = {"host": describe_host(), "views": list(VIEWS), "reference": ref,
              "models": {label: path for label, path in models}, "groups": {},
              "by_view": {label: {v: float(np.mean(x)) for v, x in views_.items()} for label, views_ in by_view.items()},
              "per_photo": ious, "per_photo_confidence": confs}
    for g, keys in groups.items():
        entry = {}
        for label, _ in models:
            entry[label] = summary({k: ious[label][k] for k in keys}, {k: confs[label][k] for k in keys})
            if label != ref:
                entry[label]["vs_reference"] = compare({k: ious[ref][k] for k in keys},
                                                       {k: ious[label][k] for k in keys})
        report["groups"][g] = entry
    return report


def print_table(report) -> None:
    labels = list(report["models"])
    print(f"{'group':>28} " + " ".join(f"{lb[:24]:>24}" for lb in labels))
    for g, entry in report["groups"].items():
        cells = []
        for lb in labels:
            e = entry[lb]
            cell = f"{e['mean_iou']:.4f} u{e['unsteady']}"
            if "vs_reference" in e:
                v = e["vs_reference"]
                cell += f" {v['mean_diff']:+.3f}[{v['ci95'][0]:+.3f},{v['ci95'][1]:+.3f}]"
            cells.append(f"{cell:>24}")
        print(f"{g[:28]:>28} " + " ".join(cells))
    pooled = report["groups"].get("dev+dev2") or next(iter(report["groups"].values()))
    cells = []
    for lb in labels:
        c = pooled[lb]["confidence"]
        cells.append("-" if c["auroc"] is None else
                     f"AUROC {c['auroc']:.3f} fl {c['flagged_wrong'] or 0:.0%} of {c['n_wrong']}")
    print(f"{'confidence (pooled views)':>28} " + " ".join(f"{c:>24}" for c in cells))
    print(f"{'by view (all photos)':>28}")
    for view in report["views"]:
        print(f"{view[:28]:>28} " + " ".join(f"{report['by_view'][lb].get(view, float('nan')):>24.4f}" for lb in labels))
    print("cells: view-mean IoU, u = unsteady photos, then vs the first model: mean per-photo difference [95% CI]")
    print(f"where the loss (1 - view-mean IoU) is: photos and their part of it, "
          f"{' / '.join(KINDS)} (near miss: no view under {LOST})")
    for g, entry in report["groups"].items():
        if " " in g:        # sets and the pooled sets; conditions are too few photos to split
            continue
        for lb in labels:
            b = entry[lb]["loss_budget"]
            cells = " / ".join(f"{len(b[k]['photos'])} {b[k]['loss']:.4f}" for k in KINDS)
            total = sum(part["loss"] for part in b.values())
            print(f"{g[:12]:>12} {lb[:24]:>24}  loss {total:.4f} = {cells}")


def plot(report, path: Path) -> None:
    """Left: each model against the first (mean per-photo difference, 95% interval) on the
    pooled photos, a row per model. Right, for up to six models: view-mean IoU per set and
    condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, groups = list(report["models"]), list(report["groups"])
    pooled = "dev+dev2" if "dev+dev2" in groups else groups[0]
    bars = len(labels) <= 6
    fig, axes = plt.subplots(1, 2 if bars else 1, figsize=(16 if bars else 9, max(4.8, 0.32 * len(labels) + 1.5)),
                             gridspec_kw={"width_ratios": [1, 2]} if bars else None, squeeze=False)
    ax = axes[0][0]
    others = labels[1:]
    for i, lb in enumerate(others):
        v = report["groups"][pooled][lb]["vs_reference"]
        lo, hi = v["ci95"]
        color = "tab:green" if lo > 0 else "tab:red" if hi < 0 else "tab:grey"
        ax.errorbar(v["mean_diff"], i, xerr=[[v["mean_diff"] - lo], [hi - v["mean_diff"]]], fmt="o", color=color,
                    capsize=3)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(others)), others, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean IoU difference per photo vs {labels[0]} ({pooled}, 95% bootstrap interval)", fontsize=8)
    if bars:
        ax = axes[0][1]
        width = 0.8 / len(labels)
        for j, lb in enumerate(labels):
            vals = [report["groups"][g][lb]["mean_iou"] for g in groups]
            b = ax.bar([i + j * width for i in range(len(groups))], vals, width, label=lb)
            ax.bar_label(b, fmt="%.3f", fontsize=6, rotation=90, padding=2)
        ax.set_xticks([i + width * (len(labels) - 1) / 2 for i in range(len(groups))],
                      [f"{g} ({report['groups'][g][labels[0]]['photos']})" for g in groups],
                      rotation=30, ha="right", fontsize=7)
        ax.set_ylim(0.4, 1.08)
        ax.axhline(0.97, color="grey", lw=0.6, ls="--")
        ax.set_ylabel(f"mean IoU over {len(report['views'])} views per photo")
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"labelled real photos, eight views each: {report['host']}", fontsize=9)
    write_figure(path, fig)


def sets_arg(text: str) -> list[str]:
    """``--sets``: comma-separated names of ``SETS``, checked (also for second_look.py)."""
    sets = [s for s in text.split(",") if s]
    unknown = set(sets) - set(SETS)
    if unknown or not sets:
        raise argparse.ArgumentTypeError(f"unknown {', '.join(sorted(unknown)) or '(none given)'} "
                                         f"(choose from {', '.join(SETS)})")
    return sets


def _model_arg(spec: str) -> tuple[str, str]:
    label, sep, path = spec.partition("=")
    if not sep:
        label, path = Path(spec).name, spec
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"{path}: model file not found")
    return label, path


def _looks_arg(text: str) -> tuple[int, ...]:
    try:
        looks = tuple(sorted({int(v) for v in text.split(",")}))
    except ValueError:
        looks = ()
    if not looks or set(looks) - set(LOOK_NAMES):
        raise argparse.ArgumentTypeError(f"{text!r}: 2, 4 or 2,4")
    return looks


def _variant_arg(spec: str) -> tuple[str, dict]:
    from docscan.detect.quad_params import parse_setting
    from docscan.errors import DocscanError

    label, sep, settings = spec.partition("=")
    if not sep or not label or not settings:
        raise argparse.ArgumentTypeError(f"{spec}: expected NAME=KEY=VALUE[,KEY=VALUE]")
    changes = {}
    try:
        for text in settings.split(","):
            changes.update(parse_setting(text))
    except DocscanError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return label, changes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", type=_model_arg, default=[], metavar="[NAME=]PATH",
                    help="a .tflite or .keras edge model; repeat it; the first is the reference "
                         "(default: the shipped int8 model alone)")
    ap.add_argument("--variant", action="append", type=_variant_arg, default=[], metavar="NAME=KEY=VALUE[,KEY=VALUE]",
                    help="the first model with these quad finder settings (docscan.detect.quad_params); repeat it")
    ap.add_argument("--sets", type=sets_arg, default="real-dev,real-dev2", help=f"comma-separated, of {', '.join(SETS)}")
    ap.add_argument("--looks", type=_looks_arg, default=(),
                    help="2, 4 or 2,4: every model also as a still seen that many ways (docscan detect --looks), "
                         "as 'NAME, two looks' / 'NAME, four looks'")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "real_views.json")
    args = ap.parse_args(argv)
    models = args.model or [("shipped int8", str(REPO / "models" / "hed_default.int8.tflite"))]
    if len({lb for lb, _ in models} | {lb for lb, _ in args.variant}) != len(models) + len(args.variant):
        ap.error("--model: two models with the same name; give them NAME=PATH")
    report = run(models, args.sets, args.variant, args.looks)
    print_table(report)
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
