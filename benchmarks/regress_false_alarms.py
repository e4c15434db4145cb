"""False-alarm rate of the wall-time regression gate: a model checked against its own baseline.

    python3 benchmarks/regress_false_alarms.py MODEL.tflite [MODEL ...] --checks 40 \
        [--slower SLOW.tflite] -o benchmarks/results/regress_false_alarms.json

For each model: one baseline, then N independent checks of the very same file. Every
alarm is a false alarm. Alongside the gate's own decision the script records what
simpler gates would have said on the same measurements (raw median ratio > tolerance,
no confirmation run), and the machine's load average at each check. ``--slower`` adds
checks of a deliberately slower model against the first model's baseline (detection rate).
Run it while the machine is busy: that is the point.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docscan.atomic import write_json  # noqa: E402
from docscan.regress import gate  # noqa: E402


def one_check(model: str, base: Path, i: int, checks: int, tol: float, label: str, allow_op_change=False,
              device: str = "host", deterministic: bool = False) -> dict:
    load = os.getloadavg()[0]
    t0 = time.time()
    if deterministic:
        from docscan.regress import instructions
        instructions._CACHE.clear()     # every check counts afresh, in its own process
        v = gate.check(model, base, device, deterministic=True, tolerance=tol, allow_op_change=allow_op_change)
        a = v.attempts[0]
        row = {"label": label, "check": i, "time": time.strftime("%H:%M:%S"), "load1": load,
               "seconds": time.time() - t0, "alarm": not v.passed, "first_over": a["ratio"] > 1 + tol,
               "ratio": a["ratio"], "threshold": tol, "per_inference": a["per_inference"], "attempts": v.attempts}
        print(f"{label} {device} {i + 1}/{checks} load {load:.1f}: {a['per_inference']:,} ratio {a['ratio']:.5f} "
              f"-> {'ALARM' if not v.passed else 'ok'}", flush=True)
        return row
    v = gate.check(model, base, device, tolerance=tol, per_op=False, allow_op_change=allow_op_change)
    first = v.attempts[0]
    row = {"label": label, "check": i, "time": time.strftime("%H:%M:%S"), "load1": load,
           "seconds": time.time() - t0, "alarm": not v.passed, "first_over": first["over"], "ratio": first["ratio"],
           "threshold": first["threshold"], "raw_ratio": first["raw_ratio"],
           "min_ratio": first["min_ratio"], "raw_alarm": first["raw_ratio"] > 1 + tol,
           "min_alarm": first["min_ratio"] > 1 + tol,
           "median_norm_alarm": (first.get("median_norm_ratio") or 0) > 1 + first["threshold"],
           "attempts": v.attempts}
    print(f"{label} {i + 1}/{checks} load {load:.1f}: ratio {first['ratio']:.3f} thr {first['threshold']:.3f} "
          f"raw {first['raw_ratio']:.3f} -> {'ALARM' if not v.passed else 'ok'}", flush=True)
    return row


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    if "per_inference" in rows[0]:
        counts = [r["per_inference"] for r in rows]
        return {"checks": n, "alarms": sum(r["alarm"] for r in rows), "min_count": min(counts),
                "max_count": max(counts), "spread_pct": 100 * (max(counts) - min(counts)) / min(counts),
                "ratio_min": min(r["ratio"] for r in rows), "ratio_max": max(r["ratio"] for r in rows),
                "load1_min": min(r["load1"] for r in rows), "load1_max": max(r["load1"] for r in rows)}
    return {"checks": n, "alarms": sum(r["alarm"] for r in rows),
            "over_before_confirmation": sum(r["first_over"] for r in rows),
            "raw_median_alarms": sum(r["raw_alarm"] for r in rows),
            "min_of_n_alarms": sum(r["min_alarm"] for r in rows),
            "median_normalised_alarms_unconfirmed": sum(r["median_norm_alarm"] for r in rows),
            "load1_min": min(r["load1"] for r in rows), "load1_max": max(r["load1"] for r in rows),
            "load1_mean": sum(r["load1"] for r in rows) / n,
            "threshold_median": sorted(r["threshold"] for r in rows)[n // 2]}


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, rows in results["series"].items():
        ax.plot([r["ratio"] for r in rows], "o-", ms=3, label=f"{label}: normalised ratio")
        ax.plot([r["raw_ratio"] for r in rows], "x", ms=4, alpha=0.5, label=f"{label}: raw median ratio")
        ax.plot([1 + r["threshold"] for r in rows], "--", lw=1, label=f"{label}: gate threshold")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xlabel("check #")
    ax.set_ylabel("latency / baseline")
    ax.set_title(f"wall-time gate vs its own baseline, {results['machine']} (load avg "
                 f"{results['load_range']})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--checks", type=int, default=40)
    ap.add_argument("--slower", action="append", default=[],
                    help="a slower model, checked against the FIRST model's baseline (repeatable)")
    ap.add_argument("--interval", type=float, default=0.0,
                    help="seconds between check rounds, so the checks span changing machine load")
    ap.add_argument("--tolerance", type=float, default=None)
    ap.add_argument("--deterministic", action="store_true", help="instruction counts instead of wall time")
    ap.add_argument("--device", default="host")
    ap.add_argument("-o", "--output", default="benchmarks/results/regress_false_alarms.json")
    a = ap.parse_args()
    if a.tolerance is None:
        a.tolerance = gate.INSN_TOLERANCE if a.deterministic else gate.WALL_TOLERANCE
    from docscan.machine import describe_host
    series, sums = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        plan = []   # (label, model, baseline, allow_op_change)
        for m in a.models:
            base = Path(tmp) / (Path(m).stem + ".baseline.json")
            gate.update(m, base, a.device, per_op=False, deterministic=a.deterministic)
            plan.append((Path(m).name, m, base, False))
        first_base = plan[0][2]
        for slow in a.slower:
            plan.append((f"{Path(slow).name} vs {Path(a.models[0]).name}", slow, first_base, True))
        # Baselines once, at the start; then the checks, round-robin over models and spread in time.
        for i in range(a.checks):
            for label, m, base, allow in plan:
                series.setdefault(label, []).append(one_check(m, base, i, a.checks, a.tolerance, label, allow,
                                                              a.device, a.deterministic))
            if a.interval and i + 1 < a.checks:
                time.sleep(a.interval)
        sums = {label: summary(rows) for label, rows in series.items()}
    loads = [r["load1"] for rows in series.values() for r in rows]
    results = {"machine": describe_host(), "cpus": os.cpu_count(), "tolerance": a.tolerance, "k_sigma": gate.K_SIGMA,
               "command": " ".join(sys.argv), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "load_range": f"{min(loads):.1f}-{max(loads):.1f}", "summary": sums, "series": series}
    out = Path(a.output)
    results["device"], results["mode"] = a.device, "instructions" if a.deterministic else "walltime"
    write_json(out, results)
    if not a.deterministic:
        plot(results, out.with_suffix(".png"))
    print(json.dumps(sums, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
