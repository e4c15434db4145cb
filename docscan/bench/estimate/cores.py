"""The named ARM cores docscan can estimate, and what each needs.

``llvm_cpu``: the llvm-mca CPU whose scheduling model costs the blocks. What LLVM 16 really
has (checked: identical cycles on the same blocks): Cortex-A53 and Cortex-A55 models of
their own (AArch64 only); one Cortex-A57 model that -mcpu=cortex-a57, cortex-a72,
cortex-a76 and neoverse-n1 all map to (the A57/A72 exist in the ARM (A32/T32) back end
too); and a Neoverse N2 model (also -mcpu=cortex-a710). Stand-ins, for stated reasons:

* Cortex-A72: the A57 model (the A72 is the A57's pipeline, with shorter FP latencies).
* Cortex-A76: the Neoverse N2 model, not LLVM 16's A76 = A57 mapping. The A76 issues two
  128-bit FMLA/SDOT per cycle (V0 and V1, FMLA latency 4, ARM's A76 optimisation guide);
  the A57 model issues one Q-form FMLA per cycle, so it doubles the A76's cycles on
  MobileNet's GEMM kernels. The N2 model has the A76's two 128-bit V pipes (checked
  with llvm-mca: FMLA q 2/cycle, latency 4; SDOT 2/cycle); its front end is wider than the
  A76's, which matters little for these NEON-bound loops. (LLVM 17 added an N1 model.)
* Cortex-A53: the A55 model. LLVM's A53 model predates llvm-mca's in-order mode and sets
  no ``RetireOOO``, so llvm-mca retires every write in program order: each load behind a
  10-cycle FMLA waits for it. The A53 does not do that (its NEON pipe writes back out of
  order with the load pipe; XNNPACK's A53 kernels interleave 64-bit loads between FMLAs
  on that basis): under the A53 model, XNNPACK's A53-tuned f32 GEMM costs 2.4x its
  generic one (MobileNet v2: 593 vs 246 Mcycles), the opposite of why XNNPACK picks it
  there. The A55 (the A53's in-order, dual-issue successor) model marks FP/NEON and stores
  RetireOOO and costs the same trace 242 Mcycles (it too ranks the generic kernel faster,
  115 Mcycles: neither model has the A53's 64-bit load path, which is why XNNPACK's A53
  kernels avoid 128-bit loads). Its NEON is more generous than the
  A53's (FMLA q 2/cycle vs the A53's 1), so an A53 estimate leans fast where FMLA issue
  bounds a loop.

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
    midr: tuple[int, int, int, int] = (0x41, 0, 0, 0)   # implementer, variant, part, revision

    def cpuinfo(self, isa: str, processors: int | None = None) -> str:
        """The /proc/cpuinfo a Linux kernel (arm64) shows a process of ``isa`` on this core.

        cpuinfo (XNNPACK's and ruy's CPU detection) names the microarchitecture from the
        MIDR fields here and so picks the kernels this core runs on a phone or board; the
        feature list matches the core (dot product only on the A55 r1+ and A76).
        """
        impl, var, part, rev = self.midr
        dot = part in (0xD05, 0xD0B) and not (part == 0xD05 and var < 1)
        if isa == "aarch64":
            feats = "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"
            if dot:
                feats += " atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp"
            model = ""
        else:   # a 32-bit process on an arm64 kernel (compat): what armeabi-v7a code sees on a phone
            feats = "half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt lpae evtstrm aes pmull sha1 sha2 crc32"
            model = f"model name\t: ARMv8 Processor rev {rev} (v8l)\n"
        n = processors or _possible_cpus()
        one = (f"{model}BogoMIPS\t: 108.00\nFeatures\t: {feats}\nCPU implementer\t: 0x{impl:02x}\n"
               f"CPU architecture: 8\nCPU variant\t: 0x{var:x}\nCPU part\t: 0x{part:03x}\nCPU revision\t: {rev}\n\n")
        return "".join(f"processor\t: {i}\n{one}" for i in range(n))


def _possible_cpus() -> int:
    """How many CPUs the guest will see in sysfs (qemu-user passes the host's through)."""
    try:
        text = open("/sys/devices/system/cpu/possible").read().strip()
        return max(int(part.split("-")[-1]) for part in text.split(",")) + 1
    except (OSError, ValueError):
        import os
        return os.cpu_count() or 1


CORES = {c.name: c for c in (
    Core("cortex-a53", "cortex-a55", ("aarch64",), {"aarch64": "cortex-a53"}, 1400, 512, 8.0, 2.5,
         "Raspberry Pi 3B+ (BCM2837B0, 1.4 GHz, 512 KiB L2, LPDDR2)", (0x41, 0x0, 0xD03, 4)),
    Core("cortex-a55", "cortex-a55", ("aarch64",), {"aarch64": "cortex-a76"}, 1800, 256, 8.0, 5.0,
         "a phone's little core (1.8 GHz, 256 KiB L3 share, LPDDR4)", (0x41, 0x1, 0xD05, 0)),
    Core("cortex-a57", "cortex-a57", ("armv7", "aarch64"), {"armv7": "max", "aarch64": "cortex-a57"}, 1900, 2048,
         16.0, 6.0, "Snapdragon 810 / Tegra X1 class (1.9 GHz, 2 MiB L2, LPDDR4)", (0x41, 0x1, 0xD07, 1)),
    Core("cortex-a72", "cortex-a72", ("armv7", "aarch64"), {"armv7": "max", "aarch64": "cortex-a72"}, 1500, 1024,
         16.0, 4.0, "Raspberry Pi 4 (BCM2711, 1.5 GHz, 1 MiB L2, LPDDR4-3200)", (0x41, 0x0, 0xD08, 3)),
    Core("cortex-a76", "neoverse-n2", ("aarch64",), {"aarch64": "cortex-a76"}, 2400, 512, 32.0, 10.0,
         "Raspberry Pi 5 (BCM2712, 2.4 GHz, 512 KiB L2, LPDDR4X-4267)", (0x41, 0x4, 0xD0B, 1)),
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
