"""HED's fuse (CONCATENATION of one-channel maps -> 1x1 CONV_2D) as MUL + ADD: same outputs, no concat."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from docscan import zoo  # noqa: E402
from docscan.convert import inventory, parity  # noqa: E402
from docscan.convert import tflite_convert as tc  # noqa: E402
from docscan.convert.fuse_sum import WeightedSum, rewrite_fuse_sums  # noqa: E402


def fuse_model(n=5, side_channels=1, filters=1, kernel=1, activation=None, use_bias=True, extra_reader=False):
    inp = keras.Input((12, 10, 3))
    sides = [layers.Conv2D(side_channels, 3, padding="same", name=f"side{i}")(inp) for i in range(n)]
    cat = layers.Concatenate(name="cat")(sides)
    out = layers.Conv2D(filters, kernel, padding="same", activation=activation, use_bias=use_bias, name="fuse")(cat)
    outputs = [out, *sides] + ([layers.Activation("relu", name="reader")(cat)] if extra_reader else [])
    m = keras.Model(inp, outputs)
    rng = np.random.default_rng(0)
    for layer in m.layers:
        if layer.weights:
            layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    return m


@pytest.mark.parametrize("kwargs", [{}, {"filters": 3}, {"activation": "sigmoid"}, {"use_bias": False}, {"n": 2}])
def test_weighted_sum_computes_the_same_outputs(kwargs):
    m = fuse_model(**kwargs)
    new, done = rewrite_fuse_sums(m)
    assert [(d.concat, d.conv, d.inputs) for d in done] == [("cat", "fuse", kwargs.get("n", 5))]
    assert isinstance(new.get_layer("cat"), WeightedSum)
    x = np.random.default_rng(1).random((2, 12, 10, 3), dtype=np.float32)
    for r, o in zip(m(x), new(x)):
        assert r.shape == o.shape
        assert float(np.abs(r.numpy() - o.numpy()).max()) <= 1e-5 * max(1.0, float(np.abs(r.numpy()).max()))


@pytest.mark.parametrize("kwargs", [{"side_channels": 2}, {"kernel": 3}, {"extra_reader": True}])
def test_other_concatenations_are_left_alone(kwargs):
    m = fuse_model(**kwargs)
    same, done = rewrite_fuse_sums(m)
    assert done == [] and same is m


def test_hed_fuse_tflite_has_no_concatenation_and_same_outputs():
    m = zoo.build("hed_mobilenet_v2", (64, 64, 3))
    new, done = rewrite_fuse_sums(m)
    assert len(done) == 1 and done[0].inputs == 5
    before = inventory.read_inventory(tc.convert(m, "fp32", (64, 64, 3))).to_dict()["counts"]
    data = tc.convert(new, "fp32", (64, 64, 3))
    counts = inventory.read_inventory(data).to_dict()["counts"]
    assert before["CONCATENATION"] == 1 and "CONCATENATION" not in counts
    assert counts["MUL"] - before.get("MUL", 0) == 5 and counts["ADD"] - before.get("ADD", 0) == 4
    x = np.random.default_rng(5).random((2, 64, 64, 3), dtype=np.float32)
    for r, o in zip(parity.run_keras(m, x), parity.run_tflite(data, x)):
        assert float(np.abs(r - o).max()) < 1e-4
