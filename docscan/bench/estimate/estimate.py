"""A model's estimated cycles and ms on a named core: the whole model and each op.

One traced guest process (``trace.py``) runs the whole model and every one-op cut of it
(``docscan.bench.perop``), each after its own warm-up, so each op's segment holds what its
inference executed. Every distinct block is decoded once (``decode.py``) and costed once
per core (``mca.py``, cached). Cycles of a segment = sum of executions x block cycles;
each op adds its memory excess (``memory.py``); the whole model adds the sum of its ops'
excesses. The per-op sum differs from the whole model by what one-op models pay that the
whole does not (per-invoke overhead, a delegate's set-up per op) and what XNNPACK shares
across ops in the whole: ``per_op_gap_pct`` says how much.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from docscan.bench import perop
from docscan.bench.estimate import decode, mca, memory
from docscan.bench.estimate.cores import Core, check_isa
from docscan.bench.estimate.trace import Trace, trace_models
from docscan.errors import DocscanError
from docscan.progress import Progress, silent

METHOD = ("ESTIMATED: the inference (tflite-runtime 2.14, 1 thread; {kernels}) traced under qemu-user {qemu_cpu} with "
          "docscan's block plugin; each block costed by llvm-mca-16 -mcpu={cpu}{stand_in} (steady state, loads hitting "
          "L1); plus a per-op memory roofline (L2 {l2} KiB at {l2bw} B/cycle, DRAM {dram} GB/s); {mhz:g} MHz")


@dataclass
class OpEstimate:
    index: int
    op_type: str
    name: str
    instructions: float
    compute_cycles: float
    memory_cycles: float
    memory_from: str
    error: str = ""

    @property
    def cycles(self) -> float:
        return max(self.compute_cycles, self.memory_cycles)


@dataclass
class Estimate:
    model: str
    core: str
    isa: str
    clock_mhz: float
    method: str
    instructions: float
    compute_cycles: float
    memory_excess_cycles: float
    ops: list[OpEstimate] = field(default_factory=list)
    undecoded_pct: float = 0.0          # executed instructions llvm-mca could not cost
    thumb_pct: float = 0.0              # armv7: executed instructions decoded as Thumb
    runtime: str = ""
    seconds: dict = field(default_factory=dict)
    other_models: dict = field(default_factory=dict)   # llvm-mca CPU -> whole-model compute cycles, same trace

    @property
    def cycles(self) -> float:
        return self.compute_cycles + self.memory_excess_cycles

    def ms(self, cycles: float) -> float:
        return cycles / (self.clock_mhz * 1e3)

    @property
    def whole_ms(self) -> float:
        return self.ms(self.cycles)


def estimate_model(model: Path, core: Core, isa: str, *, clock_mhz: float | None = None,
                   cuts: list[perop.OneOp] | None = None, per_op: bool = True, threads: int = 1,
                   delegate: str = "xnnpack", other_cpus: tuple[str, ...] = (),
                   progress: Progress = silent) -> Estimate:
    """Estimate ``model`` on ``core`` in ``isa``; ``cuts``: its one-op models (cut here if None).

    ``delegate``: what runs the ops (``trace.trace_models``): "xnnpack" (fp32 and int8, as LiteRT
    does on phones), "default" (tflite-runtime 2.14's own choice) or "none" (built-in kernels).
    ``other_cpus``: llvm-mca CPUs to cost the same trace with too (``Estimate.other_models``).
    """
    isa = check_isa(core, isa)
    if threads != 1:
        raise DocscanError(f"{core.name}/{isa}: estimates are single-threaded (got --threads {threads})")
    mhz = float(clock_mhz or core.clock_mhz)
    model = Path(model)
    t0 = time.monotonic()
    if per_op and cuts is None:
        cuts = perop.cut_ops(model.read_bytes(), str(model))
    cuts = [c for c in (cuts or []) if c.data is not None] if per_op else []
    import tempfile
    with tempfile.TemporaryDirectory(prefix="docscan-estimate-") as tmp:
        pairs = perop.write_cuts(cuts, Path(tmp))
        trace = trace_models([model, *[p for _, p in pairs]], isa, qemu_cpu=core.qemu_cpu[isa],
                             cpuinfo=core.cpuinfo(isa), delegate=delegate, threads=threads, progress=progress)
    t1 = time.monotonic()
    costs, modes = cost_trace(trace, core, progress)
    other = {}
    for cpu in other_cpus:
        alt, _ = cost_trace(trace, core, progress, llvm_cpu=cpu)
        other[cpu] = sum(n * alt[trace.blocks[b].key][0] for b, n in trace.segments[0].items())
    t2 = time.monotonic()

    ins, cyc, dropped, thumb = segment_cost(trace, 0, costs, modes)
    ops = []
    for k, (c, _) in enumerate(pairs, start=1):
        o_ins, o_cyc, _, _ = segment_cost(trace, k, costs, modes)
        mem, where = memory.memory_cycles(memory.op_bytes(c.data), core, mhz)
        ops.append(OpEstimate(c.index, c.op_type, c.name, o_ins, o_cyc, mem, where))
    excess = sum(max(0.0, o.memory_cycles - o.compute_cycles) for o in ops)
    kernels = "; ".join(trace.notes) or "kernels: unknown"
    stand_in = "" if core.llvm_cpu == core.name else f" (LLVM 16's stand-in for the {core.name})"
    method = METHOD.format(kernels=kernels, qemu_cpu=trace.plugin.split("qemu -cpu ")[-1], cpu=core.llvm_cpu,
                           stand_in=stand_in, l2=core.l2_kib,
                           l2bw=core.l2_bytes_per_cycle, dram=core.dram_gb_s, mhz=mhz)
    return Estimate(model.name, core.name, isa, mhz, method, ins, cyc, excess, ops,
                    undecoded_pct=100.0 * dropped / ins if ins else 0.0,
                    thumb_pct=100.0 * thumb / ins if ins else 0.0, runtime=trace.runtime,
                    seconds={"trace": round(t1 - t0, 1), "cost": round(t2 - t1, 1)}, other_models=other)


def segment_cost(trace: Trace, k: int, costs: dict, modes: dict) -> tuple[float, float, float, float]:
    """Segment ``k`` of ``trace`` under ``cost_trace``'s costs: (instructions, cycles,
    instructions llvm-mca could not cost, instructions decoded as Thumb)."""
    ins = cyc = dropped = thumb = 0.0
    for b, n in trace.segments[k].items():
        block = trace.blocks[b]
        c, d = costs[block.key]
        ins += n * len(block.sizes)
        cyc += n * c
        dropped += n * d
        if modes[block.key] == "thumb":
            thumb += n * len(block.sizes)
    return ins, cyc, dropped, thumb


def cost_trace(trace: Trace, core: Core, progress: Progress = silent, llvm_cpu: str | None = None):
    """(block key -> (cycles, undecoded instructions), block key -> mode) for every block run in a segment."""
    used = {b for seg in trace.segments for b in seg}
    blocks = {trace.blocks[b].key: trace.blocks[b] for b in used}
    modes = {k: decode.mode_of(b, trace.isa) for k, b in blocks.items()}
    texts = decode.disassemble(blocks, modes)
    return mca.block_cycles(texts, modes, llvm_cpu or core.llvm_cpu, progress), modes
