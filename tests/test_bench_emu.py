"""Emulated ARM devices: real Debian rootfs builds, real qemu-user runs, and build faults.

The first run builds both root filesystems (a few minutes each, needs Debian's mirror and
PyPI); later runs reuse ~/.cache/docscan/rootfs-armhf and -arm64.
"""

from __future__ import annotations

import json
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from bench_helpers import make_tiny_models  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from docscan.bench import rootfs  # noqa: E402
from docscan.bench.devices import Job, emulated, host  # noqa: E402
from docscan.cli import main  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402

pytestmark = pytest.mark.emu
NEEDS = ("mmdebstrap", "qemu-arm-static", "qemu-aarch64-static", "arch-test")
missing = [t for t in NEEDS if shutil.which(t) is None]
if missing:
    pytestmark = [pytest.mark.emu, pytest.mark.skip(reason=f"not installed: {', '.join(missing)} "
                                                           "(bash scripts/system-deps.sh)")]


@pytest.fixture(scope="session")
def rootfs_both():
    """Build (or reuse) both emulated devices once per session, side by side (mostly network wait)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        futures = {isa: pool.submit(rootfs.ensure_rootfs, isa)
                   for isa in ("armv7", "aarch64")}
        return {isa: f.result() for isa, f in futures.items()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_models(tmp_path_factory.mktemp("models"))


def test_rootfs_is_complete_and_has_the_runtime(rootfs_both):
    for isa, root in rootfs_both.items():
        marker = rootfs.read_marker(root)
        assert marker["isa"] == isa and marker["tflite_runtime"] == "2.14.0"
        assert (rootfs.python_site(root) / "tflite_runtime" / "interpreter.py").exists()
        assert not list(root.parent.glob(root.name + ".partial-*"))


@pytest.mark.parametrize("how", ["chroot", "qemu"])
@pytest.mark.parametrize("isa", ["armv7", "aarch64"])
def test_emulated_outputs_match_host(rootfs_both, tiny, monkeypatch, isa, how):
    if how == "chroot" and os.geteuid() != 0:
        pytest.skip("chroot mode needs root")
    monkeypatch.setenv("DOCSCAN_EMU_MODE", how)
    jobs = [Job(tiny["fp32"], "fp32", 2, 1), Job(tiny["int8"], "int8", 2, 1)]
    emu = emulated.run_jobs(isa, jobs, return_outputs=True)
    ref = host.run_jobs(jobs, return_outputs=True)
    assert emu["runtime"] == "tflite-runtime 2.14.0"
    assert emu["machine"]["machine"] == {"armv7": "armv7l", "aarch64": "aarch64"}[isa]
    # The guest sees a phone's CPU (not the x86 host's, and not nothing: chroot mode used to
    # leave cpuinfo without /sys lists, so XNNPACK never started), and says which kernels ran.
    assert emu["machine"]["cpu"] == "ARM 0x41 part 0xd0b r4p1 x1"
    status = {e["label"]: e["xnnpack"] for e in emu["results"]}
    if isa == "aarch64":
        assert status["fp32"].startswith("applied ("), status
        assert status["int8"].startswith("not applied (no fp32 tensors"), status   # tflite-runtime 2.14: ruy
    else:
        assert all(s.startswith("not applied (this runtime build has no XNNPACK") for s in status.values()), status
    for e, h in zip(emu["results"], ref["results"]):
        assert "error" not in e, e
        assert len(e["latency_ms"]) == 2
        got, want = np.array(e["outputs"][0]), np.array(h["outputs"][0])
        if e["label"] == "fp32":
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        else:       # int8 kernels may round differently by one step
            assert np.abs(got - want).max() <= 1


def test_bench_emulated_32_vs_64_side_by_side(rootfs_both, tiny, tmp_path):
    runner = CliRunner()
    out = tmp_path / "emu" / "docscan-bench.json"
    res = runner.invoke(main, ["bench", str(tiny["fp32"]), "-d", "emu:armv7", "-d", "emu:aarch64", "-d", "host",
                               "--runs", "2", "--warmup", "1", "--op-runs", "2", "-o", str(out.parent), "-q",
                               "--top", "0"])
    assert res.exit_code == 0, res.output
    assert "32/64" in res.output and "emu:armv7 (emulated)" in res.output and "EMULATED" in res.output
    saved = json.loads(out.read_text())
    assert "EMULATED" in saved["warning"]
    runs = {r["device"]: r for r in saved["runs"]}
    assert runs["emu:armv7"]["emulated"] and runs["emu:aarch64"]["emulated"] and not runs["host"]["emulated"]
    assert runs["emu:armv7"]["isa"] == "armv7" and "EMULATED" in runs["emu:armv7"]["machine"]
    # Which kernels ran, in the device description and in extra (tflite-runtime 2.14 on a phone alike).
    assert "1x Cortex-A76" in runs["emu:aarch64"]["machine"] and "XNNPACK applied (" in runs["emu:aarch64"]["machine"]
    assert runs["emu:armv7"]["extra"]["xnnpack_applied"].startswith("not applied (this runtime build has no XNNPACK")
    for r in runs.values():
        assert [o["op_type"] for o in r["ops"]] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "TRANSPOSE_CONV"]
        assert all(o["ms"] > 0 for o in r["ops"])
    summary = saved["summary"]["tiny_fp32.tflite"]
    assert summary["ratio_32_64"] > 0
    assert all(row["ratio_32_64"] is not None for row in summary["op_types"])
    assert (tmp_path / "emu" / "docscan-bench.png").exists()


# --- faults: these build into a private cache and never touch the real one ---------------------

@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DOCSCAN_CACHE", str(cache))
    monkeypatch.setenv("DOCSCAN_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")   # nothing listens there
    return cache


def test_build_without_network_fails_cleanly(private_cache):
    with pytest.raises(DocscanError) as err:
        rootfs.ensure_rootfs("armv7")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("emu:armv7: building the Debian armhf rootfs") and "127.0.0.1:9" in msg
    assert not (private_cache / "rootfs-armhf").exists()
    assert not list(private_cache.glob("rootfs-armhf.partial-*"))


def test_half_built_rootfs_is_not_reused(private_cache):
    # What a killed build or an older recipe leaves: python and all, but no valid marker.
    for marker in (None, {"recipe": "0:old"}):
        half = private_cache / "rootfs-armhf"
        (half / "usr" / "bin").mkdir(parents=True, exist_ok=True)
        (half / "usr" / "bin" / "python3").write_text("")
        if marker:
            (half / rootfs.MARKER).write_text(json.dumps(marker))
        assert not rootfs.is_complete(half)
        with pytest.raises(DocscanError, match="building the Debian armhf rootfs"):
            rootfs.ensure_rootfs("armv7")   # rebuilds, never runs it


def test_cli_emulated_without_network_one_line_error_no_result(private_cache, tiny, tmp_path):
    runner = CliRunner()
    out = tmp_path / "r" / "docscan-bench.json"
    res = runner.invoke(main, ["bench", str(tiny["fp32"]), "-d", "host", "-d", "emu:armv7", "--runs", "2",
                               "-o", str(out.parent), "-q"])
    assert res.exit_code == 2
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and ("network" in errors[0] or "127.0.0.1" in errors[0]), res.output
    assert not out.exists() and not out.with_suffix(".png").exists()


def test_guest_cpu_view_is_a_phones_and_deterministic(tmp_path):
    """One home for the text (estimate/cores.py's Core.cpuinfo); /sys lists match it."""
    from docscan.bench.estimate.cores import get_core

    assert emulated.guest_cpuinfo("aarch64", 2) == get_core("cortex-a76").cpuinfo("aarch64", processors=2)
    assert "asimddp" in emulated.guest_cpuinfo("aarch64") and "neon" in emulated.guest_cpuinfo("armv7")
    proc, sysfs = emulated.write_cpu_view(tmp_path / "v", "aarch64", 4)
    assert (proc / "cpuinfo").read_text().count("processor\t:") == 4
    assert (sysfs / "devices/system/cpu/present").read_text() == "0-3\n"
    assert emulated.guest_cpu_label(1) == "1x Cortex-A76 (MIDR 0x414fd0b1)"
    assert "guest /proc/cpuinfo 1x Cortex-A76" in emulated.describe("aarch64")
