"""The regression gate: measure a model, compare with its baseline, say pass or fail.

Wall-time mode (noise-aware, for shared CI machines):
  * R rounds; each round times the model and a fixed yardstick workload (``yardstick.py``)
    back to back in the same process, alternating which goes first (ABBA), each block with
    its own warm-up. The statistic per round is min-of-N(model) / min-of-N(yardstick):
    interference only adds time, and drift that slows both (other jobs, frequency) cancels.
  * robust statistics: the median of the per-round ratios, its spread as the scaled MAD
    (also the raw median, MAD, IQR and min in milliseconds, for people); a baseline is
    measured with twice the rounds of a check;
  * the threshold adapts to the spread: max(tolerance, K x the combined standard error
    of the two medians), so a noisy machine needs a bigger change to fail;
  * a failure is confirmed by a second, independent measurement before it counts.
Instructions mode (deterministic): ``instructions.count`` per inference; the spread is
zero, the threshold is the tolerance (default 1 %), and a failure is re-counted once.

Both give a per-op (wall time) or per-kernel-function (callgrind) diff table and a PNG.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from docscan.bench.devices import Device, Job, RunSettings, parse_device
from docscan.errors import DocscanError
from docscan.progress import Progress, silent
from docscan.regress import baseline as bl

K_SIGMA = 4.0             # threshold = max(tolerance, K_SIGMA * combined standard error)
WALL_TOLERANCE = 0.05     # smallest relative slowdown the wall-time gate fails on
INSN_TOLERANCE = 0.01     # deterministic mode
CONFIRM_PAUSE_S = 3.0     # wall time: pause before the confirmation measurement


@dataclass
class Verdict:
    model: str
    device: str
    mode: str
    passed: bool
    ratio: float              # new / baseline (the gate's statistic)
    threshold: float          # relative: fails when ratio > 1 + threshold
    unit: str
    base_value: float
    new_value: float
    attempts: list[dict] = field(default_factory=list)   # each measurement: ratio, threshold, stats
    notes: list[str] = field(default_factory=list)
    op_diff: list[dict] = field(default_factory=list)
    improved: bool = False
    compared: bool = True     # False: the baseline was measured where the count does not carry over

    @property
    def status(self) -> str:
        if not self.compared:
            return "not compared"
        if not self.passed:
            return "REGRESSION"
        return "faster" if self.improved else "ok"

    @property
    def emulated(self) -> bool:
        """qemu-user ARM: instruction-set emulation, not phone speed."""
        return self.device.startswith("emu:")

    def to_dict(self) -> dict:
        return {**asdict(self), "status": self.status, "emulated": self.emulated}


# --- statistics --------------------------------------------------------------------------

def mad(xs: list[float]) -> float:
    m = statistics.median(xs)
    return statistics.median([abs(x - m) for x in xs])


def iqr(xs: list[float]) -> float:
    if len(xs) < 4:
        return max(xs) - min(xs)
    q = statistics.quantiles(xs, n=4)
    return q[2] - q[0]


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "mad": mad(values), "iqr": iqr(values),
            "min": min(values), "n": len(values)}


def rel_se(norm: list[float]) -> float:
    """Relative standard error of the median of ``norm`` (1.253 * sigma / sqrt(n), sigma from MAD)."""
    med = statistics.median(norm)
    sigma = 1.4826 * mad(norm)
    return 1.2533 * sigma / math.sqrt(len(norm)) / med if med else float("inf")


def wall_threshold(base: dict, new: dict, tolerance: float) -> float:
    se = math.hypot(base["norm_rel_se"], new["norm_rel_se"])
    return max(tolerance, K_SIGMA * se)


# --- wall time ------------------------------------------------------------------------------

def measure_walltime(model: str | Path, device: str = "host", *, rounds: int = 12, runs: int = 7,
                     warmup: int = 2, threads: int = 1, xnnpack: bool = True, progress: Progress = silent,
                     yard_size: int | None = None, phone: dict | None = None) -> tuple[dict, bl.Setup]:
    """Interleaved rounds of model and yardstick; stats dict and how it was measured.

    ``yard_size``: the yardstick's size (a check uses its baseline's); None picks the size
    whose time is nearest the model's, from a short calibration run. ``phone``: settings
    for phones (see ``docscan.bench.devices.phone.parse``).
    """
    from docscan.regress.yardstick import SIZE, pick_size, write_yardstick

    if rounds < 3 or runs < 1:
        raise DocscanError(f"rounds {rounds} / runs {runs}: the gate needs >= 3 rounds of >= 1 run")
    dev = parse_device(device, {"phone": phone or {}})
    dev.prepare(progress)
    model = Path(model).resolve()
    settings = RunSettings(runs=runs, warmup=warmup, threads=threads, xnnpack=xnnpack)
    with tempfile.TemporaryDirectory(prefix="docscan-gate-") as tmp:
        if yard_size is None:
            yard, _ = write_yardstick(tmp, SIZE)
            cal = _interleaved(dev, model, yard, 3, replace(settings, runs=max(1, runs // 2)), silent)[0]
            yard_size = pick_size(statistics.median(min(m) for m, _ in cal),
                                  statistics.median(min(y) for _, y in cal))
        yard, yard_sha = write_yardstick(tmp, yard_size)
        pairs, runtime, machine = _interleaved(dev, model, yard, rounds, settings, progress)
    model_ms = [x for m, _ in pairs for x in m]
    # Per round: fastest model run / fastest yardstick run. Interference only ever adds
    # time, so a block's minimum is its least disturbed run; the yardstick ratio removes
    # what slowed the whole machine; the median over rounds drops rounds hit throughout.
    norm = [min(m) / min(y) for m, y in pairs]
    norm_med = [statistics.median(m) / statistics.median(y) for m, y in pairs]
    stats = {"unit": "ms", **{f"{k}_ms" if k != "n" else "n": v for k, v in summarize(model_ms).items()},
             "yardstick_median_ms": statistics.median([x for _, y in pairs for x in y]),
             "yardstick_sha256": yard_sha, "yardstick_size": yard_size,
             "norm": statistics.median(norm), "norm_rel_mad": mad(norm) / statistics.median(norm),
             "norm_rel_se": rel_se(norm), "norm_of_medians": statistics.median(norm_med),
             "rounds": rounds, "runs_per_round": runs, "warmup": warmup, "round_norm": norm}
    setup = bl.Setup(device=dev.spec, mode="walltime", runtime=runtime, threads=threads,
                     variant="xnnpack" if xnnpack else "builtin", isa=dev.isa, emulated=dev.emulated,
                     machine=machine, tool=f"{rounds} interleaved rounds x {runs} runs (+{warmup} warm-up) "
                                           "vs a yardstick model; median of per-round ratios")
    return stats, setup


def _interleaved(dev: Device, model: Path, yard: Path, rounds: int, settings: RunSettings, progress: Progress):
    """[(model times, yardstick times)] per round, runtime label, machine description.

    Model and yardstick alternate which goes first (ABBA), each with its own warm-up.
    """
    jobs = []
    for r in range(rounds):
        m, y = (Job(model, f"m{r}", settings.runs, settings.warmup),
                Job(yard, f"y{r}", settings.runs, settings.warmup))
        jobs += [m, y] if r % 2 == 0 else [y, m]
    timings = dev.run_models(jobs, settings, progress)
    by = {}
    for res in timings.results:
        if "error" in res:
            raise DocscanError(f"{model.name}: failed on {dev.spec}: {res['error']}")
        by[res["label"]] = res["latency_ms"]
    return [(by[f"m{r}"], by[f"y{r}"]) for r in range(rounds)], timings.runtime, timings.machine


def per_op_walltime(model, device, *, runs: int = 7, threads: int = 1, xnnpack: bool = True,
                    progress: Progress = silent, phone: dict | None = None) -> list[dict]:
    """Per-op medians from docscan bench's one-op cuts, as baseline op rows."""
    from docscan.bench.run import run_bench

    rep = run_bench([model], [device], runs=runs, warmup=1, threads=threads, xnnpack=xnnpack, per_op=True,
                    progress=progress, phone=phone)
    return [{"key": f"{o.index}:{o.op_type}", "op_type": o.op_type, "name": o.name, "value": o.ms, "unit": "ms"}
            for o in rep.runs[0].ops if not o.extra.get("error")]


