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


def test_map_ops_allows_only_elementwise_ops_fused_away():
    # a weighted sum's tail: XNNPACK runs the MUL by a scalar as a unary op and folds one ADD
    # by a constant into a neighbour, so the model has one op more than the profiler events
    types = ["CONV_2D", "MUL", "ADD", "ADD", "LOGISTIC"]
    rows = [("Fully Connected (NC, F32) GEMM", True, 40.0), ("Invalid Unary Op", True, 2.0),
            ("Add (ND)", True, 3.0), ("Sigmoid (NC)", True, 1.0)]
    ops, mapped, notes = litert_profiler.map_ops(rows, types)
    assert mapped and [o.op_type for o in ops] == types and [o.op_index for o in ops] == list(range(5))
    assert sorted(o.us for o in ops) == [0.0, 1.0, 2.0, 3.0, 40.0]
    assert len(notes) == 1 and "fused" in notes[0] and "ADD" in notes[0]
    # a convolution never disappears, and an event the model has no op for is not guessed at
    for bad_types in (["CONV_2D", "CONV_2D", "MUL", "ADD", "ADD", "LOGISTIC"], ["CONV_2D", "MUL", "ADD"]):
        ops, mapped, notes = litert_profiler.map_ops(rows, bad_types)
        assert not mapped and all(o.op_index is None for o in ops) and len(ops) == len(rows)
    exact = litert_profiler.map_ops(rows, ["CONV_2D", "MUL", "ADD", "LOGISTIC"])
    assert exact[1] and exact[2] == [] and all(o.runtime_name != litert_profiler.FUSED for o in exact[0])
