"""The quad finder's per-frame arithmetic in C (``quad_native.c``), for speed only.

numpy's per-call overhead, not its arithmetic, is most of what post-processing a preview
frame costs: the refinement's side fits are some sixty numpy calls on arrays of a few
hundred numbers. The C functions do the same steps in the same precision, so both paths
give the same corners (``tests/test_fast_paths.py`` compares them).

The library is compiled on first use with the C compiler found on PATH (``cc`` or ``gcc``)
into docscan's cache, named by a hash of the source, flags and machine, so an edited source
or another CPU architecture gets its own build (``build`` also cross-compiles: the emulated
ARM devices load one built by Debian's cross GCC, ``bench.pipeline_stages``). Where there
is no compiler, the build fails, or ``DOCSCAN_NATIVE=0`` is set, ``library()`` is None and
callers keep the numpy path; ``status()`` says which path runs, for benchmark reports.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from docscan.paths import cache_dir

SOURCE = Path(__file__).with_name("quad_native.c")
# -ffp-contract=off: no fused multiply-adds that numpy would not make
CFLAGS = ("-O2", "-std=c99", "-D_DEFAULT_SOURCE", "-fPIC", "-shared", "-ffp-contract=off")

_d, _i64, _p = ctypes.c_double, ctypes.c_int64, ctypes.c_void_p


class CandidateParams(ctypes.Structure):
    """quad_native.c's CandidateParams: the QuadParams ``quad_candidates`` reads."""
    _fields_ = [(name, ctypes.c_double) for name in (
        "border_support", "region_line_support", "min_side_cover", "unsupported_penalty", "ratio_power",
        "max_outside", "min_area", "sin_min_angle", "cos_min_angle")]


_SIGNATURES = {
    "refine_fit_sides": (ctypes.c_int, [_p, _i64, _i64, _p, _p, _d, _p, _p, _p, _p, _p, _p, _p, _p]),
    "refine_sample_grid": (None, [_p, _p, _p, _p, _p, _p, _i64, _i64, _d, _d, _p, _p, _p, _p, _p, _p, _p]),
    "segments_to_lines": (_i64, [_p, _i64, _d, _d, _d, _i64, _i64, _p]),
    "edge_refit_grid": (None, [_p, _p, _p, _i64, _i64, _p, _p, _p, _p, _p, _p]),
    "edge_refit_fit": (None, [_p, _p, _p, _i64, _i64, _d, _p, _i64, _i64, _p, _p, _p, _p, _d, _p, _p, _p]),
    "line_table": (None, [_i64, _p, _p, _p, _p, _p, _i64, _i64, _d, _d, _i64, _p, _p, _p, _p]),
    "quad_candidates": (_i64, [_i64, _p, _p, _p, _p, _p, _p, _i64, _i64, _i64, _p, _p, _i64, _i64, _i64,
                               _p, _p, _p, _p, _p]),
}


@functools.cache
def _load() -> tuple[ctypes.CDLL | None, str]:
    if os.environ.get("DOCSCAN_NATIVE", "1") == "0":
        return None, "numpy (DOCSCAN_NATIVE=0)"
    try:
        lib_path = build()
        lib = ctypes.CDLL(str(lib_path))
    except (OSError, subprocess.SubprocessError, RuntimeError) as e:
        return None, f"numpy (native build unavailable: {str(e).splitlines()[0] if str(e) else type(e).__name__})"
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib, f"native ({lib_path.name})"


def ptr(a) -> int:
    """The address of a C-contiguous numpy array's first element, for a ``void *`` argument
    (``a.ctypes.data`` costs three times as much: a dozen arrays a call add up)."""
    if not a.flags.c_contiguous:
        raise ValueError(f"native.ptr: a {a.shape} array that is not C-contiguous")
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError):      # read-only or empty: the slower way
        return a.ctypes.data


def library() -> ctypes.CDLL | None:
    """The compiled library, or None where the numpy path runs."""
    return _load()[0]


def status() -> str:
    """"native (<library file>)" or "numpy (<why>)"."""
    return _load()[1]


def build(machine: str | None = None, compiler: str | None = None) -> Path:
    """The library for ``machine`` (``platform.machine()`` names; default this one) from
    docscan's cache, compiled there first with ``compiler`` (default: ``cc`` or ``gcc`` on
    PATH; a cross compiler for another machine) when it is not there yet. RuntimeError when
    there is no compiler or the build fails."""
    machine = machine or platform.machine()
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + " ".join(CFLAGS).encode() + machine.encode()).hexdigest()[:16]
    out_dir = cache_dir("native")
    lib = out_dir / f"quad_native-{machine}-{key}.so"
    if lib.is_file():
        return lib
    compiler = compiler or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc or gcc) on PATH")
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out_dir)
    os.close(fd)
    try:
        done = subprocess.run([compiler, *CFLAGS, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True,
                              timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{compiler} {SOURCE.name}: {done.stderr.strip() or done.returncode}")
        os.replace(tmp, lib)     # whole or not at all, also with builds racing in parallel tests
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    for old in out_dir.glob(f"quad_native-{machine}-*.so"):   # builds of earlier sources
        if old != lib:
            old.unlink(missing_ok=True)
    return lib
