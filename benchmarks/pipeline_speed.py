"""The whole detection pipeline, side by side in one run (issue 16): camera files and preview frames.

Camera files (``shared/data/real-photos-fullres``, 12 MP phone JPEGs), per photo, interleaved
round by round (the order rotates so machine load hits every method alike):

- ``at-filing``: ``docscan detect`` as it was when issue 16 was filed (commit ``FILED_AT``, its
  code and its shipped int8 model, ``git archive``d to a temporary folder and run in a worker
  process, ``benchmarks/detect_worker.py``, timed there): full decode, model, quad finder and
  refinement on every pixel, and the flat scan it always made. The issue's "today's docscan
  detect" (469 ms on its AVX2 host), measured in this run;
- ``today``: ``Detector.detect_file`` (full decode, model + quad finder + refinement on every
  pixel: ``docscan detect --full-decode``), corners only: today's code the slow way;
- ``new``: ``Detector.detect_camera_file`` (JPEG decoded at 1/4, see docscan/detect/camera_file.py);
- ``author-hed``: the seed author's HED + contour quad (``benchmarks/real_sets.py``) on the full decode;
- ``classic``: the classic Canny scanner on the full decode;
- ``reduced-decode``: ``cv2.imdecode(IMREAD_REDUCED_COLOR_4)`` alone, the floor the issue measures against;
- the flat scan: today's warp vs ``detect_camera_file(scan=True)``'s full decode + warp, bytes compared.

Preview frames: 1280x720 RGB (the labelled dev and dev2 photos resized) in memory: today's
``Detector.detect`` vs ``FrameDetector`` on RGB and NV21, and the model alone on the same frames
(its int8 I/O included): post-processing (thread CPU) is the frame's total less the model's, the
issue's target being post-processing <= the model and >= 60 frames per second; IoU with the labels
per method. Accuracy: per-photo IoU against the labels, new vs today, on
every labelled real set (dev, dev2, fullres). Timings are wall-clock medians, with this
thread's CPU time beside them (less disturbed by other processes on a shared machine).

    python3 benchmarks/pipeline_speed.py [--rounds 5] [--frame-rounds 5]

The quad finder's arithmetic runs in C where docscan could build it (``docscan.detect.native``;
the report says which); ``DOCSCAN_NATIVE=0 python3 benchmarks/pipeline_speed.py`` times the
numpy path.

Writes benchmarks/results/pipeline_speed.json and .png. Needs the git history (for ``at-filing``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import one_thread  # noqa: F401  (before numpy / cv2 / TensorFlow)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.detect import native  # noqa: E402
from docscan.machine import describe_host  # noqa: E402
from docscan.paths import shared_dir  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
FILED_AT = "70742d2"     # main when issue 16 was filed (2026-12-03, before 4dbff24's reduced decode)
SETS = ("real-photos-dev", "real-photos-dev2", "real-photos-fullres")


def timed(fn):
    c0, t0 = time.thread_time(), time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t0) * 1e3, (time.thread_time() - c0) * 1e3


def labelled(folder: Path) -> dict:
    labels = json.loads((folder / "labels.json").read_text())
    return {name: np.array(v["corners"], np.float64) for name, v in labels.items()
            if v.get("corners") and (folder / name).is_file()}


class FilingDetector:
    """``docscan detect`` at an earlier commit, in a worker process (see ``detect_worker.py``).
    ``detect(path)`` -> that version's stage timings plus ``total`` / ``total_cpu`` as the
    worker measured them, and its corners."""

    def __init__(self, commit: str, folder: Path):
        import subprocess

        model = "models/hed_default.int8.tflite"
        tar = subprocess.run(["git", "-C", str(REPO), "archive", commit, "docscan", model],
                             capture_output=True, check=False)
        if tar.returncode != 0:
            raise RuntimeError(f"git archive {commit} failed: {tar.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(folder)], input=tar.stdout, check=True)
        env = {**os.environ, "PYTHONPATH": str(folder)}
        self.proc = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "detect_worker.py"),
                                      str(folder / model)], cwd=folder, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        hello = json.loads(self.proc.stdout.readline())
        if not hello.get("docscan", "").startswith(str(folder)):
            raise RuntimeError(f"the worker imported {hello.get('docscan')}, not the tree at {folder}")
        self.commit = commit

    def detect(self, path: Path) -> dict:
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def timings(self, path: Path) -> dict:
        """Stage timings, with the worker's own totals under ``_total`` / ``_total_cpu`` (they
        replace the pipe round trip's in ``camera_files``)."""
        r = self.detect(path)
        return {**r["timings"], "_total": r["total"], "_total_cpu": r["total_cpu"]}

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def camera_files(det, author, classic, photos: list[Path], rounds: int, filing: FilingDetector) -> dict:
    from docscan.detect.image_io import load_image

    fulls = {p: load_image(p) for p in photos}          # for author / classic, decoding left out
    methods = {
        "at-filing": filing.timings,
        "today": lambda p: det.detect_file(p, warp=False)[1].timings,
        "new": lambda p: det.detect_camera_file(p)[1].timings,
        "author-hed": lambda p: author.detect(fulls[p]).timings,
        "classic": lambda p: classic.detect(fulls[p], warp=False).timings,
        "reduced-decode": lambda p: {"load": timed(lambda: cv2.imdecode(np.fromfile(str(p), np.uint8),
                                                                      cv2.IMREAD_REDUCED_COLOR_4))[1]},
        "full-decode": lambda p: {"load": timed(lambda: load_image(p))[1]},
    }
    for p in photos[:2]:                                 # warm-up
        for fn in methods.values():
            fn(p)
    samples = {k: {} for k in methods}
    names = list(methods)
    for r in range(rounds):
        for i, p in enumerate(photos):
            shift = (r + i) % len(names)
            for k in names[shift:] + names[:shift]:
                stages, wall, cpu = timed(lambda k=k, p=p: methods[k](p))
                wall, cpu = stages.pop("_total", wall), stages.pop("_total_cpu", cpu)
                s = samples[k]
                for stage, v in stages.items():
                    s.setdefault(stage, []).append(v)
                s.setdefault("total", []).append(wall)
                s.setdefault("total_cpu", []).append(cpu)
    med = {k: {s: float(np.median(v)) for s, v in d.items()} for k, d in samples.items()}
    for k in ("at-filing", "today", "new", "author-hed", "classic"):
        m = med[k]
        m["without_load"] = float(np.median([t - lo for t, lo in zip(samples[k]["total"], samples[k].get(
            "load", [0.0] * len(samples[k]["total"])))]))
    return {"median_ms": med, "n_samples": rounds * len(photos), "at_filing_commit": filing.commit,
            "speedup_new_vs_at_filing": med["at-filing"]["total"] / med["new"]["total"],
            "speedup_new_vs_at_filing_cpu": med["at-filing"]["total_cpu"] / med["new"]["total_cpu"],
            "speedup_new_vs_today": med["today"]["total"] / med["new"]["total"],
            "speedup_new_vs_today_cpu": med["today"]["total_cpu"] / med["new"]["total_cpu"],
            "new_over_reduced_decode": med["new"]["total"] / med["reduced-decode"]["load"],
            "new_without_load_over_author": med["new"]["without_load"] / med["author-hed"]["total"]}


