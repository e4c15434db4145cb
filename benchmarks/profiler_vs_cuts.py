"""LiteRT's own per-op profiler vs docscan's one-op cuts, on the host and on emulated aarch64.

For models/hed_default.{int8,fp32}.tflite on each device: the whole-model median (unprofiled
runs, alternating with profiled ones on the same compiled model), the profiler's per-op sum
and its gap to that median, the one-op-cut per-op sum and its gap, and each op's
cut-vs-profiler error. Per device, everything runs in one process through the same
libLiteRt.so CompiledModel loop (``docscan.bench.litert_profiler``; in the emulated aarch64
rootfs, PyPI's ai-edge-litert aarch64 wheel, see ``devices/emulated.py``), so the only
difference between the methods is what is timed: one op inside the real run vs the op alone
as its own model.

The profiler's per-op times are what ``docscan bench`` reports: each op's mean over the
profiled runs whose total is in the middle half (so they add up to a typical run; see
``litert_profiler.measure``). Also given: the sum of per-op medians (which on a loaded host
drops the preemptions every whole run has somewhere), the median over profiled runs of that
run's operator events added up and of its "Invoke" span (coverage = their ratio). The cut
error compares medians with medians: each cut's median against the op's profiled median.

    python benchmarks/profiler_vs_cuts.py [--runs 30] [--emu-runs 10] [--cut-runs 10] [--no-emu]
Writes benchmarks/results/profiler_vs_cuts.json and .png.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docscan.atomic import write_figure, write_json  # noqa: E402
from docscan.bench import litert_profiler, perop  # noqa: E402
from docscan.bench.devices import Job, emulated, host  # noqa: E402
from docscan.machine import describe_host  # noqa: E402

MODELS = ["models/hed_default.int8.tflite", "models/hed_default.fp32.tflite"]
OUT = ROOT / "benchmarks" / "results" / "profiler_vs_cuts"


def run_device(device: str, rel: str, runs: int, cut_runs: int) -> dict:
    """The whole model under the profiler and every one-op cut unprofiled, in one process."""
    path = ROOT / rel
    cuts = perop.cut_ops(path.read_bytes(), rel)
    with tempfile.TemporaryDirectory() as tmp:
        pairs = perop.write_cuts(cuts, Path(tmp))
        jobs = [Job(path, "whole", runs, 3, profile=True)]
        jobs += [Job(p, f"op{c.index}", cut_runs, 1, litert=True) for c, p in pairs]
        if device == "host":
            result = host.run_jobs(jobs)
        else:
            result = emulated.run_jobs("aarch64", jobs)
    whole, *rest = result["results"]
    if "error" in whole:
        raise SystemExit(f"{device}: {rel}: {whole['error']}")
    cut_ms = {int(r["label"][2:]): statistics.median(r["latency_ms"]) for r in rest if "error" not in r}
    cut_errors = [f"{r['label']}: {r['error']}" for r in rest if "error" in r]
    inventory = litert_profiler.model_ops(path)
    events, mapped, notes = litert_profiler.map_ops(whole["ops"], [t for t, _ in inventory])
    return summarise(device, rel, whole, events, mapped, notes + cut_errors, cut_ms, runs, cut_runs,
                     whole.get("runtime", result.get("runtime", "?")), result.get("machine", {}))


def summarise(device, rel, whole, events, mapped, notes, cut_ms, runs, cut_runs, runtime, machine) -> dict:
    whole_med = statistics.median(whole["latency_ms"])
    rows, errors = [], []
    for o in events:
        cut = cut_ms.get(o.op_index) if o.op_index is not None else None
        med_ms = o.median_us / 1000.0
        err = (cut / med_ms - 1.0) if cut is not None and med_ms > 0 else None
        if err is not None:
            errors.append(err)
        rows.append({"index": o.op_index, "op_type": o.op_type, "runtime_name": o.runtime_name,
                     "profiler_ms": round(o.us / 1000.0, 4), "profiler_median_ms": round(med_ms, 4),
                     "cut_ms": None if cut is None else round(cut, 4),
                     "cut_error": None if err is None else round(err, 4)})
    prof_sum = sum(o.us for o in events) / 1000.0
    median_sum = sum(o.median_us for o in events) / 1000.0
    cut_sum = sum(cut_ms.values())
    # Ops under 20 us on the host (2 ms emulated) are dominated by the profiler's 1 us
    # resolution and by per-invoke overhead in the cut; the error is also summarised on the rest.
    floor = 0.02 if device == "host" else 2.0
    big = [r["cut_error"] for r in rows if r["cut_error"] is not None and r["profiler_median_ms"] >= floor]
    run_sum = statistics.median(whole["run_sum_ms"]) if whole.get("run_sum_ms") else None
    invoke = statistics.median(whole["invoke_ms"]) if whole.get("invoke_ms") else None
    return {
        "device": device, "model": rel, "runtime": runtime, "guest": machine, "mapped_to_model_ops": mapped,
        "ops": len(events), "runs": runs, "cut_runs": cut_runs,
        "whole_median_ms": round(whole_med, 4),
        "whole_min_ms": round(min(whole["latency_ms"]), 4),
        "profiler_sum_ms": round(prof_sum, 4),
        "profiler_gap": round(prof_sum / whole_med - 1.0, 4),
        "profiler_median_sum_ms": round(median_sum, 4),
        "profiler_median_sum_gap": round(median_sum / whole_med - 1.0, 4),
        "profiled_run_sum_median_ms": None if run_sum is None else round(run_sum, 4),
        "profiled_invoke_median_ms": None if invoke is None else round(invoke, 4),
        "profiled_coverage": None if not (run_sum and invoke) else round(run_sum / invoke, 4),
        "cut_sum_ms": round(cut_sum, 4), "cut_gap": round(cut_sum / whole_med - 1.0, 4),
        "cut_ops_timed": len(cut_ms),
        "cut_error_median_abs": round(statistics.median(abs(e) for e in errors), 4) if errors else None,
        "cut_error_floor_ms": floor,
        "cut_error_median_abs_big_ops": round(statistics.median(abs(e) for e in big), 4) if big else None,
        "cut_error_max_abs_big_ops": round(max(abs(e) for e in big), 4) if big else None,
        "per_op": rows, "notes": notes,
    }


def figure(results: list[dict]):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(results), 1, figsize=(12, 3.6 * len(results)), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        xs = range(len(r["per_op"]))
        ax.bar([x - 0.2 for x in xs], [o["profiler_median_ms"] for o in r["per_op"]], 0.4, label="LiteRT profiler (median)")
        ax.bar([x + 0.2 for x in xs], [o["cut_ms"] or 0 for o in r["per_op"]], 0.4, label="one-op cut (median)")
        emu = " (EMULATED, qemu-user)" if r["device"] != "host" else ""
        ax.set_title(f"{r['device']}{emu} {Path(r['model']).name}: whole {r['whole_median_ms']:.4g} ms, profiler sum "
                     f"{r['profiler_sum_ms']:.4g} ({r['profiler_gap']:+.1%}), cuts {r['cut_sum_ms']:.4g} "
                     f"({r['cut_gap']:+.1%}), cut |err| median {r['cut_error_median_abs']:.0%}", fontsize=9)
        ax.set_xlabel("op index")
        ax.set_ylabel("ms")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="profiled (and as many unprofiled) whole runs, host")
    ap.add_argument("--emu-runs", type=int, default=10, help="the same on emulated aarch64")
    ap.add_argument("--cut-runs", type=int, default=10, help="timed runs per one-op cut")
    ap.add_argument("--no-emu", action="store_true", help="host only")
    args = ap.parse_args()
    devices = ["host"] + ([] if args.no_emu else ["emu:aarch64"])
    results = []
    for rel in MODELS:
        for device in devices:      # side by side, one model at a time
            print(f"{device} {rel} ...", file=sys.stderr, flush=True)
            runs = args.runs if device == "host" else args.emu_runs
            results.append(run_device(device, rel, runs, args.cut_runs))
    out = {"host": describe_host(), "method_profiler": litert_profiler.METHOD, "method_cuts": perop.METHOD,
           "emulated": "" if args.no_emu else emulated.describe("aarch64"),
           "note": "both methods through one libLiteRt.so CompiledModel loop per device (CPU accelerator, XNNPACK, "
                   "default single thread); cuts timed unprofiled, whole runs alternate with profiled ones",
           "results": results}
    write_json(OUT.with_suffix(".json"), out)
    write_figure(OUT.with_suffix(".png"), figure(results))
    for r in results:
        print(f"{r['device']:12s} {Path(r['model']).name}: whole {r['whole_median_ms']:.3f} ms | profiler sum "
              f"{r['profiler_sum_ms']:.3f} ({r['profiler_gap']:+.1%}; of medians {r['profiler_median_sum_ms']:.3f} "
              f"{r['profiler_median_sum_gap']:+.1%}; run sums {r['profiled_run_sum_median_ms']:.3f}, "
              f"coverage {r['profiled_coverage']:.1%}) | cuts {r['cut_sum_ms']:.3f} ({r['cut_gap']:+.1%}) | cut per-op "
              f"|err| median {r['cut_error_median_abs']:.1%}, big ops {r['cut_error_median_abs_big_ops']:.1%}")


if __name__ == "__main__":
    main()
