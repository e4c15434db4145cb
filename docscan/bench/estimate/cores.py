"""The named ARM cores docscan can estimate, and what each needs.

``llvm_cpu``: the llvm-mca CPU whose scheduling model costs the blocks. What LLVM 16 really
has (checked: identical cycles on the same blocks): Cortex-A53 and Cortex-A55 models of
their own (AArch64 only), and one Cortex-A57 model that -mcpu=cortex-a57, cortex-a72 and
(AArch64) cortex-a76 all map to; the A57/A72 exist in the ARM (A32/T32) back end too.
So an A72 or A76 estimate is the A57 pipeline at that core's clock and memory figures,
and ``isas`` lists where any model exists.

Kernel choice: qemu-user 7.2 does not emulate /proc/cpuinfo for ARM guests, and XNNPACK
(via cpuinfo) then picks no dot-product kernels even under -cpu cortex-a76 (checked: no
sdot in the shipped int8 model's trace), so A55/A76 int8 estimates run the A72's kernels.

``qemu_cpu``: the CPU qemu emulates while tracing, per ISA. Its features decide which
kernels XNNPACK picks (dot-product int8 kernels on an A55/A76, none on an A53/A72), so the
traced code is the code that core would run. qemu 7.2 has no Cortex-A55; the A76 has the
same ISA features (ARMv8.2-A with dot product and fp16). qemu-arm has no ARMv8 core in
AArch32 state; ``max`` (ARMv8 AArch32) stands in.

Clocks are the boards' usual ones (RPi 3B+ A53 1.4 GHz, RPi 4 A72 1.5 GHz, RPi 5 A76
2.4 GHz, a phone's little A55 1.8 GHz); any other is given with ``@MHz`` in the spec.
Memory figures feed ``memory.py``: L1D and L2 sizes per core as ARM's TRMs allow and the
boards ship, and sustained read bandwidths (bytes per cycle) from L2 and from DRAM.
"""

from __future__ import annotations

from dataclasses import dataclass

from docscan.errors import DocscanError


@dataclass(frozen=True)
class Core:
    name: str
    llvm_cpu: str
    isas: tuple[str, ...]
    qemu_cpu: dict[str, str]
    clock_mhz: float
    l2_kib: int
    l2_bytes_per_cycle: float      # sustained streaming from L2
    dram_gb_s: float               # sustained streaming from DRAM (one core)
    board: str                     # where the default clock and memory figures come from


CORES = {c.name: c for c in (
    Core("cortex-a53", "cortex-a53", ("aarch64",), {"aarch64": "cortex-a53"}, 1400, 512, 8.0, 2.5,
         "Raspberry Pi 3B+ (BCM2837B0, 1.4 GHz, 512 KiB L2, LPDDR2)"),
    Core("cortex-a55", "cortex-a55", ("aarch64",), {"aarch64": "cortex-a76"}, 1800, 256, 8.0, 5.0,
         "a phone's little core (1.8 GHz, 256 KiB L3 share, LPDDR4)"),
    Core("cortex-a57", "cortex-a57", ("armv7", "aarch64"), {"armv7": "max", "aarch64": "cortex-a57"}, 1900, 2048,
         16.0, 6.0, "Snapdragon 810 / Tegra X1 class (1.9 GHz, 2 MiB L2, LPDDR4)"),
    Core("cortex-a72", "cortex-a72", ("armv7", "aarch64"), {"armv7": "max", "aarch64": "cortex-a72"}, 1500, 1024,
         16.0, 4.0, "Raspberry Pi 4 (BCM2711, 1.5 GHz, 1 MiB L2, LPDDR4-3200)"),
    Core("cortex-a76", "cortex-a76", ("aarch64",), {"aarch64": "cortex-a76"}, 2400, 512, 32.0, 10.0,
         "Raspberry Pi 5 (BCM2712, 2.4 GHz, 512 KiB L2, LPDDR4X-4267)"),
)}
ISAS = ("armv7", "aarch64")
ALIASES = {"a53": "cortex-a53", "a55": "cortex-a55", "a57": "cortex-a57", "a72": "cortex-a72", "a76": "cortex-a76",
           "arm64": "aarch64", "armhf": "armv7", "arm": "armv7", "arm64-v8a": "aarch64", "armeabi-v7a": "armv7"}


def get_core(name: str) -> Core:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in CORES:
        raise DocscanError(f"core {name}: no model (known: {', '.join(CORES)})")
    return CORES[key]


def check_isa(core: Core, isa: str) -> str:
    isa = ALIASES.get(isa.lower(), isa.lower())
    if isa not in ISAS:
        raise DocscanError(f"{core.name}/{isa}: unknown ISA (use armv7 or aarch64)")
    if isa not in core.isas:
        raise DocscanError(f"{core.name}/{isa}: LLVM 16's llvm-mca has no {core.name} scheduling model for {isa} "
                           f"(it has {core.name} for {', '.join(core.isas)}; for both ISAs use cortex-a72 or cortex-a57)")
    return isa