def flat_scans(det, photos: list[Path]) -> dict:
    """Today's scan vs the new path's (full decode only for it), per photo: time and bytes."""
    from docscan.detect.detector import warp_document
    from docscan.detect.image_io import load_image

    out = {}
    for p in photos:
        (_, old), old_ms, _ = timed(lambda p=p: det.detect_file(p))
        (_, new), new_ms, _ = timed(lambda p=p: det.detect_camera_file(p, scan=True))
        same_corners = bool(np.array_equal(old.corners, new.corners))
        # the bytes the issue pins: with the same corners, the same scan
        reference = old.scan if same_corners else warp_document(load_image(p), new.corners)
        out[p.name] = {"today_warp_ms": old.timings["warp"],
                       "new_scan_ms": new.timings.get("scan_load", 0.0) + new.timings["warp"],
                       "same_corners": same_corners,
                       "scan_identical_for_its_corners": bool(np.array_equal(reference, new.scan))}
    return out


def preview_frames(det, photos: list[tuple[Path, np.ndarray]], rounds: int) -> dict:
    """1280x720 frames of labelled photos (aspect ignored, labels scaled alike), in memory."""
    from docscan.detect.edge_model import model_frame
    from docscan.detect.frames import FrameDetector
    from docscan.detect.geometry import polygon_iou
    from docscan.detect.image_io import load_image

    frames, truths = [], []
    for p, corners in photos:
        image = load_image(p)
        h, w = image.shape[:2]
        frames.append(cv2.resize(image, (1280, 720), interpolation=cv2.INTER_AREA))
        truths.append(corners * np.array([1280 / w, 720 / h]))
    nv21 = []
    for f in frames:
        i420 = cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420).reshape(-1)
        y, q = 1280 * 720, 640 * 360
        vu = np.empty(2 * q, np.uint8)
        vu[0::2], vu[1::2] = i420[y + q:], i420[y:y + q]
        nv21.append(np.concatenate([i420[:y], vu]))
    fd = FrameDetector(det)
    smalls = [model_frame(f, det.model.input_hw) for f in frames]
    methods = {
        "today": lambda i: det.detect(frames[i], warp=False).timings,
        "new-rgb": lambda i: fd.detect(frames[i]).timings,
        "new-nv21": lambda i: fd.detect(nv21[i], "nv21", (1280, 720)).timings,
        # the model alone (its int8 I/O included), in the same interleaved run: what
        # post-processing is measured against
        "model-alone": lambda i: {"model": timed(lambda: det.model.frame_maps(smalls[i]))[1]},
    }
    for i in range(len(frames)):
        for fn in methods.values():
            fn(i)
    samples = {k: {} for k in methods}
    names = list(methods)
    for r in range(rounds):
        for i in range(len(frames)):
            shift = (r + i) % len(names)
            for k in names[shift:] + names[:shift]:
                stages, wall, cpu = timed(lambda k=k, i=i: methods[k](i))
                for stage, v in stages.items():
                    samples[k].setdefault(stage, []).append(v)
                samples[k].setdefault("total", []).append(wall)
                samples[k].setdefault("total_cpu", []).append(cpu)
    med = {k: {s: float(np.median(v)) for s, v in d.items()} for k, d in samples.items()}
    model_cpu = med["model-alone"]["total_cpu"]
    for k, m in med.items():
        if k == "model-alone":
            continue
        m["post_processing"] = m["total"] - m["model"]
        m["post_processing_cpu"] = m["total_cpu"] - model_cpu
        m["post_over_model_cpu"] = m["post_processing_cpu"] / model_cpu
        m["fps"] = 1e3 / m["total"]
        m["fps_cpu"] = 1e3 / m["total_cpu"]
    agree, vs_labels = [], {k: [] for k in ("today", "new-rgb", "new-nv21")}
    fd = FrameDetector(det)
    for f, f21, truth in zip(frames, nv21, truths):
        got = {"today": det.detect(f, warp=False).corners, "new-rgb": fd.detect(f).corners,
               "new-nv21": fd.detect(f21, "nv21", (1280, 720)).corners}
        a, b = got["today"], got["new-rgb"]
        agree.append(polygon_iou(a, b) if a is not None and b is not None else float(a is None and b is None))
        for k, c in got.items():
            vs_labels[k].append(polygon_iou(c, truth) if c is not None else 0.0)
    new = med["new-rgb"]
    return {"frame": "1280x720, labelled dev + dev2 photos resized, in memory", "n_frames": len(frames),
            "median_ms": med,
            "post_le_model_cpu": bool(new["post_processing_cpu"] <= model_cpu),
            "fps_cpu_ge_60": bool(new["fps_cpu"] >= 60), "fps_wall_ge_60": bool(new["fps"] >= 60),
            "mean_iou_vs_labels": {k: float(np.mean(v)) for k, v in vs_labels.items()},
            "iou_new_rgb_vs_today": {"mean": float(np.mean(agree)), "min": float(np.min(agree))}}


