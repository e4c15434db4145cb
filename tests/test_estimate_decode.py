"""Modelled cores without emulation: block modes, llvm-mc decoding, llvm-mca costing and its
cache, the plugin's output format, and the one-line errors for what has no model or is missing."""

from __future__ import annotations

import shutil

import pytest

from docscan.bench.devices import parse_device
from docscan.bench.estimate import decode, mca
from docscan.bench.estimate.cores import CORES, check_isa, get_core
from docscan.bench.estimate.trace import Block, parse_blocks
from docscan.errors import DocscanError

HAVE_LLVM = shutil.which("llvm-mca-16") is not None and shutil.which("llvm-mc-16") is not None
needs_llvm = pytest.mark.skipif(not HAVE_LLVM, reason="llvm-16 not installed (bash scripts/system-deps.sh)")

# ARM (A32): mov r0, r0 ; add r0, r0, r1 ; bx lr
ARM = bytes.fromhex("0000a0e1010080e01eff2fe1")
ARM_SIZES = (4, 4, 4)
# Thumb-2: mov.w r0, #0 ; it eq ; moveq r0, #1 ; bx lr
THUMB = bytes.fromhex("4ff0000008bf01207047")
THUMB_SIZES = (4, 2, 2, 2)
# Thumb-2, 32-bit instructions only: mov.w r0, #0 ; ldr.w r0, [r1, #4]
THUMB32 = bytes.fromhex("4ff00000d1f80400")
# A64: fmla v0.4s, v1.4s, v2.4s ; ldr q1, [x0], #16 ; subs x3, x3, #1 ; b.ne #-12
A64 = bytes.fromhex("20cc224e0104c13c630400f1a1ffff54")


def test_mode_of_tells_thumb_from_arm():
    assert decode.mode_of(Block(0, THUMB_SIZES, THUMB), "armv7") == "thumb"
    assert decode.mode_of(Block(0, (4, 4), THUMB32), "armv7") == "thumb"
    assert decode.mode_of(Block(0, ARM_SIZES, ARM), "armv7") == "arm"
    assert decode.mode_of(Block(0, (4,) * 4, A64), "aarch64") == "a64"


@needs_llvm
def test_disassemble_each_block_in_its_mode_and_place_each_instruction():
    blocks = {"arm": Block(0, ARM_SIZES, ARM), "thumb": Block(0, THUMB_SIZES, THUMB),
              "t32": Block(0, (4, 4), THUMB32)}
    modes = {k: decode.mode_of(b, "armv7") for k, b in blocks.items()}
    texts = decode.disassemble(blocks, modes)
    assert texts["arm"] == ["mov r0, r0", "add r0, r0, r1", "bx lr"]
    assert texts["thumb"] == ["mov.w r0, #0", "it eq", "moveq r0, #1", "bx lr"]
    assert texts["t32"][1].startswith("ldr")
    # The same ARM bytes decoded as Thumb are something else entirely: the mode matters.
    wrong = decode.disassemble({"x": blocks["arm"]}, {"x": "thumb"})["x"]
    assert wrong != texts["arm"]


@needs_llvm
def test_an_undecodable_instruction_costs_only_itself():
    code = ARM[:4] + bytes.fromhex("ffffffff") + ARM[4:]
    texts = decode.disassemble({"b": Block(0, (4, 4, 4, 4), code)}, {"b": "arm"})["b"]
    assert texts[0] == "mov r0, r0" and texts[1] is None and texts[2:] == ["add r0, r0, r1", "bx lr"]


def test_calls_are_costed_as_branches():
    assert mca.sanitize("bl #-100", "a64") == "b #-100"
    assert mca.sanitize("blr x3", "a64") == "br x3"
    assert mca.sanitize("blx r3", "arm") == "bx r3"
    assert mca.sanitize("blne #8", "arm") == "bne #8"
    assert mca.sanitize("bls #8", "arm") == "bls #8"        # branch if lower or same: not a call
    assert mca.sanitize("b.ls #4", "a64") == "b.ls #4"


