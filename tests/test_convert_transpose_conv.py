"""Transposed conv -> CONV_2D + DEPTH_TO_SPACE: exact where claimed, refused elsewhere."""

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
from docscan.convert.transpose_conv import SubPixelConv, rewrite_transpose_convs, why_not_exact  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402


def tconv_model(kernel, stride, *, cin=3, cout=2, use_bias=True, activation=None, seed=0, **kw):
    inp = keras.Input((5, 7, cin))
    y = layers.Conv2DTranspose(cout, kernel, strides=stride, padding=kw.pop("padding", "same"),
                               use_bias=use_bias, activation=activation, name="t", **kw)(inp)
    m = keras.Model(inp, y)
    rng = np.random.default_rng(seed)
    m.get_layer("t").set_weights([rng.normal(size=w.shape).astype("float32") for w in m.get_layer("t").get_weights()])
    return m


# kernel 2f / stride f ('same') as in the seed's HED, and other shapes where it is exact
@pytest.mark.parametrize("kernel,stride", [(4, 2), (8, 4), (16, 8), (32, 16), (2, 2), (3, 2), (5, 2),
                                           (6, 3), (7, 3), (1, 2), (3, 1), ((4, 6), 2)])
def test_subpixel_form_is_exact(kernel, stride):
    m = tconv_model(kernel, stride)
    new, done = rewrite_transpose_convs(m)
    assert len(done) == 1 and isinstance(new.get_layer("t"), SubPixelConv)
    x = np.random.default_rng(1).random((2, 5, 7, 3), dtype=np.float32)
    ref, out = m(x).numpy(), new(x).numpy()
    assert ref.shape == out.shape
    assert float(np.abs(ref - out).max()) <= 1e-5 * max(1.0, float(np.abs(ref).max()))


def test_seed_hed_kernel_becomes_one_3x3_conv():
    new, done = rewrite_transpose_convs(tconv_model(8, 4))
    assert done[0].conv_kernel == (3, 3) and done[0].conv_filters == 4 * 4 * 2


def test_activation_and_no_bias_are_kept():
    m = tconv_model(4, 2, use_bias=False, activation="relu")
    new, _ = rewrite_transpose_convs(m)
    x = np.random.default_rng(2).random((1, 5, 7, 3), dtype=np.float32)
    np.testing.assert_allclose(m(x).numpy(), new(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"padding": "valid"}, "padding 'valid'"),
    ({"output_padding": 1}, "output_padding"),
])
def test_inexact_shapes_are_refused_with_reason(kwargs, fragment):
    m = tconv_model(4, 2, **kwargs)
    assert fragment in why_not_exact(m.get_layer("t"))
    with pytest.raises(DocscanError, match=fragment):
        rewrite_transpose_convs(m)
    same, done = rewrite_transpose_convs(m, strict=False)
    assert done == [] and same is m


def test_unequal_strides_are_refused():
    m = tconv_model(4, (2, 3))
    with pytest.raises(DocscanError, match="strides 2x3"):
        rewrite_transpose_convs(m)


def test_hed_rewritten_tflite_has_no_transpose_conv_and_same_outputs():
    m = zoo.build("hed_vgg", (64, 64, 3))
    new, done = rewrite_transpose_convs(m)
    assert len(done) == 4
    data = tc.convert(new, "fp32", (64, 64, 3))
    counts = inventory.read_inventory(data).to_dict()["counts"]
    assert "TRANSPOSE_CONV" not in counts
    assert counts["DEPTH_TO_SPACE"] == 4
    assert not {"PAD", "SHAPE", "STRIDED_SLICE", "PACK"} & set(counts)
    x = np.random.default_rng(5).random((2, 64, 64, 3), dtype=np.float32)
    ref, out = parity.run_keras(m, x), parity.run_tflite(data, x)
    for r, o in zip(ref, out):
        assert float(np.abs(r - o).max()) < 1e-4
