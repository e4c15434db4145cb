"""XNNPACK's own MobileNets on modelled cores: Debian's armhf / arm64 libXNNPACK in the
real rootfs under qemu with the block plugin, costed by llvm-mca (small inputs: a minute or two)."""

from __future__ import annotations

import shutil

import pytest

from docscan.bench.estimate.cores import get_core
from docscan.bench.estimate.xnnpack_models import estimate_xnnpack
from docscan.errors import DocscanError

pytestmark = pytest.mark.emu
NEEDS = ("qemu-arm", "qemu-aarch64", "gcc", "pkg-config", "llvm-mca-16", "llvm-mc-16", "apt-get", "dpkg-deb")
missing = [t for t in NEEDS if shutil.which(t) is None]
if missing:
    pytestmark = [pytest.mark.emu, pytest.mark.skip(reason=f"not installed: {', '.join(missing)} "
                                                           "(bash scripts/system-deps.sh)")]

V1_OPS = 1 + 2 * 13 + 2          # stem, 13 depthwise-separable pairs, pool, classifier


@pytest.fixture(scope="module")
def a72():
    core = get_core("a72")
    return {isa: estimate_xnnpack(["mobilenet_v1", "mobilenet_v2"], "fp32", core, isa, size=64)
            for isa in ("armv7", "aarch64")}


def test_both_isas_run_xnnpack_per_operator(a72):
    for isa, (v1, v2) in a72.items():
        for est in (v1, v2):
            assert est.isa == isa and est.core == "cortex-a72" and "ESTIMATED: XNNPACK" in est.method
            assert f"Debian {'armhf' if isa == 'armv7' else 'arm64'}" in est.method and "MHz" in est.method
            assert est.cycles > 0 and est.undecoded_pct < 1.0
            assert all(op.instructions > 0 and op.compute_cycles > 0 for op in est.ops)
        assert v1.model == "xnnpack:mobilenet_v1/fp32@64" and len(v1.ops) == V1_OPS
        assert [op.op_type for op in v1.ops[:3]] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]
        assert sum(op.op_type == "ADD" for op in v2.ops) == 10   # v2's residual connections
    # the 1x1 convolutions dominate MobileNet v1 (GEMM) on both ISAs
    for v1, _ in a72.values():
        pw = sum(op.cycles for op in v1.ops if op.op_type == "CONV_2D" and ":pw" in op.name)
        assert pw > 0.5 * sum(op.cycles for op in v1.ops)


def test_armv7_runs_neon_kernels(a72):
    """Debian's armhf XNNPACK picks NEON microkernels given an A72's /proc/cpuinfo: the
    armv7 trace is vector code, not a scalar fallback, which needs at least one instruction
    per multiply-accumulate (a NEON vmla.f32 on q registers does four)."""
    v1 = a72["armv7"][0]
    h = 64
    # MobileNet v1's multiply-accumulates scale with the input area: 568.7 M at 224 (Howard et
    # al. 2017), the 1001-way classifier (1.0 M) excepted
    macs = (568.7e6 - 1.0e6) * (h / 224) ** 2 + 1.0e6
    assert v1.instructions / macs < 0.7, v1.instructions / macs
    assert a72["aarch64"][0].instructions / macs < 0.7


def test_bad_requests_say_what_is_wrong():
    with pytest.raises(DocscanError, match="models are mobilenet_v1, mobilenet_v2"):
        estimate_xnnpack(["resnet50"], "fp32", get_core("a72"), "armv7")
    with pytest.raises(DocscanError, match="precisions"):
        estimate_xnnpack(["mobilenet_v1"], "fp16", get_core("a72"), "armv7")
    with pytest.raises(DocscanError, match="no cortex-a53 scheduling model for armv7"):
        estimate_xnnpack(["mobilenet_v1"], "fp32", get_core("a53"), "armv7")


def test_run_traced_reports_a_failing_guest_in_one_line_and_a_working_one_in_segments(tmp_path):
    """The launcher every traced guest goes through (``trace.run_traced``), on the real armhf
    rootfs: marker segments from a guest that marks; one line naming the error from one that fails."""
    from docscan.bench.estimate.trace import MARK_FD, run_traced
    from docscan.bench.rootfs import ensure_rootfs, get_isa

    isa = get_isa("armv7")
    root = ensure_rootfs("armv7")
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0", "HOME": "/tmp"}
    script = tmp_path / "guest.py"
    # (the marker is a system call the plugin watches; the kernel then answers EBADF)
    script.write_text("import json, os, sys\n"
                      "spec = json.load(open(sys.argv[1]))\n"
                      "def mark(i):\n"
                      "    try:\n"
                      "        os.lseek(spec['mark_fd'], i, 0)\n"
                      "    except OSError:\n"
                      "        pass\n"
                      "mark(1)\n"
                      "total = sum(i * i for i in range(spec['n']))\n"
                      "mark(2)\n"
                      "if spec['fail']:\n"
                      "    raise SystemExit('guest gave up: ' + str(total))\n"
                      "print('done', total)\n")
    small = run_traced(isa, root, script, {"mark_fd": MARK_FD, "n": 10, "fail": False}, env)
    big = run_traced(isa, root, script, {"mark_fd": MARK_FD, "n": 10000, "fail": False}, env)
    assert small.returncode == 0 and small.stdout.strip() == "done 285"

    def executed(run, seg):
        return sum(n * len(run.blocks[b].sizes) for b, n in run.segments[seg].items())

    # the loop lies in segment 2 alone: 1000x the iterations, many times the instructions
    assert executed(big, 2) > 50 * executed(small, 2)
    failed = run_traced(isa, root, script, {"mark_fd": MARK_FD, "n": 3, "fail": True}, env)
    assert failed.returncode != 0 and failed.blocks == {} and failed.segments == {}
    assert failed.failure() == "guest gave up: 5"
