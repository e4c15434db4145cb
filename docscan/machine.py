"""What machine a measurement ran on, for every report that quotes a time (the one home
of the machine description: reports call ``describe_host`` or embed ``host_facts``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The x86 features that decide which kernels XNNPACK and oneDNN pick (and so int8 speed).
SPEED_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni",
               "avx_vnni", "amx_int8")
# Under valgrind only these reach the guest (AVX-512 is hidden); instruction counts compare
# only between CPUs offering the same ones.
VALGRIND_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c")


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def host_cpu() -> str:
    """The CPU model name (from /proc/cpuinfo), else what platform knows."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def host_cpu_flags(among: tuple[str, ...] = SPEED_FLAGS) -> list[str]:
    """Which of ``among`` this CPU has, in that order ([] where /proc/cpuinfo says nothing)."""
    flags = set((_cpuinfo_field("flags") or "").split())
    return [f for f in among if f in flags]


def host_facts() -> dict:
    """The machine as data: CPU, cores, architecture, speed-relevant flags, Python."""
    return {"cpu": host_cpu(), "cores": os.cpu_count(), "arch": platform.machine(),
            "flags": host_cpu_flags(), "python": platform.python_version()}


def describe_host() -> str:
    """One line: 'AMD EPYC ... (x86_64, 2 cores, flags avx2 fma ...)'."""
    f = host_facts()
    flags = " ".join(f["flags"]) or "none known"
    return f"{f['cpu']} ({f['arch']}, {f['cores']} cores, flags {flags})"
