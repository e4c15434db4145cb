"""How well instruction counts repeat, and what the deterministic gate sees of small slowdowns.

    python3 benchmarks/regress_repeatability.py [--repeats 5] -o benchmarks/results/regress_repeatability.json

Counts the demo models (docscan.regress.demo: base, bn_unfolded, bigger_kernel, wider)
``--repeats`` times on host (callgrind) and on each emulated ARM device available
(qemu insn plugin), independent processes each time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from docscan.atomic import write_json  # noqa: E402
from docscan.regress import instructions  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", action="append", default=None)
    ap.add_argument("-o", "--output", default="benchmarks/results/regress_repeatability.json")
    a = ap.parse_args()
    from regress_baselines import device_available  # same folder

    from docscan.regress.demo import build_demo_models

    with tempfile.TemporaryDirectory() as tmp:
        models = build_demo_models(tmp, 64)
        out = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv), "devices": {}}
        for device in a.device or ["host", "emu:aarch64", "emu:armv7"]:
            why = device_available(device)
            if why:
                print(f"{device}: skipped ({why})")
                continue
            rows = {}
            for name, path in models.items():
                counts = []
                for _ in range(a.repeats if name == "base" else 1):
                    if device == "host":
                        counts.append(instructions.count_host(path).per_inference)
                    else:
                        counts.append(instructions.count_emulated(path, device[4:]).per_inference)
                rows[name] = counts
                print(device, name, counts, flush=True)
            base = statistics.median(rows["base"])
            out["devices"][device] = {
                "counts": rows,
                "base_spread_pct": 100 * (max(rows["base"]) - min(rows["base"])) / base,
                "change_pct": {k: 100 * (statistics.median(v) / base - 1) for k, v in rows.items() if k != "base"}}
    write_json(a.output, out)
    print(json.dumps({d: {k: v for k, v in r.items() if k != "counts"} for d, r in out["devices"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
