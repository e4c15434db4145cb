"""XNNPACK's own MobileNets on a named core, estimated: the published XNNPACK tables' setting.

XNNPACK's published Raspberry Pi table (``shared/validation/arm-cpu-latency.md``, Feb 2022)
times its end2end models, MobileNet v1 / v2 built directly with XNNPACK's operator API, on
a 32-bit and a 64-bit OS. tflite-runtime 2.14's armv7 wheel has no XNNPACK, so a TFLite
estimate on armv7 runs other kernels than that table's 32-bit column. Debian 12 packages
XNNPACK (git 2022-02-16, a week after that table) for armhf and arm64 with its NEON and
assembly microkernels; ``xnnpack_guest.py`` builds the same two networks on it (ctypes, no
compiler needed) inside the emulated rootfs, with the core's /proc/cpuinfo so XNNPACK picks
that core's kernels, and runs each operator between markers. The block trace is costed as
``estimate.py`` costs a TFLite one (llvm-mca per block, a per-op memory roofline): the
same method, on the kernels the table ran.
"""

from __future__ import annotations

import time
from pathlib import Path

from docscan.bench.debian_layer import Layer, ensure_layer, guest_env, read_layer_marker
from docscan.bench.estimate import memory
from docscan.bench.estimate.cores import Core, check_isa
from docscan.bench.estimate.estimate import Estimate, OpEstimate, cost_trace, segment_cost
from docscan.bench.estimate.trace import MARK_FD, Trace, _source_hash, cpuinfo_midr, run_traced
from docscan.bench.estimate.xnnpack_guest import BEGIN, END
from docscan.errors import DocscanError
from docscan.progress import Progress, silent

GUEST = Path(__file__).with_name("xnnpack_guest.py")
MODELS = ("mobilenet_v1", "mobilenet_v2")
PRECISIONS = ("fp32", "int8")
METHOD = ("ESTIMATED: XNNPACK {version} (Debian {arch}, operator API, 1 thread; {what}) traced under qemu-user "
          "-cpu {qemu_cpu} with /proc/cpuinfo {midr} and docscan's block plugin; each block costed by llvm-mca-16 "
          "-mcpu={cpu} (loads hitting L1); plus a per-op memory roofline (L2 {l2} KiB at {l2bw} B/cycle, DRAM "
          "{dram} GB/s); {mhz:g} MHz")


def _has_xnnpack(layer: Path) -> str:
    return "" if any(layer.glob("usr/lib/*/libXNNPACK.so.0")) else "has no libXNNPACK.so.0"


XNNPACK = Layer("xnnpack", "libxnnpack0", "libxnnpack0", _has_xnnpack)


def estimate_xnnpack(models: list[str], precision: str, core: Core, isa: str, *, clock_mhz: float | None = None,
                     runs: int = 1, size: int = 224, progress: Progress = silent) -> list[Estimate]:
    """One ``Estimate`` per model of ``MODELS`` (``size`` x ``size`` input, alpha 1.0) in
    ``precision`` ("fp32", or "int8": QC8) on ``core`` in ``isa``, from one traced guest process."""
    from docscan.bench.rootfs import get_isa

    unknown = [m for m in models if m not in MODELS]
    if unknown or precision not in PRECISIONS:
        raise DocscanError(f"XNNPACK estimate: models are {', '.join(MODELS)} and precisions {', '.join(PRECISIONS)} "
                           f"(got {', '.join(unknown) or precision})")
    isa_name = check_isa(core, isa)
    isa_spec = get_isa(isa_name)
    mhz = float(clock_mhz or core.clock_mhz)
    t0 = time.monotonic()
    root, layer = ensure_layer(XNNPACK, isa_name, progress=progress)
    lib = next(layer.glob("usr/lib/*/libXNNPACK.so.0")).parent
    cpuinfo = core.cpuinfo(isa_name)
    qemu_cpu = core.qemu_cpu[isa_name]
    spec = {"lib": str(lib), "models": list(models), "precision": precision, "mark_fd": MARK_FD, "runs": runs,
            "size": size}
    proc = run_traced(isa_spec, root, GUEST, spec, guest_env(root, layer, isa_spec), qemu_cpu=qemu_cpu,
                      cpuinfo=cpuinfo, progress=progress,
                      what=f"XNNPACK {precision} {', '.join(models)}: tracing under qemu {isa_name} ({core.name})")
    report = proc.report(BEGIN, END, f"emu:{isa_name}: XNNPACK under the block plugin failed")
    blocks, segments = proc.blocks, proc.segments
    t1 = time.monotonic()
    order = [(name, op) for name in models for op in report[name]]
    missing = [op["segment"] for _, op in order if op["segment"] not in segments]
    if missing:
        raise DocscanError(f"emu:{isa_name}: the block trace has no segment {missing[0]} (plugin marker lost)")
    trace = Trace(isa_name, blocks, [{b: n / runs for b, n in segments[op["segment"]].items()} for _, op in order])
    costs, modes = cost_trace(trace, core, progress)
    t2 = time.monotonic()
    version = (read_layer_marker(XNNPACK, layer, root) or {}).get("version", "?")
    what = "QC8 weights, QS8 activations" if precision == "int8" else "fp32"
    method = METHOD.format(version=version, arch=isa_spec.debian_arch, what=what, qemu_cpu=qemu_cpu,
                           midr=cpuinfo_midr(cpuinfo), cpu=core.llvm_cpu, l2=core.l2_kib, l2bw=core.l2_bytes_per_cycle,
                           dram=core.dram_gb_s, mhz=mhz)
    out_estimates = []
    suffix = f"@{size}" if size != 224 else ""
    for name in models:
        ops, ins_all, cyc_all, dropped_all, thumb_all = [], 0.0, 0.0, 0.0, 0.0
        for k, (model, op) in enumerate(order):
            if model != name:
                continue
            ins, cyc, dropped, thumb = segment_cost(trace, k, costs, modes)
            mem, where = memory.memory_cycles(op["bytes"], core, mhz)
            ops.append(OpEstimate(len(ops), op["kind"], op["name"], ins, cyc, mem, where))
            ins_all, cyc_all, dropped_all, thumb_all = ins_all + ins, cyc_all + cyc, dropped_all + dropped, thumb_all + thumb
        excess = sum(max(0.0, o.memory_cycles - o.compute_cycles) for o in ops)
        out_estimates.append(Estimate(
            f"xnnpack:{name}/{precision}{suffix}", core.name, isa_name, mhz, method, ins_all, cyc_all, excess, ops,
            undecoded_pct=100.0 * dropped_all / ins_all if ins_all else 0.0,
            thumb_pct=100.0 * thumb_all / ins_all if ins_all else 0.0,
            runtime=f"XNNPACK {version} (Debian {isa_spec.debian_arch}), docscan blocks.c ({_source_hash()})",
            seconds={"trace": round(t1 - t0, 1), "cost": round(t2 - t1, 1)}))
    return out_estimates
