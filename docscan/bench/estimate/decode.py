"""Block bytes -> assembly text, with llvm-mc, in the mode the block was run in.

aarch64 blocks are A64. armv7 code is a mix: Debian's armhf compiler emits Thumb-2, while
hand-written kernels (XNNPACK's aarch32 assembly) are ARM. qemu 7.2's plugin API does not
say which mode a block ran in, but the instruction sizes it reports do:

* a block with any 2-byte instruction is Thumb;
* in Thumb every 4-byte instruction's first halfword starts 0b11101/0b11110/0b11111; a
  block of 4-byte instructions that all do is Thumb, any that does not makes it ARM (an
  ARM instruction's low halfword is that by chance 3 times in 32, so only one-instruction
  blocks are ever in doubt, and then the mode that decodes them wins).

Disassembly runs one llvm-mc per mode over all blocks with ``--show-encoding``; each
printed instruction is placed by its bytes, so an undecodable instruction costs only
itself (it is left out of the block's text and counted).
"""

from __future__ import annotations

import re
import shutil
import subprocess

from docscan.bench.estimate.trace import Block
from docscan.errors import DocscanError

LLVM = "16"
TRIPLES = {"a64": "aarch64-linux-gnu", "arm": "armv8a-linux-gnueabihf", "thumb": "thumbv8a-linux-gnueabihf"}
# Decode everything any of the cores could run; the core's own model costs it.
MATTR = {"a64": "+v8.2a,+dotprod,+fullfp16,+i8mm,+rcpc,+crc,+aes,+sha2",
         "arm": "+neon,+vfp4,+dotprod,+fullfp16,+crc,+aes,+sha2",
         "thumb": "+neon,+vfp4,+dotprod,+fullfp16,+crc,+aes,+sha2"}
_ENC = re.compile(r"^\s*(.*?)\s*(?:@|//)\s*encoding:\s*\[([^\]]*)\]")


def tool(name: str) -> str:
    """``llvm-mc-16`` / ``llvm-mca-16`` (or an unversioned one of version 16)."""
    exe = shutil.which(f"{name}-{LLVM}") or shutil.which(f"/usr/lib/llvm-{LLVM}/bin/{name}")
    if exe is None:
        raise DocscanError(f"{name}-{LLVM}: not installed; modelled cores need LLVM {LLVM}'s {name} "
                           f"(apt-get install llvm-{LLVM}, or scripts/system-deps.sh)")
    return exe


def is_thumb32_prefix(halfword: int) -> bool:
    return (halfword >> 11) in (0b11101, 0b11110, 0b11111)


def mode_of(block: Block, isa: str) -> str:
    """'a64', 'arm' or 'thumb' (see the module's docstring)."""
    if isa == "aarch64":
        return "a64"
    if 2 in block.sizes:
        return "thumb"
    off = 0
    for size in block.sizes:
        if size != 4 or not is_thumb32_prefix(block.code[off] | (block.code[off + 1] << 8)):
            return "arm"
        off += size
    return "thumb"


def disassemble(blocks: dict[str, Block], modes: dict[str, str]) -> dict[str, list[str | None]]:
    """Per block key: one text per instruction (None where llvm-mc cannot decode it)."""
    out: dict[str, list[str | None]] = {}
    for mode in sorted(set(modes.values())):
        keys = [k for k in blocks if modes[k] == mode]
        out.update(_disassemble_mode([(k, blocks[k]) for k in keys], mode))
    return out


def _disassemble_mode(items: list[tuple[str, Block]], mode: str) -> dict[str, list[str | None]]:
    if not items:
        return {}
    stream = b"".join(b.code for _, b in items)
    text = "\n".join(" ".join(f"0x{x:02x}" for x in b.code) for _, b in items) + "\n"
    proc = subprocess.run([tool("llvm-mc"), "--disassemble", "--show-encoding", f"-triple={TRIPLES[mode]}",
                           f"-mattr={MATTR[mode]}"], input=text, capture_output=True, text=True)
    if proc.returncode != 0 and not proc.stdout:
        raise DocscanError(f"llvm-mc-{LLVM} --disassemble ({mode}): failed: {proc.stderr.strip()[:200]}")
    at: dict[int, tuple[int, str]] = {}      # stream offset -> (size, text)
    pos = 0
    for line in proc.stdout.splitlines():
        m = _ENC.match(line)
        if not m:
            continue
        enc = bytes(int(x, 16) for x in m.group(2).split(","))
        # The instruction is the next occurrence of its bytes at or after ``pos``: skipped
        # (undecodable) bytes are few, so look a little ahead only.
        found = stream.find(enc, pos, pos + len(enc) + 64)
        if found < 0:
            continue
        at[found] = (len(enc), _clean(m.group(1)))
        pos = found + len(enc)
    result: dict[str, list[str | None]] = {}
    off = 0
    for key, block in items:
        texts: list[str | None] = []
        for size in block.sizes:
            hit = at.get(off)
            texts.append(hit[1] if hit and hit[0] == size else None)
            off += size
        result[key] = texts
    return result


def _clean(asm: str) -> str:
    return re.sub(r"\s+", " ", asm.strip())
