"""Deterministic gate (instruction counts under callgrind): deliberately slower models are
caught, the same model against itself passes, counts repeat exactly. No wall time involved."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from regress_helpers import demo_models  # noqa: F401  (fixture)

from docscan.cli import main
from docscan.regress import baseline as bl
from docscan.regress.gate import check, update

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed (make system-deps)")


@pytest.fixture(scope="module")
def base_baseline(tmp_path_factory, demo_models):
    from docscan.regress.instructions import count_host_many

    # All four models in one valgrind start-up; the gate's first counts come from this
    # per-process cache, its confirmation counts always run afresh.
    count_host_many(list(demo_models.values()))
    path = tmp_path_factory.mktemp("baselines") / "demo.baseline.json"
    update(demo_models["base"], path, "host", deterministic=True)
    return path


def test_same_model_passes_with_identical_count(base_baseline, demo_models):
    entry = bl.load(base_baseline).entry("host", "instructions")
    assert entry.setup.tool.startswith("valgrind callgrind") and entry.setup.runtime.startswith("ai-edge-litert")
    assert len(set(entry.stats["repeats"][-2:])) == 1, "steady-state invokes must count the same"
    v = check(demo_models["base"], base_baseline, "host", deterministic=True)
    assert v.passed and v.status == "ok"
    assert v.new_value == v.base_value == entry.stats["per_inference"] > 1_000_000   # bit-for-bit repeatable


def test_unfolded_bn_is_caught_with_per_kernel_diff(base_baseline, demo_models, tmp_path):
    out = tmp_path / "docscan-regress.json"
    r = CliRunner().invoke(main, ["bench", str(demo_models["bn_unfolded"]), "--baseline", str(base_baseline),
                                  "--check", "--deterministic", "--allow-op-change", "-o", str(out.parent)])
    assert r.exit_code == 1, r.output
    assert "REGRESSION" in r.output and "+1 ADD, +1 MUL" in r.output
    v = json.loads(out.read_text())
    assert v["status"] == "REGRESSION" and 1.015 < v["ratio"] < 1.05     # ~2.7 % more instructions
    assert v["emulated"] is False and v["device"] == "host"
    assert len(v["attempts"]) == 2 and v["attempts"][0]["per_inference"] == v["attempts"][1]["per_inference"]
    added = {row["name"] for row in v["op_diff"] if row["change"] == "added"}
    assert any("vmul" in name for name in added) and any("vadd" in name for name in added)
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_same_op_list_slowdown_is_caught(base_baseline, demo_models):
    v = check(demo_models["bigger_kernel"], base_baseline, "host", deterministic=True, confirm=False)
    assert not v.passed and v.ratio > 1.03
    assert any("same op list" in n for n in v.notes)
    # the depthwise kernel is what grew (XNNPACK picks a 25-tap kernel instead of the 9-tap one)
    grown = [r for r in v.op_diff if r["change"] in ("slower", "added")]
    assert grown and "dwconv" in grown[0]["name"]


def test_tiny_change_below_tolerance_passes_and_a_tighter_tolerance_catches_it(base_baseline, demo_models):
    v = check(demo_models["wider"], base_baseline, "host", deterministic=True, tolerance=0.001, confirm=False)
    assert 1.0005 < v.ratio < 1.01                             # ~0.25 %: under the default 1 % tolerance
    assert not v.passed                                        # ... and caught at 0.1 %, counts being exact


def test_a_baseline_from_a_host_with_other_cpu_features_is_not_compared(base_baseline, demo_models, tmp_path):
    # XNNPACK picks kernels by CPU features: a count recorded on an AVX-512 host says nothing
    # about an AVX2 host's. The slower model would fail against its own host's baseline ...
    slower = check(demo_models["bigger_kernel"], base_baseline, "host", deterministic=True, confirm=False)
    assert not slower.passed and slower.compared
    # ... and against one recorded elsewhere it is reported, not gated
    data = json.loads(base_baseline.read_text())
    entry = data["entries"]["host|instructions"]
    assert entry["stats"]["cpu_features"], "the host's features are recorded with its count"
    entry["stats"]["cpu_features"] = ["sse4_2", "avx2", "some-other-host"]
    other = tmp_path / "other.baseline.json"
    other.write_text(json.dumps(data))
    v = check(demo_models["bigger_kernel"], other, "host", deterministic=True, confirm=False)
    assert v.passed and not v.compared and v.status == "not compared"
    assert v.ratio == slower.ratio and any(n.startswith("not compared: CPU features differ") for n in v.notes)