def filing_accuracy(det, filing: FilingDetector, folder: Path) -> dict:
    """Mean IoU with the labels, at filing vs new, on the camera files timed."""
    from docscan.detect.geometry import polygon_iou

    rows = {}
    for photo, truth in sorted(labelled(folder).items()):
        old = filing.detect(folder / photo)["corners"]
        _, new = det.detect_camera_file(folder / photo)
        rows[photo] = {"at-filing": polygon_iou(np.array(old), truth) if old is not None else 0.0,
                       "new": polygon_iou(new.corners, truth) if new.corners is not None else 0.0}
    return {k: float(np.mean([r[k] for r in rows.values()])) for k in ("at-filing", "new")} | {"per_photo": rows}


def accuracy(det) -> dict:
    from docscan.detect.geometry import polygon_iou

    out = {}
    for name in SETS:
        folder = shared_dir() / "data" / name
        if not (folder / "labels.json").is_file():
            continue
        rows = {}
        for photo, truth in sorted(labelled(folder).items()):
            _, old = det.detect_file(folder / photo, warp=False)
            _, new = det.detect_camera_file(folder / photo)
            rows[photo] = {k: polygon_iou(d.corners, truth) if d.corners is not None else 0.0
                           for k, d in (("today", old), ("new", new))}
        today = np.array([r["today"] for r in rows.values()])
        new = np.array([r["new"] for r in rows.values()])
        out[name] = {"n": len(rows), "mean_iou_today": float(today.mean()), "mean_iou_new": float(new.mean()),
                     "mean_delta": float(new.mean() - today.mean()), "worst_photo_delta": float((new - today).min()),
                     "per_photo": rows}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frame-rounds", type=int, default=5)
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--filed-at", default=FILED_AT, help="the commit whose docscan detect is 'at-filing'")
    ap.add_argument("-o", "--out", type=Path, default=RESULTS / "pipeline_speed.json")
    args = ap.parse_args(argv)

    from real_sets import AuthorHedDetector

    from docscan.detect.classic import ClassicDetector
    from docscan.detect.detector import Detector

    cv2.setNumThreads(1)
    det = Detector(args.model, num_threads=1)
    author = AuthorHedDetector(shared_dir() / "anchors" / "author-hed" / "hed_author.fp32.tflite")
    fullres = shared_dir() / "data" / "real-photos-fullres"
    photos = sorted(fullres / n for n in labelled(fullres))
    frame_photos = [(folder / n, c) for folder in (shared_dir() / "data" / "real-photos-dev",
                                                   shared_dir() / "data" / "real-photos-dev2")
                    for n, c in sorted(labelled(folder).items())]
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="docscan-at-filing-") as tree:
        try:
            filing = FilingDetector(args.filed_at, Path(tree))
        except (RuntimeError, OSError, ValueError) as exc:
            raise SystemExit(f"pipeline_speed: the at-filing pipeline could not start ({exc}); run from a git "
                             "checkout with its history, or name another commit with --filed-at") from None
        try:
            cams = camera_files(det, author, ClassicDetector(), photos, args.rounds, filing)
            cams["at_filing_vs_new_iou"] = filing_accuracy(det, filing, fullres)
        finally:
            filing.close()
    report = {"machine": f"{describe_host()}, host, not emulated",
              "runtime": "ai_edge_litert Interpreter num_threads=1; OpenCV 1 thread",
              "quad_finder_arithmetic": native.status(),
              "model": str(det.model.path), "load_average_1min_start": load0,
              "camera_files": {"photos": [p.name for p in photos], **cams},
              "flat_scan": flat_scans(det, photos),
              "preview_frames": preview_frames(det, frame_photos, args.frame_rounds)}
    if not args.skip_accuracy:
        report["accuracy"] = accuracy(det)
    report["load_average_1min_end"] = os.getloadavg()[0]
    write_json(args.out, report)
    plot(report, args.out.with_suffix(".png"))
    cam, fr = report["camera_files"], report["preview_frames"]["median_ms"]
    for k, m in cam["median_ms"].items():
        print(f"camera {k:>15}: " + "  ".join(f"{s} {v:.1f}" for s, v in m.items()))
    print(f"camera: new {cam['speedup_new_vs_at_filing']:.2f}x faster than docscan detect at {cam['at_filing_commit']} "
          f"(thread CPU {cam['speedup_new_vs_at_filing_cpu']:.2f}x); mean IoU at filing "
          f"{cam['at_filing_vs_new_iou']['at-filing']:.4f}, new {cam['at_filing_vs_new_iou']['new']:.4f}")
    print(f"camera: new {cam['speedup_new_vs_today']:.2f}x faster than today (thread CPU "
          f"{cam['speedup_new_vs_today_cpu']:.2f}x), {cam['new_over_reduced_decode']:.2f}x a 1/4 decode; without "
          f"decoding new / author-hed = {cam['new_without_load_over_author']:.2f}")
    for k, m in fr.items():
        print(f"frames {k:>11}: " + "  ".join(f"{s} {v:.2f}" for s, v in m.items()))
    pf = report["preview_frames"]
    print(f"frames: post-processing <= model (thread CPU): {pf['post_le_model_cpu']}; >= 60 FPS: "
          f"{pf['fps_cpu_ge_60']} (thread CPU), {pf['fps_wall_ge_60']} (wall); mean IoU vs labels "
          + ", ".join(f"{k} {v:.4f}" for k, v in pf["mean_iou_vs_labels"].items()))
    for name, a in report.get("accuracy", {}).items():
        print(f"{name}: mean IoU today {a['mean_iou_today']:.4f} new {a['mean_iou_new']:.4f} "
              f"(delta {a['mean_delta']:+.4f}, worst photo {a['worst_photo_delta']:+.4f})")
    print(f"on {report['machine']}; quad finder arithmetic: {report['quad_finder_arithmetic']}; load average "
          f"{load0:.1f} -> {report['load_average_1min_end']:.1f}")
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