def decide_walltime(base: dict, new: dict, tolerance: float) -> dict:
    ratio = new["norm"] / base["norm"]
    thr = wall_threshold(base, new, tolerance)
    return {"ratio": ratio, "threshold": thr, "over": ratio > 1 + thr, "under": ratio < 1 - thr,
            "raw_ratio": new["median_ms"] / base["median_ms"], "min_ratio": new["min_ms"] / base["min_ms"],
            "median_norm_ratio": (new["norm_of_medians"] / base["norm_of_medians"]
                                  if "norm_of_medians" in base and "norm_of_medians" in new else None),
            "median_ms": new["median_ms"], "norm": new["norm"], "norm_rel_se": new["norm_rel_se"]}


# --- instructions ---------------------------------------------------------------------------

def measure_instructions(model, device: str = "host", *, threads: int = 1, xnnpack: bool = True,
                         use_cache: bool = True, progress: Progress = silent) -> tuple[dict, bl.Setup, list[dict]]:
    from docscan.machine import host_cpu

    dev = parse_device(device)
    c = dev.count_instructions(Path(model), threads=threads, xnnpack=xnnpack, use_cache=use_cache, progress=progress)
    setup = bl.Setup(device=c.device, mode="instructions", runtime=c.runtime, threads=threads,
                     variant="xnnpack" if xnnpack else "builtin", isa=dev.isa, emulated=dev.emulated,
                     machine=host_cpu(), tool=c.tool)
    stats = {"unit": "instructions", "per_inference": c.per_inference, "repeats": c.repeats}
    if c.cpu_features is not None:
        # XNNPACK picks kernels by the CPU features it sees (under valgrind: up to AVX2/FMA3,
        # AVX-512 is hidden); counts compare only between CPUs offering the same ones.
        stats["cpu_features"] = c.cpu_features
    ops = [{"key": fn, "op_type": _kernel_kind(fn), "name": fn, "value": v, "unit": "instructions"}
           for fn, v in sorted(c.functions.items(), key=lambda kv: -kv[1]) if v >= max(1, c.per_inference // 2000)]
    return stats, setup, ops


def _kernel_kind(fn: str) -> str:
    """A short family name for a kernel function (for grouping in tables)."""
    for prefix in ("xnn_", "tflite::ops::builtin::", "tflite::optimized_ops::", "tflite::reference_ops::",
                   "Eigen::", "__mem", "tflite::"):
        if fn.startswith(prefix):
            return prefix.rstrip(":_") or fn
    return "other"


# --- per-op diff ------------------------------------------------------------------------------

def op_diff(base_ops: list[dict], new_ops: list[dict], top: int = 15) -> list[dict]:
    """Rows (key, op_type, base, new, delta, pct), largest absolute change first.

    Rows match by key (execution index + op type for wall time; function name for
    instruction counts); ops only one side has appear as added / removed.
    """
    b = {o["key"]: o for o in base_ops}
    n = {o["key"]: o for o in new_ops}
    rows = []
    for key in list(b) + [k for k in n if k not in b]:
        bv, nv = b.get(key, {}).get("value"), n.get(key, {}).get("value")
        ref = b.get(key) or n.get(key)
        delta = (nv or 0) - (bv or 0)
        rows.append({"key": key, "op_type": ref.get("op_type", ""), "name": ref.get("name", key),
                     "base": bv, "new": nv, "delta": delta,
                     "pct": 100.0 * delta / bv if bv else None,
                     "change": "added" if bv is None else "removed" if nv is None else
                     "slower" if delta > 0 else "faster" if delta < 0 else "same"})
    rows.sort(key=lambda r: -abs(r["delta"]))
    return rows[:top] if top else rows


def by_type_diff(base_ops: list[dict], new_ops: list[dict]) -> list[dict]:
    def totals(ops):
        t: dict[str, list] = {}
        for o in ops:
            e = t.setdefault(o["op_type"], [0.0, 0])
            e[0] += o["value"]
            e[1] += 1
        return t
    tb, tn = totals(base_ops), totals(new_ops)
    rows = []
    for k in sorted(set(tb) | set(tn)):
        bv, nv = tb.get(k, [0.0, 0]), tn.get(k, [0.0, 0])
        rows.append({"op_type": k, "base": bv[0], "new": nv[0], "base_count": bv[1], "new_count": nv[1],
                     "delta": nv[0] - bv[0], "pct": 100.0 * (nv[0] - bv[0]) / bv[0] if bv[0] else None})
    rows.sort(key=lambda r: -abs(r["delta"]))
    return rows


# --- the gate ---------------------------------------------------------------------------------

def check(model: str | Path, baseline_path: str | Path, device: str = "host", *, deterministic: bool = False,
          tolerance: float | None = None, threads: int = 1, xnnpack: bool = True, rounds: int = 12,
          runs: int = 7, warmup: int = 2, per_op: bool = True, confirm: bool = True,
          allow_op_change: bool = False, progress: Progress = silent, phone: dict | None = None) -> Verdict:
    """Compare ``model`` on ``device`` with its baseline. Raises DocscanError on a baseline
    that does not fit (schema, model, set-up); returns a Verdict otherwise.

    ``tolerance``: the smallest relative slowdown that fails (default ``WALL_TOLERANCE``,
    ``INSN_TOLERANCE`` deterministic). ``confirm``: a failure is measured a second time.
    """
    if tolerance is not None and not 0 <= tolerance < 1:
        raise DocscanError(f"tolerance {tolerance}: a fraction, e.g. 0.05 for 5 %")
    mode = "instructions" if deterministic else "walltime"
    base = bl.load(baseline_path)
    mid = bl.ModelId.of(model)
    notes = bl.check_model(base, mid, str(baseline_path), allow_op_change)
    entry = base.entry(parse_device(device, {"phone": phone or {}}).spec, mode, str(baseline_path))
    tol = tolerance if tolerance is not None else (INSN_TOLERANCE if deterministic else WALL_TOLERANCE)
    if deterministic:
        return _check_instructions(model, mid, entry, str(baseline_path), device, tol, notes, threads=threads,
                                   xnnpack=xnnpack, confirm=confirm, progress=progress)
    return _check_walltime(model, mid, entry, str(baseline_path), device, tol, notes, threads=threads,
                           xnnpack=xnnpack, rounds=rounds, runs=runs, warmup=warmup, per_op=per_op, confirm=confirm,
                           progress=progress, phone=phone)


def features_differ(was, now) -> bool:
    """Whether two hosts' recorded CPU feature lists differ (unknown on either side: no)."""
    return was is not None and now is not None and list(was) != list(now)


def _check_instructions(model, mid: bl.ModelId, entry: bl.Entry, source: str, device: str, tol: float,
                        notes: list[str], *, threads, xnnpack, confirm, progress) -> Verdict:
    attempts: list[dict] = []
    for attempt in range(2 if confirm else 1):
        # The confirmation always counts afresh: it is the proof that the count repeats.
        stats, setup, ops = measure_instructions(model, device, threads=threads, xnnpack=xnnpack,
                                                 use_cache=attempt == 0, progress=progress)
        if attempt == 0:
            notes += bl.check_setup(entry, setup, source)
            was, now = entry.stats.get("cpu_features"), stats.get("cpu_features")
            if features_differ(was, now):
                # XNNPACK picks its kernels by CPU features (AVX2 / AVX-512 / VNNI): another
                # instruction mix, not a regression. Emulated ARM counts do not depend on the host.
                notes.append(f"not compared: CPU features differ from the baseline's ({' '.join(now)} vs "
                             f"{' '.join(was)}), so XNNPACK runs other kernels; record a baseline on this "
                             "runner type to gate it here")
                ratio = stats["per_inference"] / entry.stats["per_inference"]
                return Verdict(mid.file, entry.setup.device, "instructions", True, ratio, tol, "instructions/inference",
                               entry.stats["per_inference"], stats["per_inference"],
                               [{"ratio": ratio, "threshold": tol, "per_inference": stats["per_inference"],
                                 "repeats": stats["repeats"]}], notes, op_diff(entry.ops, ops), compared=False)
        ratio = stats["per_inference"] / entry.stats["per_inference"]
        attempts.append({"ratio": ratio, "threshold": tol, "per_inference": stats["per_inference"],
                         "repeats": stats["repeats"]})
        if ratio <= 1 + tol:
            break
    if len(attempts) == 2 and attempts[0]["per_inference"] != attempts[1]["per_inference"]:
        notes.append("instruction count changed between the two counts: "
                     f"{attempts[0]['per_inference']} vs {attempts[1]['per_inference']}")
    last = attempts[-1]
    passed = any(a["ratio"] <= 1 + a["threshold"] for a in attempts)
    return Verdict(mid.file, entry.setup.device, "instructions", passed, last["ratio"], tol, "instructions/inference",
                   entry.stats["per_inference"], last["per_inference"], attempts, notes,
                   op_diff(entry.ops, ops), improved=last["ratio"] < 1 - tol)


def _check_walltime(model, mid: bl.ModelId, entry: bl.Entry, source: str, device: str, tol: float,
                    notes: list[str], *, threads, xnnpack, rounds, runs, warmup, per_op, confirm, progress,
                    phone) -> Verdict:
    attempts: list[dict] = []
    for attempt in range(2 if confirm else 1):
        if attempt:
            time.sleep(CONFIRM_PAUSE_S)   # let a short burst of load pass before re-measuring
        stats, setup = measure_walltime(model, device, rounds=rounds, runs=runs, warmup=warmup, threads=threads,
                                        xnnpack=xnnpack, progress=progress, phone=phone,
                                        yard_size=entry.stats.get("yardstick_size", 64))
        if attempt == 0:
            notes += bl.check_setup(entry, setup, source)
            if stats["yardstick_sha256"] != entry.stats.get("yardstick_sha256"):
                raise DocscanError(f"{source}: measured against another yardstick "
                                   f"({entry.stats.get('yardstick_sha256')} vs {stats['yardstick_sha256']}); "
                                   f"{bl.REFRESH}")
        attempts.append(decide_walltime(entry.stats, stats, tol))
        if not attempts[-1]["over"]:
            break
    passed = not all(a["over"] for a in attempts)
    if len(attempts) == 2:
        notes.append("first measurement over the threshold; "
                     + ("confirmed by a second one" if not passed else "not confirmed by a second one (noise)"))
    last = attempts[-1]
    diff = []
    if per_op and entry.ops:
        diff = op_diff(entry.ops, per_op_walltime(model, device, runs=runs, threads=threads, xnnpack=xnnpack,
                                                  progress=progress, phone=phone))
    return Verdict(mid.file, entry.setup.device, "walltime", passed, last["ratio"], last["threshold"],
                   "ms (normalised)", entry.stats["median_ms"], last["median_ms"], attempts, notes, diff,
                   improved=last["under"])


def update(model: str | Path, baseline_path: str | Path, device: str = "host", *, deterministic: bool = False,
           threads: int = 1, xnnpack: bool = True, rounds: int = 12, runs: int = 7, warmup: int = 2,
           per_op: bool = True, progress: Progress = silent, source: dict | None = None,
           phone: dict | None = None) -> tuple[bl.Entry, list[str]]:
    """Measure ``model`` and write it into the baseline file (atomically)."""
    mid = bl.ModelId.of(model)
    if deterministic:
        stats, setup, ops = measure_instructions(model, device, threads=threads, xnnpack=xnnpack, progress=progress)
    else:
        stats, setup = measure_walltime(model, device, rounds=2 * rounds, runs=runs, warmup=warmup,
                                        threads=threads, xnnpack=xnnpack, progress=progress, phone=phone)
        ops = (per_op_walltime(model, device, runs=runs, threads=threads, xnnpack=xnnpack, progress=progress,
                               phone=phone) if per_op else [])
    entry = bl.Entry(setup, stats, ops)
    _, notes = bl.update(baseline_path, mid, entry, source)
    return entry, notes
