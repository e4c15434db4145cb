"""Deterministic gate on the emulated ARM devices: qemu's insn plugin counts guest
instructions per inference inside the armv7 / aarch64 rootfs (built by docscan bench)."""

from __future__ import annotations

import shutil

import pytest
from regress_helpers import demo_models  # noqa: F401  (fixture)

from docscan.regress.gate import check, update

pytestmark = pytest.mark.emu


def _need(isa_name: str):
    from docscan.bench.rootfs import get_isa, is_complete, rootfs_path
    isa = get_isa(isa_name)
    if shutil.which(isa.qemu.removesuffix("-static")) is None:
        pytest.skip("Debian's dynamic qemu-user is not installed (make system-deps)")
    if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
        pytest.skip("gcc / pkg-config needed to build qemu's insn plugin (make system-deps)")
    if not is_complete(rootfs_path(isa)):
        from docscan.bench.rootfs import ensure_rootfs
        ensure_rootfs(isa.name)      # as test_bench_emu does: built once, cached


@pytest.mark.parametrize("isa", ["aarch64", "armv7"])
def test_emulated_counts_catch_unfolded_bn_and_pass_self(isa, demo_models, tmp_path):
    _need(isa)
    from docscan.regress.qemu_plugin import plugin_path
    path = tmp_path / "b.json"
    entry, _ = update(demo_models["base"], path, f"emu:{isa}", deterministic=True)
    assert plugin_path() is not None                      # built once, cached with its qemu version
    assert entry.setup.emulated and entry.setup.runtime.startswith("tflite-runtime")
    assert entry.stats["per_inference"] > 1_000_000
    xnn = "XNNPACK applied (" if isa == "aarch64" else "XNNPACK not applied (this runtime build has no XNNPACK"
    assert "guest /proc/cpuinfo 1x Cortex-A76" in entry.setup.tool and xnn in entry.setup.tool, entry.setup.tool
    same = check(demo_models["base"], path, f"emu:{isa}", deterministic=True, confirm=False)
    assert same.passed and abs(same.ratio - 1) < 0.002     # guest counts repeat to ~0.02 %
    assert same.to_dict()["emulated"] is True
    slow = check(demo_models["bn_unfolded"], path, f"emu:{isa}", deterministic=True, allow_op_change=True,
                 confirm=False)
    assert not slow.passed and slow.ratio > 1.01           # +1.9 % (armv7) / +4.7 % (aarch64)


def test_plugin_cache_trusts_only_a_stamped_build_for_this_qemu(tmp_path, monkeypatch):
    from docscan.regress import qemu_plugin as qp
    if shutil.which("qemu-aarch64") is None:
        pytest.skip("Debian's dynamic qemu-user is not installed (make system-deps)")
    monkeypatch.setenv("DOCSCAN_CACHE", str(tmp_path))
    folder = qp.plugin_dir()
    folder.mkdir(parents=True)
    (folder / "libinsn.so").write_bytes(b"half a build")
    assert qp.plugin_path() is None                         # no stamp: a killed build
    (folder / qp.STAMP).write_text('{"qemu": "0.0-other"}')
    assert qp.plugin_path() is None                         # built for another qemu
    (folder / qp.STAMP).write_text('{"qemu": "%s"}' % qp.installed_version())
    assert qp.plugin_path() == folder / "libinsn.so"
    assert qp.parse_count("cpu 0 insns: 5\ntotal insns: 89930\n") == 89930
