"""The seed's BatchNorm trap, measured: op inventory and host latency, BN unfolded vs folded.

For HED-VGG with BN and HED-MobileNetV2 (untrained weights, BN statistics randomised so
folding is not a no-op), four .tflite files per network, all fp32 at batch 1:

  keras-default  TFLiteConverter.from_keras_model(model) - what most people run
  unfrozen       from_concrete_functions on a traced model whose weights stay variables
  unfolded       docscan's static frozen conversion with --no-fold-bn (the converter's own folding only)
  folded         docscan convert: BN folded into the convolutions on the Keras graph first
  folded-subpixel  folded, and --rewrite-transpose-conv (CONV_2D + DEPTH_TO_SPACE)

Latency: ai-edge-litert Interpreter (XNNPACK delegate by default), 1 thread, the five
models of a network timed interleaved (round-robin, one inference each per round) so
machine load hits them alike; medians over N rounds. Writes
benchmarks/results/bn_folding.json and .png.

    python3 benchmarks/bn_folding.py [--size 256] [--rounds 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from docscan.atomic import atomic_path, write_json  # noqa: E402
from docscan.convert import inventory  # noqa: E402
from docscan.convert import tflite_convert as tc
from docscan.convert.bn_fold import fold_batchnorm  # noqa: E402
from docscan.convert.transpose_conv import rewrite_transpose_convs  # noqa: E402
from docscan.machine import host_facts  # noqa: E402

NETWORKS = ("hed_vgg_bn", "hed_mobilenet_v2")
BN_OPS = ("MUL", "ADD", "SUB", "RSQRT", "VAR_HANDLE", "READ_VARIABLE")


def randomise_bn(model, seed=0):
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 0.3, c),
                               rng.normal(0, 0.3, c), rng.uniform(0.5, 2, c)])


def convert_variants(model, size):
    import tensorflow as tf

    out = {}
    out["keras-default"] = bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    fn = tf.function(lambda x: model(x, training=False),
                     input_signature=[tf.TensorSpec((1, *size), tf.float32)])
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model)
    out["unfrozen"] = bytes(conv.convert())
    out["unfolded"] = tc.convert(model, "fp32", size)
    folded, fates = fold_batchnorm(model)
    out["folded"] = tc.convert(folded, "fp32", size)
    out["folded-subpixel"] = tc.convert(rewrite_transpose_convs(folded)[0], "fp32", size)
    return out, len(fates)


def time_interleaved(models: dict, size, rounds: int, warmup: int = 5):
    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(1).random((1, *size), dtype=np.float32)
    its = {}
    for k, b in models.items():
        it = Interpreter(model_content=b, num_threads=1)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        its[k] = it
    for _ in range(warmup):
        for it in its.values():
            it.invoke()
    times = {k: [] for k in its}
    for _ in range(rounds):
        for k, it in its.items():
            t = time.perf_counter()
            it.invoke()
            times[k].append((time.perf_counter() - t) * 1e3)
    return times




def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nets = list(result["networks"])
    kinds = list(next(iter(result["networks"].values()))["variants"])
    fig, axes = plt.subplots(1, len(nets), figsize=(7 * len(nets), 4.2))
    for ax, net in zip(np.atleast_1d(axes), nets):
        v = result["networks"][net]["variants"]
        med = [v[k]["median_ms"] for k in kinds]
        bars = ax.bar(kinds, med, color=["#999", "#d62728", "#1f77b4", "#2ca02c", "#9467bd"][:len(kinds)])
        for b, k in zip(bars, kinds):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height(), f"{v[k]['median_ms']:.2f} ms\n{v[k]['ops']} ops",
                    ha="center", va="bottom", fontsize=8)
        ax.set_title(f"{net} {result['input_size'][0]}x{result['input_size'][1]}")
        ax.set_ylabel("median ms / inference (1 thread)")
        ax.set_ylim(0, max(med) * 1.3)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"BatchNorm folding, host {result['machine']['cpu']} (ai-edge-litert, XNNPACK)", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bn_folding.json"))
    args = ap.parse_args(argv)

    import importlib.metadata as md

    from docscan import zoo

    size = (args.size, args.size, 3)
    result = {"input_size": list(size), "rounds": args.rounds, "threads": 1,
              "method": "interleaved round-robin, one invoke per model per round; median of rounds",
              "notes": ["unfolded and folded have identical op lists in this converter (it folds frozen BN "
                        "itself); their latency ratio shows the measurement noise",
                        "host timings on a shared 2-core machine, not ARM"],
              "machine": {**host_facts(),
                          "runtime": f"ai-edge-litert {md.version('ai-edge-litert')}",
                          "tensorflow": md.version("tensorflow-cpu") if _has("tensorflow-cpu") else "?"},
              "networks": {}}
    for net in NETWORKS:
        model = zoo.build(net, input_shape=size)
        randomise_bn(model)
        models, n_bn = convert_variants(model, size)
        times = time_interleaved(models, size, args.rounds)
        entry = {"batchnorm_layers": n_bn, "variants": {}}
        for k, b in models.items():
            inv = inventory.read_inventory(b, k)
            counts = Counter(o.op for o in inv.ops)
            entry["variants"][k] = {
                "ops": len(inv.ops), "counts": dict(counts.most_common()),
                "bn_like_ops": {op: counts[op] for op in BN_OPS if counts.get(op)},
                "dynamic_shape_ops": {op: counts[op] for op in ("SHAPE", "STRIDED_SLICE", "PACK") if counts.get(op)},
                "size_bytes": len(b), "median_ms": statistics.median(times[k]),
                "p10_ms": float(np.percentile(times[k], 10)), "p90_ms": float(np.percentile(times[k], 90)),
            }
        base = entry["variants"]["unfolded"]["median_ms"]
        for v in entry["variants"].values():
            v["ratio_vs_unfolded"] = v["median_ms"] / base
        result["networks"][net] = entry
        print(net, {k: (v["ops"], round(v["median_ms"], 3), v["bn_like_ops"]) for k, v in entry["variants"].items()},
              flush=True)
    out = Path(args.out)
    write_json(out, result)
    plot(result, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


def _has(pkg):
    import importlib.metadata as md
    try:
        md.version(pkg)
        return True
    except md.PackageNotFoundError:
        return False


if __name__ == "__main__":
    main()
