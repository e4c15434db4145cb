"""End-to-end detection speed per 256x256 frame on one host thread, side by side.

A: the shipped int8 .tflite + quad finder (``docscan.detect.detector.Detector``).
B: the seed-faithful HED-MobileNetV2 (``docscan.zoo.hed.mobilenet_v2_style_hed()``) as
   fp32 .tflite + the same quad finder. Untrained weights: only its time is measured.

Both run on ai_edge_litert's Interpreter with num_threads=1, interleaved frame by frame
(A, B, A, B, ...) over the same frames, so machine load hits both alike. Reported:
median ms per stage and end to end, and the ratio B / A.

    python3 benchmarks/detect_speed.py [--model M] [--frames 16] [--rounds 10]

Writes benchmarks/results/detect_speed.json and .png.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import one_thread  # noqa: F401  (before numpy / cv2 / TensorFlow)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.machine import describe_host  # noqa: E402
from docscan.paths import cache_dir  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
CACHE = cache_dir("detect_speed")




def to_tflite(model, path: Path) -> Path:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(conv.convert())
    return path


def seed_model_tflite(size: int) -> Path:
    path = CACHE / f"seed_hed_mobilenet_v2_{size}.fp32.tflite"
    if not path.is_file():
        from docscan.zoo.hed import mobilenet_v2_style_hed

        to_tflite(mobilenet_v2_style_hed((size, size, 3)), path)
    return path


def shipped_int8(model_arg) -> Path:
    path = Path(model_arg) if model_arg else REPO / "models" / "hed_default.int8.tflite"
    if not path.is_file() or path.suffix != ".tflite":
        sys.exit(f"error: {path}: no such .tflite model (--model takes a converted .tflite)")
    return path


class ProxyMapModel:
    """Runs the wrapped edge model, then returns stand-in (edge, region) maps for the same frame."""

    def __init__(self, model, stand_ins: dict):
        self.model, self.stand_ins = model, stand_ins
        self.input_hw, self.path = model.input_hw, model.path

    def maps(self, image_rgb):
        self.model(image_rgb)
        return self.stand_ins[id(image_rgb)]

    def __call__(self, image_rgb):
        return self.maps(image_rgb)[0]


def frames_256(n: int, size: int = 256) -> list[np.ndarray]:
    from docscan.train.synth import iter_samples

    it = iter_samples(9002, (size, size))
    return [next(it).image for _ in range(n)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="the shipped int8 .tflite (default models/hed_default.int8.tflite)")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("-o", "--out", type=Path, default=RESULTS / "detect_speed.json")
    args = ap.parse_args(argv)

    from docscan.detect.detector import Detector
    from docscan.detect.edge_model import load_edge_model

    cv2.setNumThreads(1)

    frames = frames_256(args.frames)
    paths = {"shipped_int8+quad": shipped_int8(args.model), "seed_hed_mnv2_fp32+quad": seed_model_tflite(256)}
    models = {k: load_edge_model(p, num_threads=1) for k, p in paths.items()}
    # The seed network is untrained: its edge map is noise, on which the quad finder gives
    # up early. So that both pipelines do the same quad work, the seed pipeline runs its
    # network (timed) and then hands the quad finder the shipped model's edge (and region)
    # map of the same frame, resized to the seed network's output size.
    shipped = models["shipped_int8+quad"]
    seed_hw = models["seed_hed_mnv2_fp32+quad"].input_hw

    def resized(m):
        return None if m is None else cv2.resize(m, seed_hw[::-1], interpolation=cv2.INTER_LINEAR)

    proxy = {id(f): tuple(resized(m) for m in shipped.maps(f)) for f in frames}
    models["seed_hed_mnv2_fp32+quad"] = ProxyMapModel(models["seed_hed_mnv2_fp32+quad"], proxy)
    dets = {k: Detector(model=m) for k, m in models.items()}
    for k, d in dets.items():
        if d.model.input_hw != (256, 256):
            print(f"note: {k} runs at {d.model.input_hw} (frames are resized to it)")
    for d in dets.values():
        for f in frames[: args.warmup]:
            d.detect(f, warp=False)
    samples = {k: {"model": [], "quad": [], "total": [], "total_cpu": []} for k in dets}
    found = {k: 0 for k in dets}
    for r in range(args.rounds):
        for i, f in enumerate(frames):
            order = list(dets) if (r + i) % 2 == 0 else list(dets)[::-1]   # alternate who goes first
            for k in order:
                c0, t0 = time.thread_time(), time.perf_counter()
                det = dets[k].detect(f, warp=False)
                total = (time.perf_counter() - t0) * 1e3
                samples[k]["total_cpu"].append((time.thread_time() - c0) * 1e3)
                samples[k]["model"].append(det.timings["model"])
                samples[k]["quad"].append(det.timings["quad"])
                samples[k]["total"].append(total)
                found[k] += det.found
    med = {k: {s: float(np.median(v)) for s, v in d.items()} for k, d in samples.items()}
    a, b = "shipped_int8+quad", "seed_hed_mnv2_fp32+quad"
    report = {
        "machine": f"{describe_host()}, host, not emulated",
        "runtime": "ai_edge_litert Interpreter, num_threads=1; OpenCV and BLAS 1 thread",
        "frame": "256x256 RGB (synthetic, seed 9002)",
        "frames": args.frames, "rounds": args.rounds, "interleaved": True,
        "models": {k: {"path": str(p), "bytes": Path(p).stat().st_size} for k, p in paths.items()},
        "median_ms": med,
        "p90_ms": {k: {s: float(np.percentile(v, 90)) for s, v in d.items()} for k, d in samples.items()},
        "found_share": {k: found[k] / (args.frames * args.rounds) for k in dets},
        "speedup_end_to_end": med[b]["total"] / med[a]["total"],
        "speedup_model_only": med[b]["model"] / med[a]["model"],
        # CPU time of this (only) thread: far less disturbed by other processes on a
        # shared machine than wall time, and everything measured runs on this thread.
        "speedup_end_to_end_cpu": med[b]["total_cpu"] / med[a]["total_cpu"],
        "load_average_1min": os.getloadavg()[0],
        "shipped_region_head": bool(shipped.has_region),
        "note": ("the seed network has untrained weights: it is timed, but its quad stage runs on the shipped "
                 "model's edge (and region) map of the same frame, resized to the seed network's 256x256 output"),
    }
    write_json(args.out, report)
    plot(report, samples, args.out.with_suffix(".png"))
    for k in dets:
        print(f"{k:>26}: model {med[k]['model']:.2f} ms  quad {med[k]['quad']:.2f} ms  total {med[k]['total']:.2f} ms"
              f"  (thread CPU {med[k]['total_cpu']:.2f} ms)")
    print(f"end-to-end speed-up {report['speedup_end_to_end']:.2f}x wall, {report['speedup_end_to_end_cpu']:.2f}x "
          f"thread CPU (model only {report['speedup_model_only']:.2f}x) on {report['machine']}, "
          f"load average {report['load_average_1min']:.1f}")
    print(f"wrote {args.out}")


def plot(report, samples, path: Path) -> None:

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    names = list(samples)
    med = report["median_ms"]
    bottom = np.zeros(len(names))
    for stage, color in (("model", "tab:blue"), ("quad", "tab:orange")):
        vals = np.array([med[n][stage] for n in names])
        axes[0].bar(names, vals, bottom=bottom, color=color, label=stage)
        bottom += vals
    for i, n in enumerate(names):
        axes[0].text(i, bottom[i], f"{med[n]['total']:.1f} ms", ha="center", va="bottom", fontsize=9)
    axes[0].set_ylabel("median ms per 256x256 frame")
    axes[0].set_title(f"end to end: {report['speedup_end_to_end']:.2f}x faster (wall), "
                      f"{report['speedup_end_to_end_cpu']:.2f}x (thread CPU)", fontsize=10)
    axes[0].legend()
    axes[1].boxplot([samples[n]["total"] for n in names], showfliers=False)
    axes[1].set_xticks(range(1, len(names) + 1), names)
    axes[1].set_ylabel("ms per frame (all samples)")
    axes[1].set_title("distribution, interleaved runs", fontsize=10)
    for ax in axes:
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"{report['machine']}; {report['runtime']}", fontsize=9)
    write_figure(path, fig, dpi=110)


if __name__ == "__main__":
    main()
