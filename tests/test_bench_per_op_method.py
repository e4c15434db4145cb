"""`docscan bench --per-op-method`: one-op cuts or LiteRT's own profiler, chosen per device and
reported (real runtimes: ai-edge-litert on the host, the aarch64 wheel under qemu)."""

from __future__ import annotations

import json
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from bench_helpers import have_litert_library, make_tiny_models  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from docscan.bench import litert_profiler, report  # noqa: E402
from docscan.bench.run import run_bench  # noqa: E402
from docscan.cli import main  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402
from docscan.paths import MODELS_DIR  # noqa: E402

HAVE_LIB = have_litert_library()
needs_lib = pytest.mark.skipif(not HAVE_LIB, reason="ai-edge-litert's libLiteRt.so is not installed")
SHIPPED = MODELS_DIR / "hed_default.int8.tflite"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_models(tmp_path_factory.mktemp("models"))


def _check_profiled(run, model, low=0.3, high=1.5):
    """Method reported, rows are the model's ops (type, output name, index), sum positive and
    within a loose band of the whole-model median (no timing target: shared, loaded hosts)."""
    assert run.extra["per_op_method_name"] == "profiler" and run.extra["profiler_mapped"] is True
    assert run.per_op_method == litert_profiler.METHOD and run.runtime.startswith("ai-edge-litert")
    inventory = litert_profiler.model_ops(model)
    assert [(o.op_type, o.name, o.index) for o in run.ops] == [(t, n, i) for i, (t, n) in enumerate(inventory)]
    assert all(o.extra["runtime_name"] for o in run.ops)
    total = run.extra["per_op_sum_ms"]
    assert total > 0 and all(o.ms >= 0 for o in run.ops)
    assert low * run.median_ms <= total <= high * run.median_ms, (total, run.median_ms)


@needs_lib
def test_host_profiler_method_reported_and_ops_match_model(tiny):
    rep = run_bench([tiny["fp32"], tiny["int8"], SHIPPED], ["host"], runs=5, warmup=1, per_op_method="profiler")
    for run, model in zip(rep.runs, [tiny["fp32"], tiny["int8"], SHIPPED]):
        _check_profiled(run, model, low=0.3 if model == SHIPPED else 0.05)
        assert len(run.latency_ms) == 5
    row = report.summary(rep)["hed_default.int8.tflite"]["latency"][0]
    assert row["per_op_method"] == "LiteRT profiler" and row["per_op_fallback"] is None


@needs_lib
def test_host_auto_is_profiler_cuts_on_request(tiny):
    auto = run_bench([tiny["fp32"]], ["host"], runs=3, warmup=1, per_op_method="auto").runs[0]
    cuts = run_bench([tiny["fp32"]], ["host"], runs=3, warmup=1, per_op_method="cuts").runs[0]
    assert auto.extra["per_op_method_name"] == "profiler"
    assert cuts.extra["per_op_method_name"] == "cuts" and "per_op_fallback" not in cuts.extra
    assert [o.op_type for o in auto.ops] == [o.op_type for o in cuts.ops]
    assert [o.name for o in auto.ops] == [o.name for o in cuts.ops]


def test_no_xnnpack_profiler_refused_auto_falls_back_said(tiny):
    with pytest.raises(DocscanError, match="host: no LiteRT profiler: .*--no-xnnpack"):
        run_bench([tiny["fp32"]], ["host"], runs=2, xnnpack=False, per_op_method="profiler")
    run = run_bench([tiny["fp32"]], ["host"], runs=2, warmup=0, xnnpack=False, per_op_method="auto").runs[0]
    assert run.extra["per_op_method_name"] == "cuts" and "XNNPACK" in run.extra["per_op_fallback"]
    assert run.extra["per_op_fallback"] in run.notes
    assert report.method_label(run) == "one-op cuts (fallback)"


def test_unknown_method_is_one_line_error(tiny):
    with pytest.raises(DocscanError, match="--per-op-method fast: choose auto, cuts, profiler"):
        run_bench([tiny["fp32"]], ["host"], per_op_method="fast")


def test_cli_armv7_profiler_is_a_clear_one_line_error(tiny, tmp_path):
    # Refused before any rootfs is built or any model timed: emu:armv7 has tflite-runtime 2.14 only.
    res = CliRunner().invoke(main, ["bench", str(tiny["fp32"]), "-d", "host", "-d", "emu:armv7", "--per-op-method",
                                    "profiler", "-o", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: emu:armv7: no LiteRT profiler: "), res.output
    assert "tflite-runtime 2.14" in lines[0] and "--per-op-method auto" in lines[0]
    assert not (tmp_path / "o").exists()


@needs_lib
def test_cli_table_labels_the_method(tiny, tmp_path):
    res = CliRunner().invoke(main, ["bench", str(tiny["int8"]), "-d", "host", "--runs", "3", "-o", str(tmp_path),
                                    "-q", "--no-png"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    header = next(ln for ln in res.output.splitlines() if "device" in ln)
    assert "per-op method" in header
    row = next(ln for ln in res.output.splitlines() if ln.startswith("│ host"))
    assert "LiteRT profiler" in row
    saved = json.loads((tmp_path / "docscan-bench.json").read_text())
    assert saved["runs"][0]["extra"]["per_op_method_name"] == "profiler"
    assert saved["summary"]["tiny_int8.tflite"]["latency"][0]["per_op_method"] == "LiteRT profiler"


# --- emulated aarch64 (and armv7's fallback): needs the root filesystems, chroot mode -------------

NEEDS = ("mmdebstrap", "qemu-arm-static", "qemu-aarch64-static", "arch-test", "unshare")
_missing = [t for t in NEEDS if shutil.which(t) is None]
needs_emu = pytest.mark.skipif(
    bool(_missing) or os.geteuid() != 0,
    reason=(f"not installed: {', '.join(_missing)} (bash scripts/system-deps.sh)" if _missing
            else "the LiteRT profiler on emu:aarch64 needs chroot mode (root)"))


@pytest.mark.emu
@needs_emu
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_emulated_aarch64_profiler(tiny, precision):
    rep = run_bench([tiny[precision]], ["emu:aarch64"], runs=2, warmup=1, per_op_method="profiler")
    run = rep.runs[0]
    _check_profiled(run, tiny[precision], low=0.2)
    assert run.emulated and run.extra["guest_machine"] == "aarch64"
    assert "manylinux_2_27_aarch64" in run.runtime
    assert any("EMULATED" in n for n in run.notes)


@pytest.mark.emu
@needs_emu
def test_emulated_pair_auto_compares_like_with_like(tiny):
    rep = run_bench([tiny["int8"]], ["emu:armv7", "emu:aarch64"], runs=2, warmup=1, op_runs=2, per_op_method="auto")
    a32, a64 = rep.runs
    assert a32.extra["per_op_method_name"] == a64.extra["per_op_method_name"] == "cuts"
    assert "tflite-runtime 2.14" in a32.extra["per_op_fallback"]
    assert "like with like" in a64.extra["per_op_fallback"] and a32.runtime == a64.runtime
    assert report.method_label(a32) == "one-op cuts (fallback)"
    alone = run_bench([tiny["int8"]], ["emu:armv7"], runs=2, warmup=1, op_runs=2, per_op_method="auto").runs[0]
    assert alone.extra["per_op_method_name"] == "cuts" and alone.extra["per_op_fallback"] in alone.notes
