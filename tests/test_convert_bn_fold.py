"""BatchNorm folding on the Keras graph: every fate, exactness, HED networks."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from docscan import zoo  # noqa: E402
from docscan.convert import parity  # noqa: E402
from docscan.convert.bn_fold import ChannelAffine, FoldedAway, fold_batchnorm, plan  # noqa: E402


def randomise_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 0.5, c),
                               rng.normal(0, 0.5, c), rng.uniform(0.5, 2, c)])
    return model


def bn(name):
    return layers.BatchNormalization(name=name)


def every_case_model():
    """One of each: BN after every linear kind, after activation/add/concat/input, shared conv output."""
    inp = keras.Input((16, 16, 3), name="image")
    x0 = bn("bn_input")(inp)                                                   # at the input -> affine
    a = bn("bn_conv")(layers.Conv2D(8, 3, padding="same", name="conv")(x0))
    a = layers.ReLU(name="relu")(a)
    d = bn("bn_dw")(layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False, name="dw")(a))
    s = bn("bn_sep")(layers.SeparableConv2D(8, 3, padding="same", name="sep")(a))
    r = bn("bn_after_relu_1x1")(layers.ReLU(name="relu2")(s))               # -> next 1x1 conv
    r = layers.Conv2D(8, 1, name="next_1x1")(r)
    q = bn("bn_after_relu_same")(layers.ReLU(name="relu3")(d))               # -> next 3x3 'same': affine
    q = layers.Conv2D(8, 3, padding="same", name="next_same")(q)
    v = bn("bn_after_add_valid")(layers.Add(name="add")([r, q]))             # -> next 'valid': forward
    v = layers.Conv2D(4, 3, padding="valid", name="next_valid")(v)
    shared = layers.Conv2D(4, 1, name="shared_conv")(a)                      # read twice: cannot fold back
    sh = bn("bn_shared")(shared)
    cat = layers.Concatenate(name="cat")([sh, shared])
    c = bn("bn_after_concat")(cat)                                           # -> affine (output)
    t = bn("bn_tconv")(layers.Conv2DTranspose(2, 4, strides=2, padding="same", name="tconv")(v))
    g = layers.GlobalAveragePooling2D(name="gap")(a)
    g = bn("bn_dense")(layers.Dense(5, name="dense")(g))
    h = layers.Dense(3, name="head")(bn("bn_before_dense")(layers.ReLU(name="relu4")(g)))
    return randomise_bn(keras.Model(inp, [c, t, h], name="every_case"))


@pytest.fixture(scope="module")
def every_case():
    m = every_case_model()
    return m, *fold_batchnorm(m)


def test_every_bn_gets_the_expected_fate(every_case):
    _, folded, fates = every_case
    got = {f.name: (f.action, f.target) for f in fates}
    assert got == {
        "bn_input": ("affine", None),
        "bn_conv": ("folded_into_previous", "conv"),
        "bn_dw": ("folded_into_previous", "dw"),
        "bn_sep": ("folded_into_previous", "sep"),
        "bn_after_relu_1x1": ("folded_into_next", "next_1x1"),
        "bn_after_relu_same": ("affine", None),
        "bn_after_add_valid": ("folded_into_next", "next_valid"),
        "bn_shared": ("affine", None),
        "bn_after_concat": ("affine", None),
        "bn_tconv": ("folded_into_previous", "tconv"),
        "bn_dense": ("folded_into_previous", "dense"),
        "bn_before_dense": ("folded_into_next", "head"),
    }
    reasons = {f.name: f.reason for f in fates}
    assert "zero-pads" in reasons["bn_after_relu_same"]          # says why forward folding is not exact
    assert "also read elsewhere" in reasons["bn_shared"]
    assert not any(isinstance(l, layers.BatchNormalization) for l in folded.layers)
    kinds = {l.name: type(l) for l in folded.layers}
    assert kinds["bn_input"] is ChannelAffine and kinds["bn_conv"] is FoldedAway


def test_folded_model_is_exact_within_float32_rounding(every_case):
    model, folded, _ = every_case
    x = np.random.default_rng(3).random((3, 16, 16, 3), dtype=np.float32)
    a, b = parity.run_keras(model, x), parity.run_keras(folded, x)
    for p, q in zip(a, b):
        scale = max(1.0, float(np.abs(p).max()))
        assert float(np.abs(p - q).max()) <= 1e-5 * scale


def test_forward_fold_through_same_padding_would_be_wrong():
    """The reason we refuse: folding BN forward into a 3x3 'same' conv changes the border."""
    inp = keras.Input((8, 8, 2))
    x = bn("b")(layers.ReLU()(inp))
    y = layers.Conv2D(2, 3, padding="same", name="c")(x)
    m = randomise_bn(keras.Model(inp, y))
    from docscan.convert.bn_fold import _fold_forward, bn_affine

    s, t = bn_affine(m.get_layer("b"))
    w, b = _fold_forward(m.get_layer("c"), s, t)
    xin = np.random.default_rng(0).random((1, 8, 8, 2), dtype=np.float32)
    ref = m(xin).numpy()
    naive = keras.layers.Conv2D(2, 3, padding="same")
    naive.build((None, 8, 8, 2))
    naive.set_weights([w, b])
    wrong = naive(np.maximum(xin, 0)).numpy()
    assert np.abs(wrong - ref)[0, 1:-1, 1:-1].max() < 1e-5       # interior agrees
    assert np.abs(wrong - ref).max() > 1e-3                      # border does not
    assert [f.action for f in plan(m)] == ["affine"]


def test_folded_model_saves_and_reloads(every_case, tmp_path):
    _, folded, _ = every_case
    path = tmp_path / "folded.keras"
    folded.save(path)
    again = keras.models.load_model(path, compile=False)
    x = np.random.default_rng(4).random((1, 16, 16, 3), dtype=np.float32)
    for p, q in zip(parity.run_keras(folded, x), parity.run_keras(again, x)):
        np.testing.assert_allclose(p, q, atol=1e-6)


def test_model_without_bn_is_returned_unchanged():
    m = zoo.build("hed_vgg", (32, 32, 3))
    same, fates = fold_batchnorm(m)
    assert same is m and fates == []


@pytest.mark.parametrize("name", ["hed_vgg_bn", "hed_mobilenet_v2"])
def test_hed_folds_every_bn_into_its_conv(name, shared):
    m = randomise_bn(zoo.build(name, (64, 64, 3)))
    folded, fates = fold_batchnorm(m)
    assert fates and all(f.action == "folded_into_previous" for f in fates)
    sets = parity.parity_inputs((64, 64), 3, n_random=2, n_real=2)
    assert "real" in sets
    diff = parity.fold_difference(m, folded, sets)
    for label, d in diff.items():
        assert d["within_float32_rounding"], (label, d)
        assert d["max_abs"] < 1e-4


def test_unfoldable_bn_becomes_one_mul_and_one_add_in_tflite():
    from docscan.convert import inventory
    from docscan.convert import tflite_convert as tc

    inp = keras.Input((16, 16, 3))
    x = layers.ReLU()(layers.Conv2D(4, 3, padding="same")(inp))
    x = bn("after_relu")(x)
    m = randomise_bn(keras.Model(inp, layers.Conv2D(2, 3, padding="same")(x)))
    folded, fates = fold_batchnorm(m)
    assert [f.action for f in fates] == ["affine"]
    data = tc.convert(folded, "fp32", (16, 16, 3))
    counts = inventory.read_inventory(data).to_dict()["counts"]
    assert counts == {"CONV_2D": 2, "MUL": 1, "ADD": 1}
    x = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(parity.run_keras(m, x)[0], parity.run_tflite(data, x)[0], atol=1e-4)


def test_sequential_models_are_folded_too():
    from docscan.convert import pipeline

    m = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3), bn("b"), layers.ReLU()])
    randomise_bn(m)
    ref, work, _, passes = pipeline.prepare(m, pipeline.Options())
    assert [l["action"] for l in passes["bn_folding"]["layers"]] == ["folded_into_previous"]
    x = np.random.default_rng(0).random((1, 8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(m(x).numpy(), parity.run_keras(work, x)[0], atol=1e-5)
