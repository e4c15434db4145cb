"""The seed's story on modelled cores (issue 17): the seed's HED-MobileNetV2 and the shipped
model on a Cortex-A72 in 32-bit and 64-bit and on a Cortex-A53 in 64-bit, ESTIMATED.

The seed ran HED-MobileNetV2 at 2.8 FPS in a 32-bit Android build (353 ms, BatchNorm 232
ms of it). Here: the zoo's hed_mobilenet_v2 at its 256x256 input with random, trained-
looking BN statistics (as ``seed_experiment.py`` builds it), BN left to the converter (as
the seed ran it) and folded by docscan, fp32 and int8; and the shipped
``models/hed_default.{fp32,int8}.tflite`` (160x160). Each is estimated with per-op rows
(docscan's core model: qemu block trace of tflite-runtime 2.14 given the core's
/proc/cpuinfo, XNNPACK for fp32 and int8 on aarch64 and built-in kernels on armv7, whose
wheel has no XNNPACK; llvm-mca-16; memory roofline) on core:cortex-a72/armv7,
core:cortex-a72/aarch64 (1.5 GHz, the only core LLVM models in both ISAs) and
core:cortex-a53/aarch64 (1.4 GHz, costed with LLVM's A55 model: see cores.py). Estimated FPS = 1000 /
estimated ms, beside the seed's 2.8 FPS (a phone, core not stated).

    python3 benchmarks/seed_on_cores.py [--out benchmarks/results]
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

from docscan.paths import cache_dir  # noqa: E402

DEVICES = ["core:cortex-a72/armv7", "core:cortex-a72/aarch64", "core:cortex-a53/aarch64"]
SEED_FPS = 2.8
SIZE = 256


def seed_models(folder: Path) -> list[Path]:
    """The seed's HED-MobileNetV2 (BN as the seed ran it, and folded), fp32 and int8."""
    from seed_experiment import build_models

    return build_models(folder, SIZE, models=[("seed_hed_mnv2_bn", "hed_mobilenet_v2", False),
                                              ("seed_hed_mnv2_bnfolded", "hed_mobilenet_v2", True)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    ap.add_argument("--no-per-op", action="store_true")
    args = ap.parse_args()

    from docscan.atomic import write_json
    from docscan.bench import report
    from docscan.bench.run import run_bench
    from docscan.commands.bench_tables import print_report

    t0 = time.monotonic()
    models = seed_models(cache_dir("seed-on-cores")) + [REPO / "models" / "hed_default.fp32.tflite",
                                                         REPO / "models" / "hed_default.int8.tflite"]
    rep = run_bench(models, DEVICES, per_op=not args.no_per_op, progress=lambda *a: print(a[0], flush=True),
                    command="python3 benchmarks/seed_on_cores.py " + " ".join(sys.argv[1:]))
    out = Path(args.out)
    rows = []
    for r in rep.runs:
        bn = sum(o.ms for o in r.ops if o.op_type in ("MUL", "ADD") and "batch" in o.name.lower())
        rows.append({"model": r.model, "device": r.device, "isa": r.isa, "core": r.extra["core"],
                     "clock_mhz": r.extra["clock_mhz"], "estimated_ms": round(r.median_ms, 2),
                     "estimated_fps": round(1000 / r.median_ms, 2), "seed_fps": SEED_FPS,
                     "bn_ops_ms": round(bn, 2), "per_op_gap_pct": r.extra.get("per_op_gap_pct"),
                     "seconds": r.extra.get("seconds")})
    ms = {(x["model"], x["device"]): x["estimated_ms"] for x in rows}
    a53 = "core:cortex-a53/aarch64@1400"
    speedup = ms[("seed_hed_mnv2_bn_fp32.tflite", a53)] / ms[("hed_default.int8.tflite", a53)]
    summary = {"a53_shipped_int8_vs_seed_fp32_speedup": round(speedup, 2), "target": ">= 3x",
               "met": speedup >= 3, "seconds": round(time.monotonic() - t0)}
    report.save(rep, out / "seed_on_cores.bench.json")
    write_json(out / "seed_on_cores.json", {"rows": rows, "summary": summary, "note": "ESTIMATED (modelled cores)",
                                            "machine": rep.host, "command": rep.command})
    print_report(rep, top=8)
    print(f"{'model':34} {'device':32} {'ms':>8} {'FPS':>6}  (seed: {SEED_FPS} FPS)")
    for x in rows:
        print(f"{x['model']:34} {x['device']:32} {x['estimated_ms']:8.1f} {x['estimated_fps']:6.1f}")
    print(summary)


if __name__ == "__main__":
    main()