@needs_llvm
def test_block_cycles_are_deterministic_cached_and_core_specific(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCSCAN_CACHE", str(tmp_path))
    blocks = {"loop": Block(0, (4,) * 4, A64)}
    texts = decode.disassemble(blocks, {"loop": "a64"})
    assert None not in texts["loop"]
    first = mca.block_cycles(texts, {"loop": "a64"}, "cortex-a53")
    assert mca.cache_path().is_file() and str(tmp_path) in str(mca.cache_path())
    again = mca.block_cycles(texts, {"loop": "a64"}, "cortex-a53")
    assert first == again and first["loop"][0] > 0 and first["loop"][1] == 0
    a76 = mca.block_cycles(texts, {"loop": "a64"}, "cortex-a76")
    assert a76["loop"][0] != first["loop"][0]          # a different core's model


@needs_llvm
def test_a_line_llvm_mca_cannot_read_is_dropped_and_counted(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCSCAN_CACHE", str(tmp_path))
    # A predicated Thumb instruction whose IT was in another block cannot be assembled alone.
    texts = {"split": ["moveq r0, #1", "adds r0, #1", "bx lr"], "ok": ["adds r0, #1"]}
    modes = {"split": "thumb", "ok": "thumb"}
    costs = mca.block_cycles(texts, modes, "cortex-a72")
    assert costs["split"][1] == 1 and costs["split"][0] > 0 and costs["ok"][1] == 0


def test_parse_blocks_reads_segments():
    text = ("D 0 1000 44 0000a0e1010080e0 -\nC 0 5\nM 1\n"
            "D 1 2000 2 7047 main\nC 0 3\nC 1 2\nM 2\nM 0\n")
    blocks, segments = parse_blocks(text)
    assert blocks[0] == Block(0x1000, (4, 4), bytes.fromhex("0000a0e1010080e0"), "")
    assert blocks[1].symbol == "main" and blocks[1].sizes == (2,)
    assert segments == {1: {0: 5}, 2: {0: 3, 1: 2}, 0: {}}
    with pytest.raises(DocscanError, match="malformed"):
        parse_blocks("C zero 1\n")


def test_cores_and_isas_without_a_model_are_one_line_errors():
    assert set(CORES) >= {"cortex-a53", "cortex-a55", "cortex-a72", "cortex-a76"}
    with pytest.raises(DocscanError, match="cortex-a99: no model"):
        get_core("cortex-a99")
    with pytest.raises(DocscanError, match="no cortex-a53 scheduling model for armv7"):
        check_isa(get_core("a53"), "armv7")
    with pytest.raises(DocscanError, match="no cortex-a53 scheduling model for armv7"):
        parse_device("core:cortex-a53/armv7")
    with pytest.raises(DocscanError, match="core:CORE/ISA"):
        parse_device("core:cortex-a72")
    with pytest.raises(DocscanError, match="MHz"):
        parse_device("core:a72/aarch64@fast")


def test_core_specs_parse_with_default_and_given_clocks():
    dev = parse_device("core:a72/arm64")
    assert (dev.spec, dev.kind, dev.isa, dev.clock_mhz) == ("core:cortex-a72/aarch64@1500", "estimated", "aarch64", 1500)
    dev = parse_device("core:cortex-a72/armv7@1800")
    assert dev.spec == "core:cortex-a72/armv7@1800" and "ESTIMATED" in dev.describe() and "1800 MHz" in dev.describe()


def test_missing_llvm_says_what_to_install(monkeypatch):
    monkeypatch.setattr(decode.shutil, "which", lambda name: None)
    with pytest.raises(DocscanError, match=r"llvm-mca-16: not installed.*apt-get install llvm-16"):
        decode.tool("llvm-mca")


def test_guest_cpuinfo_names_the_core(tmp_path):
    """The /proc/cpuinfo given to the guest: the core's MIDR (which cpuinfo turns into the
    microarchitecture XNNPACK picks kernels by), dot product only where the core has it."""
    from docscan.bench.estimate.trace import cpuinfo_midr, overlay_root

    a53, a76 = get_core("a53").cpuinfo("aarch64", 2), get_core("a76").cpuinfo("aarch64", 2)
    assert cpuinfo_midr(a53) == "MIDR 0x410fd034" and cpuinfo_midr(a76) == "MIDR 0x414fd0b1"
    assert a53.count("processor\t:") == 2 and "asimddp" not in a53 and "asimddp" in a76
    assert "asimddp" in get_core("a55").cpuinfo("aarch64", 1)
    v7 = get_core("a72").cpuinfo("armv7", 1)
    assert "neon" in v7 and "CPU part\t: 0xd08" in v7 and "(v8l)" in v7
    root = tmp_path / "rootfs"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "proc").mkdir()
    prefix = overlay_root(root, tmp_path / "overlay", a53)
    assert (prefix / "usr" / "bin").is_dir() and (prefix / "proc" / "cpuinfo").read_text() == a53
    assert not (root / "proc" / "cpuinfo").exists()          # the shared rootfs is left alone


def test_stand_in_models_are_named():
    """A53 and A76 are costed by other LLVM models, for reasons cores.py states."""
    assert get_core("a53").llvm_cpu == "cortex-a55" and get_core("a76").llvm_cpu == "neoverse-n2"
    assert get_core("a72").llvm_cpu == "cortex-a72" and get_core("a55").llvm_cpu == "cortex-a55"


def test_post_indexed_vector_loads_split_for_out_of_order_models():
    """LLVM 16's A57 and N2 models give a post-indexed vector load's base write-back the load's
    latency; the cores update the base in a 1-cycle micro-op, so such loads are costed split."""
    assert mca.split_writeback("ldr q4, [x5], #16") == ["ldr q4, [x5]", "add x5, x5, #16"]
    assert mca.split_writeback("ld1 { v0.16b }, [x5], x6") == ["ld1 { v0.16b }, [x5]", "add x5, x5, x6"]
    assert mca.split_writeback("ldr d0, [x3], #-8") == ["ldr d0, [x3]", "sub x3, x3, #8"]
    assert mca.split_writeback("ldr q1, [x2, #32]!") == ["add x2, x2, #32", "ldr q1, [x2]"]
    for same in ("ldr x8, [x9], #8", "ldr q0, [x1]", "st1 { v0.16b }, [x5], #16"):
        assert mca.split_writeback(same) == [same]


@needs_llvm
def test_a_weight_stream_is_not_serialised_on_its_pointer(tmp_path, monkeypatch):
    monkeypatch.setattr(mca, "cache_path", lambda: tmp_path / "mca.sqlite")
    loop = ["ldr q4, [x5], #16", "ldr q5, [x5], #16", "ldp q6, q7, [x5], #32",
            "fmla v16.4s, v4.4s, v0.s[0]", "fmla v17.4s, v5.4s, v0.s[1]", "fmla v18.4s, v6.4s, v0.s[2]",
            "fmla v19.4s, v7.4s, v0.s[3]", "subs x0, x0, #1", "b.ne #-32"]
    cycles = mca.block_cycles({"k": loop}, {"k": "a64"}, "neoverse-n2")["k"][0]
    assert cycles < 8, cycles          # 3 loads on 2 load pipes, 4 FMLA on 2 V pipes: ~2-4 cycles, not 3 x 6
