"""LiteRT's own per-op profiler through libLiteRt.so's C API (host CPU, XNNPACK)."""

from __future__ import annotations

import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from bench_helpers import have_litert_library, make_tiny_models  # noqa: E402

from docscan.bench import litert_profiler, perop  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402

pytestmark = pytest.mark.skipif(not have_litert_library(), reason="ai-edge-litert's libLiteRt.so is not installed")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_models(tmp_path_factory.mktemp("models"))


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_every_op_profiled_with_its_type(tiny, precision):
    path = tiny[precision]
    inventory = [c.op_type.split(":")[0] for c in perop.cut_ops(path.read_bytes(), str(path))]
    prof = litert_profiler.profile(path, runs=20, warmup=3)
    assert prof.mapped, prof.notes
    assert [o.op_index for o in prof.ops] == list(range(len(inventory)))
    assert [o.op_type for o in prof.ops] == inventory
    assert all(o.us >= 0 for o in prof.ops)
    assert all(o.runtime_name for o in prof.ops)
    # Per-op sum against the runtime's own whole-run span in the same profiled runs: on a model
    # this small, timer granularity (1 us per op) dominates, so the bound is loose.
    invoke = statistics.median(prof.profiled_invoke_ms)
    assert prof.per_op_sum_ms <= invoke * 1.05 + 0.01
    assert prof.per_op_sum_ms >= invoke * 0.5 - 0.01 * len(prof.ops)


def test_missing_model_is_one_line_error(tmp_path):
    with pytest.raises(DocscanError, match="no such model"):
        litert_profiler.profile(tmp_path / "nope.tflite")