def plot(report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    panels = ((axes[0], report["camera_files"]["median_ms"], ("load", "model", "quad", "warp"),
               "12 MP camera file -> corners, median ms"),
              (axes[1], report["preview_frames"]["median_ms"], ("prepare", "model", "quad"),
               "1280x720 frame in memory -> corners, median ms"))
    colors = {"load": "tab:gray", "prepare": "tab:gray", "model": "tab:blue", "quad": "tab:orange",
              "warp": "tab:green"}
    for ax, med, stages, title in panels:
        names = [n for n in med if n not in ("full-decode",)]
        bottom = np.zeros(len(names))
        commit = report["camera_files"].get("at_filing_commit", "")
        labels = [f"at filing\n({commit}, +scan)" if n == "at-filing" else n for n in names]
        for stage in stages:
            vals = np.array([med[n].get(stage, 0.0) for n in names])
            ax.bar(labels, vals, bottom=bottom, color=colors[stage], label=stage)
            bottom += vals
        for i, n in enumerate(names):
            # wall-clock bars; this thread's CPU time beside them (less disturbed by other
            # processes on a shared machine)
            ax.text(i, bottom[i], f"{med[n]['total']:.1f}\n(CPU {med[n]['total_cpu']:.1f})", ha="center",
                    va="bottom", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        ax.legend(fontsize=8)
    fig.suptitle(f"{report['machine']}\n{report['runtime']}; one run, interleaved; load average "
                 f"{report['load_average_1min_start']:.1f} -> {report['load_average_1min_end']:.1f}", fontsize=8)
    write_figure(path, fig, dpi=110)


if __name__ == "__main__":
    main()
