"""Cycles per block from llvm-mca's scheduling model of a core, cached.

Each block becomes one llvm-mca code region, simulated for ``ITERATIONS`` back-to-back
runs; its cost is total cycles / iterations: the steady state of a block that runs in a
loop (nearly all executions of an inference's blocks do), with every load an L1 hit
(``memory.py`` adds the rest). Calls become plain branches (llvm-mca would charge a call
100 cycles); a line llvm-mca cannot assemble (a predicated Thumb instruction whose IT is
in the previous block; llvm-mca 16 reports it and carries on), or one the core's model has
no data for (LSE atomics on the A76), is dropped and counted.

The cache (SQLite, under the docscan cache folder) keys on the block's bytes and sizes,
its mode, the llvm-mca CPU and LLVM's version: the cost of a block is a pure function of
those, so a re-run costs nothing and returns the same numbers.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from docscan.bench.estimate.decode import LLVM, TRIPLES, tool
from docscan.errors import DocscanError
from docscan.paths import cache_dir
from docscan.progress import Progress, silent

ITERATIONS = 100
COST_VERSION = 2       # 2: post/pre-indexed vector loads split for the out-of-order models
BATCH = 400            # regions per llvm-mca process
_CALL = re.compile(r"^(blx|blr|bl)(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?(\.w)?\s")
_REGION = re.compile(r"^\[\d+\] Code Region - r(\d+)")
_ERR = re.compile(r"^<stdin>:(\d+):\d+: error")


def cache_path() -> Path:
    folder = cache_dir("estimate")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"mca-llvm{LLVM}-v{COST_VERSION}.sqlite"


# LLVM 16's out-of-order AArch64 models give the base-register write-back of a post/pre-
# indexed vector load the load's latency (the InstRW lists the load's write first; fixed
# after LLVM 16: D159254, llvm-project #68518 and #106376 for the N2). The cores update the
# base in a separate 1-cycle integer micro-op (ARM's optimisation guides: "4(1)"), so a
# kernel streaming weights through [x5], #16 is not serialised on x5. For those models such
# a load is costed as the load plus an add of the base; in-order models (A53/A55) keep it.
SPLIT_WRITEBACK = {"cortex-a57", "cortex-a72", "cortex-a76", "neoverse-n1", "neoverse-n2", "cortex-a710"}
_VREG = r"(?:[qdshb]\d+|\{[^}]*\})"
_POST = re.compile(r"^(ld[1-4]r?|ldr|ldp|ldnp)\s+(" + _VREG + r"(?:, " + _VREG + r")?), \[(x\d+|sp)\], (#-?\d+|x\d+)$")
_PRE = re.compile(r"^(ldr|ldp)\s+(" + _VREG + r"(?:, " + _VREG + r")?), \[(x\d+|sp), (#-?\d+)\]!$")


def _base_update(base: str, inc: str) -> str:
    if inc.startswith("#-"):
        return f"sub {base}, {base}, #{inc[2:]}"
    return f"add {base}, {base}, {inc}"


def split_writeback(asm: str) -> list[str]:
    """A post/pre-indexed A64 vector load as the load and its base update (see SPLIT_WRITEBACK)."""
    m = _POST.match(asm)
    if m:
        op, regs, base, inc = m.groups()
        return [f"{op} {regs}, [{base}]", _base_update(base, inc)]
    m = _PRE.match(asm)
    if m:
        op, regs, base, inc = m.groups()
        return [_base_update(base, inc), f"{op} {regs}, [{base}]"]
    return [asm]


def sanitize(asm: str, mode: str) -> str:
    """One instruction as llvm-mca should cost it (calls as branches)."""
    m = _CALL.match(asm + " ")
    if not m:
        return asm
    target = asm[m.end():].strip()
    cond = m.group(2) or ""
    if m.group(1) == "blr":
        return f"br {target}"
    if m.group(1) == "blx" and not target.startswith("#"):
        return f"bx{cond} {target}"
    return f"b{cond} {target}"


def block_cycles(texts: dict[str, list[str | None]], modes: dict[str, str], cpu: str,
                 progress: Progress = silent) -> dict[str, tuple[float, int]]:
    """Per block key: (cycles per execution, instructions left out)."""
    with closing(sqlite3.connect(cache_path(), timeout=60)) as db:
        db.execute("CREATE TABLE IF NOT EXISTS cost (key TEXT, mode TEXT, cpu TEXT, iterations INTEGER, "
                   "cycles REAL, dropped INTEGER, PRIMARY KEY (key, mode, cpu, iterations))")
        known: dict[str, tuple[float, int]] = {}
        keys = list(texts)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            rows = db.execute(f"SELECT key, mode, cycles, dropped FROM cost WHERE cpu=? AND iterations=? AND key IN "
                              f"({','.join('?' * len(chunk))})", [cpu, ITERATIONS, *chunk]).fetchall()
            known.update({k: (c, d) for k, m, c, d in rows if modes[k] == m})
        todo = [k for k in keys if k not in known]
        for mode in sorted({modes[k] for k in todo}):
            mine = [k for k in todo if modes[k] == mode]
            for start in range(0, len(mine), BATCH):
                progress(f"llvm-mca {cpu}: {mode} blocks", start, len(mine))
                batch = mine[start:start + BATCH]
                fresh = _run_batch([(k, texts[k]) for k in batch], mode, cpu)
                db.executemany("INSERT OR REPLACE INTO cost VALUES (?, ?, ?, ?, ?, ?)",
                               [(k, mode, cpu, ITERATIONS, c, d) for k, (c, d) in fresh.items()])
                db.commit()
                known.update(fresh)
    return known


def _run_batch(items: list[tuple[str, list[str | None]]], mode: str, cpu: str) -> dict[str, tuple[float, int]]:
    lines: list[str] = []
    owner: dict[int, int] = {}          # source line (1-based) -> item
    dropped = [sum(t is None for t in texts) for _, texts in items]
    bodies = [[sanitize(t, mode) for t in texts if t is not None] for _, texts in items]
    if mode == "a64" and cpu in SPLIT_WRITEBACK:
        bodies = [[part for ins in body for part in split_writeback(ins)] for body in bodies]
    for _attempt in range(50):
        lines, owner = [], {}
        regions = []
        for j, body in enumerate(bodies):
            if not body:
                continue
            regions.append(j)
            lines.append(f"# LLVM-MCA-BEGIN r{j}")
            for ins in body:
                lines.append("\t" + ins)
                owner[len(lines)] = j
            lines.append("# LLVM-MCA-END")
        if not regions:
            return {k: (0.0, dropped[j]) for j, (k, _) in enumerate(items)}
        proc = subprocess.run([tool("llvm-mca"), f"-mtriple={TRIPLES[mode]}", f"-mcpu={cpu}",
                               f"-iterations={ITERATIONS}", "-summary-view", "-instruction-info=0",
                               "-resource-pressure=0", "-"], input="\n".join(lines) + "\n",
                              capture_output=True, text=True)
        bad = sorted({int(m.group(1)) for m in map(_ERR.match, proc.stderr.splitlines()) if m}, reverse=True)
        if proc.returncode == 0 and not bad:
            return _parse(proc.stdout, items, dropped)
        unsupported = re.search(r"unsupported instruction.*\n.*instruction:\s*(.+)", proc.stderr)
        if unsupported and not bad:   # no scheduling data for it (e.g. LSE atomics on some models)
            gone = " ".join(unsupported.group(1).split())
            for j, body in enumerate(bodies):
                keep = [ins for ins in body if " ".join(ins.split()) != gone]
                dropped[j] += len(body) - len(keep)
                bodies[j] = keep
            continue
        if not bad:
            raise DocscanError(f"llvm-mca-{LLVM} -mcpu={cpu} ({mode}): failed: {proc.stderr.strip()[:200]}")
        for ln in bad:              # drop the lines it could not assemble, and retry
            j = owner.get(ln)
            if j is None:
                raise DocscanError(f"llvm-mca-{LLVM} -mcpu={cpu}: cannot read its own input at line {ln}")
            pos = sum(1 for x in range(1, ln) if owner.get(x) == j)
            del bodies[j][pos]
            dropped[j] += 1
    raise DocscanError(f"llvm-mca-{LLVM} -mcpu={cpu} ({mode}): too many unreadable instructions in one batch")


def _parse(out: str, items, dropped) -> dict[str, tuple[float, int]]:
    cycles: dict[int, float] = {}
    current = None
    iterations = ITERATIONS
    for line in out.splitlines():
        m = _REGION.match(line)
        if m:
            current = int(m.group(1))
        elif line.startswith("Iterations:"):
            iterations = int(line.split()[1])
        elif line.startswith("Total Cycles:") and current is not None:
            cycles[current] = float(line.split()[2]) / iterations
    return {k: (cycles.get(j, 0.0), dropped[j]) for j, (k, _) in enumerate(items)}
