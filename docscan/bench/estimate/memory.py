"""What memory adds to llvm-mca's all-loads-hit-L1 cycles: a per-op roofline.

An op must at least stream its inputs, weights and outputs once. Where they fit in the
core's L2 (``Core.l2_kib``) they come from L2 at ``l2_bytes_per_cycle``; where they do not,
from DRAM at ``dram_gb_s``. The op then takes ``max(compute, memory)`` cycles: the memory
excess, ``max(0, memory - compute)``, is what this adds to an op's and the model's
cycles. It knows nothing of cache conflicts or re-reads a kernel's tiling causes, so it
is a floor on memory time, not a simulation.
"""

from __future__ import annotations

import numpy as np

from docscan.bench.estimate.cores import Core

# TensorType -> bytes per element (FLOAT32 0, FLOAT16 1, INT32 2, UINT8 3, INT64 4, STRING 5, BOOL 6,
# INT16 7, COMPLEX64 8, INT8 9, FLOAT64 10, COMPLEX128 11, UINT64 12, RESOURCE 13, VARIANT 14,
# UINT32 15, UINT16 16, INT4 17 (counted as a byte)).
_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 5: 0, 6: 1, 7: 2, 8: 8, 9: 1, 10: 8, 11: 16, 12: 8, 13: 0, 14: 0,
          15: 4, 16: 2, 17: 1}


def op_bytes(one_op: bytes) -> int:
    """Bytes an op reads and writes once: every tensor of its one-op model."""
    from docscan.bench.perop import load_model

    model = load_model(one_op, "one-op model")
    sub = model.subgraphs[0]
    total = 0
    for t in sub.tensors or []:
        shape = t.shape if t.shape is not None else []
        total += int(np.prod([max(int(d), 1) for d in shape])) * _BYTES.get(int(t.type), 4)
    return total


def memory_cycles(nbytes: int, core: Core, clock_mhz: float) -> tuple[float, str]:
    """Cycles to stream ``nbytes`` once, and from where ('L2' or 'DRAM')."""
    if nbytes <= core.l2_kib * 1024:
        return nbytes / core.l2_bytes_per_cycle, "L2"
    bytes_per_cycle = core.dram_gb_s * 1e9 / (clock_mhz * 1e6)
    return nbytes / bytes_per_cycle, "DRAM"
