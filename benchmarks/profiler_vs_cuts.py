"""LiteRT's own per-op profiler vs docscan's one-op cuts, on the host, for the shipped HED.

For models/hed_default.{int8,fp32}.tflite: the whole-model median (unprofiled runs,
alternating with profiled ones), the profiler's per-op sum and its gap to that median, the
one-op-cut per-op sum and its gap, and each op's cut-vs-profiler error. Both methods run
through the same libLiteRt.so C API loop (docscan.bench.litert_profiler), so the only
difference is what is timed: one op inside the real run vs the op alone as its own model.

    python benchmarks/profiler_vs_cuts.py [--runs 50]
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
from docscan.machine import describe_host  # noqa: E402

MODELS = ["models/hed_default.int8.tflite", "models/hed_default.fp32.tflite"]
OUT = ROOT / "benchmarks" / "results" / "profiler_vs_cuts"


def one_model(rel: str, runs: int) -> dict:
    path = ROOT / rel
    prof = litert_profiler.profile(path, runs=runs)
    cuts = perop.cut_ops(path.read_bytes(), rel)
    cut_ms: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for c, p in perop.write_cuts(cuts, Path(tmp)):
            cut_ms[c.index] = statistics.median(litert_profiler.time_whole(p, runs=runs))
    whole = prof.whole_median_ms
    rows, errors = [], []
    for o in prof.ops:
        cut = cut_ms.get(o.op_index) if o.op_index is not None else None
        prof_ms = o.us / 1000.0
        err = (cut / prof_ms - 1.0) if cut is not None and prof_ms > 0 else None
        if err is not None:
            errors.append(err)
        rows.append({"index": o.op_index, "op_type": o.op_type, "runtime_name": o.runtime_name,
                     "profiler_ms": round(prof_ms, 4), "cut_ms": None if cut is None else round(cut, 4),
                     "cut_error": None if err is None else round(err, 4)})
    cut_sum = sum(cut_ms.values())
    # Ops under 20 us are dominated by the profiler's 1 us resolution and by per-invoke
    # overhead in the cut; the error is also summarised on the ops that matter.
    big = [r["cut_error"] for r in rows if r["cut_error"] is not None and r["profiler_ms"] >= 0.02]
    return {
        "model": rel, "mapped_to_model_ops": prof.mapped, "ops": len(prof.ops), "runs": runs,
        "whole_median_ms": round(whole, 4),
        "profiled_invoke_median_ms": round(statistics.median(prof.profiled_invoke_ms), 4),
        "profiler_sum_ms": round(prof.per_op_sum_ms, 4),
        "profiler_gap": round(prof.per_op_sum_ms / whole - 1.0, 4),
        "cut_sum_ms": round(cut_sum, 4), "cut_gap": round(cut_sum / whole - 1.0, 4),
        "cut_ops_timed": len(cut_ms),
        "cut_error_median_abs": round(statistics.median(abs(e) for e in errors), 4) if errors else None,
        "cut_error_median_abs_ops_ge_20us": round(statistics.median(abs(e) for e in big), 4) if big else None,
        "cut_error_max_abs_ops_ge_20us": round(max(abs(e) for e in big), 4) if big else None,
        "per_op": rows, "notes": prof.notes,
    }


def figure(results: list[dict]):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(results), 1, figsize=(12, 4 * len(results)))
    for ax, r in zip(axes if len(results) > 1 else [axes], results):
        xs = range(len(r["per_op"]))
        ax.bar([x - 0.2 for x in xs], [o["profiler_ms"] for o in r["per_op"]], 0.4, label="LiteRT profiler")
        ax.bar([x + 0.2 for x in xs], [o["cut_ms"] or 0 for o in r["per_op"]], 0.4, label="one-op cut")
        ax.set_title(f"{r['model']}: whole {r['whole_median_ms']:.2f} ms, profiler sum "
                     f"{r['profiler_sum_ms']:.2f} ({r['profiler_gap']:+.1%}), cuts {r['cut_sum_ms']:.2f} "
                     f"({r['cut_gap']:+.1%})", fontsize=9)
        ax.set_xlabel("op index")
        ax.set_ylabel("ms")
        ax.legend()
    fig.tight_layout()
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    results = []
    for rel in MODELS:
        print(f"{rel} ...", file=sys.stderr, flush=True)
        results.append(one_model(rel, args.runs))
    out = {"machine": describe_host(), "method_profiler": litert_profiler.METHOD, "method_cuts": perop.METHOD,
           "runtime": "ai-edge-litert libLiteRt.so CompiledModel, CPU accelerator (XNNPACK), default threads",
           "models": results}
    write_json(OUT.with_suffix(".json"), out)
    write_figure(OUT.with_suffix(".png"), figure(results))
    for r in results:
        print(f"{r['model']}: whole {r['whole_median_ms']:.3f} ms | profiler sum {r['profiler_sum_ms']:.3f} "
              f"({r['profiler_gap']:+.1%}) | cuts {r['cut_sum_ms']:.3f} ({r['cut_gap']:+.1%}) | cut per-op "
              f"|err| median {r['cut_error_median_abs']:.1%}, ops>=20us {r['cut_error_median_abs_ops_ge_20us']:.1%}")


if __name__ == "__main__":
    main()
