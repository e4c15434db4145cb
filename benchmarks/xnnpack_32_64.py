"""XNNPACK's own MobileNets on a modelled Cortex-A72, 32-bit vs 64-bit, op by op (issue 17).

The same estimates ``arm_core_validation.py`` compares with XNNPACK's published Raspberry Pi
32/64 ratios (``docscan/bench/estimate/xnnpack_models.py``: Debian's libxnnpack0 for armhf
and arm64, MobileNet v1 / v2 built through XNNPACK's operator API in the emulated rootfs,
each operator traced and costed by llvm-mca), written as a ``docscan bench`` report: per-op
rows, op-type shares and the 32/64 ratio per op type, side by side, ESTIMATED everywhere.
Open or merge it like any other: ``docscan bench --compare benchmarks/results/xnnpack_32_64.json``.

    python3 benchmarks/xnnpack_32_64.py [--precision fp32,int8] [--core cortex-a72] [-o OUT.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--precision", default="fp32,int8")
    ap.add_argument("--core", default="cortex-a72", help="a core with an llvm-mca model in both ISAs")
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "xnnpack_32_64.json")
    args = ap.parse_args()

    from docscan.bench.devices import RunSettings
    from docscan.bench.devices.core import CoreDevice, to_model_run
    from docscan.bench.estimate.cores import get_core
    from docscan.bench.estimate.xnnpack_models import MODELS, estimate_xnnpack
    from docscan.bench.report import label, op_type_rows, pair_32_64, save
    from docscan.bench.schema import BenchReport
    from docscan.errors import DocscanError
    from docscan.machine import describe_host

    try:
        core = get_core(args.core)
        runs = []
        for isa in ("armv7", "aarch64"):
            device = CoreDevice(f"core:{core.name}/{isa}@{core.clock_mhz:g}", core, isa, core.clock_mhz)
            for precision in args.precision.split(","):
                for est in estimate_xnnpack(list(MODELS), precision, core, isa):
                    runs.append(to_model_run(est, device.spec, device.describe(), RunSettings(runs=1, warmup=1)))
                    print(f"{est.model} {device.spec}: {est.whole_ms:.1f} ms estimated ({est.seconds})", flush=True)
    except DocscanError as exc:
        raise SystemExit(f"xnnpack_32_64: {exc}") from None
    report = BenchReport(runs=runs, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), host=describe_host(),
                         command="python3 benchmarks/xnnpack_32_64.py " + " ".join(sys.argv[1:]))
    written = save(report, args.out)
    for model in dict.fromkeys(r.model for r in runs):
        pair = pair_32_64([r for r in runs if r.model == model])
        if pair is None:
            continue
        a32, a64 = pair
        print(f"{model}: armv7 {a32.median_ms:.1f} ms, aarch64 {a64.median_ms:.1f} ms, "
              f"32/64 {a32.median_ms / a64.median_ms:.3f} (ESTIMATED, {core.name} {core.clock_mhz:g} MHz)")
        for row in op_type_rows(list(pair)):
            ms32, ms64 = (row["ms"].get(label(r), 0.0) for r in pair)
            ratio = row["ratio_32_64"]
            print(f"    {row['op_type']:18} x{row['count']:<3} armv7 {ms32:7.2f} ms  aarch64 {ms64:7.2f} ms  "
                  f"32/64 {ratio:.2f}" if ratio is not None else "")
    print("wrote " + " and ".join(str(p) for p in written))


if __name__ == "__main__":
    main()
