"""The seed's experiment, reproduced: does BatchNorm (or any op type) eat 32-bit ARM time?

The seed measured HED-MobileNetV2 on a phone: BatchNorm took 232 of 353 ms on armv7 only.
Here: HED-MobileNetV2 with BN left to the converter vs folded by docscan, and HED-VGG with
and without BN, each fp32 and int8, timed with per-op tables on emu:armv7, emu:aarch64
(qemu-user, tflite-runtime 2.14.0 in Debian 12) and the host (ai-edge-litert).

Weights are random (with random, trained-looking BN statistics so nothing folds away
by accident); timing does not depend on weight values. Input 128x128 to keep the emulated
runs to minutes (qemu runs ARM code 5-20x slower than native).

    python3 benchmarks/seed_experiment.py [--size 128] [--runs 15] [--op-runs 5] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from docscan.paths import cache_dir  # noqa: E402

MODELS = [  # (file stem, zoo name, fold BN before converting)
    ("hed_mnv2_bn", "hed_mobilenet_v2", False),
    ("hed_mnv2_bnfolded", "hed_mobilenet_v2", True),
    ("hed_vgg_bn", "hed_vgg_bn", False),
    ("hed_vgg_nobn", "hed_vgg", False),
]


def randomise_bn(model, seed=0):
    import keras
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.uniform(-0.1, 0.1, n),
                               rng.uniform(-0.1, 0.1, n), rng.uniform(0.5, 1.5, n)])


def build_models(folder: Path, size: int, models=MODELS) -> list[Path]:
    """Each of ``models`` (file stem, zoo name, fold BN) as fp32 and int8 .tflite in ``folder``,
    built once with seeded weights and the seed's BN statistics randomised."""
    import keras

    from docscan.convert.bn_fold import fold_batchnorm
    from docscan.convert.tflite_convert import convert
    from docscan.zoo import build

    folder.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    rng = np.random.RandomState(0)
    calib = [rng.rand(size, size, 3).astype(np.float32) for _ in range(8)]
    out = []
    for stem, name, fold in models:
        model = build(name, input_shape=(size, size, 3))
        randomise_bn(model)
        if fold:
            model, _ = fold_batchnorm(model)
        for variant in ("fp32", "int8"):
            path = folder / f"{stem}_{variant}.tflite"
            if not path.exists():
                kw = {"calibration": lambda: calib} if variant == "int8" else {}
                path.write_bytes(convert(model, variant, (size, size, 3), **kw))
            out.append(path)
            print(f"converted {path.name} ({path.stat().st_size / 1e6:.1f} MB)", flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--op-runs", type=int, default=5, help="timed runs per one-op model")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--devices", default="emu:armv7,emu:aarch64,host")
    ap.add_argument("--models-dir", default=str(cache_dir("seed-experiment")))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    ap.add_argument("--only", default="", help="comma-separated model stems (default: all)")
    ap.add_argument("--name", default="seed_experiment", help="result file stem (NAME_SIZE.json/.png)")
    args = ap.parse_args(argv)

    from docscan.bench import report
    from docscan.bench.run import run_bench
    from docscan.commands.bench_tables import print_report
    from docscan.commands.progress_display import ProgressDisplay

    folder = Path(args.models_dir) / f"{args.size}"
    folder.mkdir(parents=True, exist_ok=True)
    models = build_models(folder, args.size)
    if args.only:
        keep = args.only.split(",")
        models = [m for m in models if any(m.name.startswith(k) for k in keep)]
    with ProgressDisplay(enabled=sys.stderr.isatty(), stderr=True) as progress:
        rep = run_bench(models, args.devices.split(","), runs=args.runs, warmup=args.warmup, threads=1,
                        op_runs=args.op_runs, progress=progress,
                        command="python3 benchmarks/seed_experiment.py " + " ".join(argv or sys.argv[1:]))
    out = Path(args.out) / f"{args.name}_{args.size}.json"
    print_report(rep, top=10)
    for p in report.save(rep, out):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
