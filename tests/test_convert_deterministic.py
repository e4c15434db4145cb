"""`docscan convert` of a zoo name gives the same exit code, numbers and files every run, and
gates only the checks that mean something for the weights it converts."""

from __future__ import annotations

import json
import os
import random

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from docscan import zoo  # noqa: E402
from docscan.cli import main  # noqa: E402
from docscan.convert import parity, pipeline  # noqa: E402

# The command (exit 0 on one run, 1 on the next), at a test-sized input, calibrated
# on synthetic pages as it is by default.
ZOO_INT8 = ["convert", "hed_mobilenet_v2", "--variant", "int8", "--parity-samples", "1",
            "--input-size", "64", "64", "--calib-samples", "2"]


def test_same_zoo_convert_twice_gives_the_same_exit_code_numbers_and_bytes(tmp_path):
    runs = []
    for k in range(2):
        r = CliRunner().invoke(main, [*ZOO_INT8, "-o", str(tmp_path / str(k))])
        rep = json.loads((tmp_path / str(k) / "hed_mobilenet_v2.int8.report.json").read_text())
        tflite = (tmp_path / str(k) / "hed_mobilenet_v2.int8.tflite").read_bytes()
        runs.append((r.exit_code, rep["parity"], rep["thresholds"], tflite, r))
    (code_a, parity_a, checks_a, bytes_a, r), (code_b, parity_b, checks_b, bytes_b, _) = runs
    assert code_a == code_b == 0, r.output
    assert parity_a == parity_b and checks_a == checks_b
    assert bytes_a == bytes_b
    # untrained zoo weights: the edge F-score is reported, and says why it is not gated
    (edge,) = [c for c in checks_a if c["metric"] == "edge_f"]
    assert edge["gated"] is False and edge["not_gated_because"] == parity.UNTRAINED
    assert "reported, not gated: untrained zoo weights" in r.stdout


def test_zoo_build_with_a_seed_has_the_same_weights_and_leaves_global_streams_alone():
    def weights(model):
        return [np.asarray(w) for w in model.get_weights()]

    random.seed(5)
    np.random.seed(5)
    a = weights(zoo.build("hed_vgg", (32, 32, 3), seed=0, width=0.25))
    after = (random.random(), np.random.random())
    random.seed(5)
    np.random.seed(5)
    b = weights(zoo.build("hed_vgg", (32, 32, 3), seed=0, width=0.25))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert (random.random(), np.random.random()) == after      # the build did not move them
    c = weights(zoo.build("hed_vgg", (32, 32, 3), seed=1, width=0.25))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def _edge_set(label, edge_f, max_abs=1e-3):
    return parity.SetParity(label, 1, "sigmoid(logits)",
                            [parity.OutputParity("fused", max_abs, 1e-4, 60.0, max_abs, edge_f)])


def test_edge_f_is_gated_for_trained_weights_only():
    sets = [_edge_set("random", 0.70), _edge_set("real", 0.68)]
    (trained,) = parity.check("int8", sets)
    assert trained.gated and not trained.held and trained.failed
    assert str(trained).endswith("FAILED")
    (untrained,) = parity.check("int8", sets, trained=False)
    assert untrained.value == trained.value and not untrained.held
    assert not untrained.gated and not untrained.failed
    assert str(untrained) == "edge_f 0.68 >= 0.95: not met (reported, not gated: untrained zoo weights)"
    result = pipeline.VariantResult("int8", b"", None, sets, [untrained])
    assert result.passed
    # fp32/fp16 agreement does not depend on what the weights learned: gated either way
    (fp32,) = parity.check("fp32", [_edge_set("random", 0.70, max_abs=1e-2)], trained=False)
    assert fp32.metric == "max_abs" and fp32.gated and fp32.failed
