"""docscan.macs on hand-sized layers: every count below is worked out by hand in a comment."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from docscan.macs import count, format_count, layer_macs  # noqa: E402


def _single(layer, input_shape):
    x = keras.Input(input_shape)
    model = keras.Model(x, layer(x))
    c = count(model)
    (row,) = c.layers
    return c, row


def test_conv2d_counts_kernel_times_output():
    # 8x8x3 -> 8x8x4, 3x3 'same': 8*8*4 outputs * 27 taps = 6912 MACs; 3*3*3*4 + 4 = 112 params
    c, row = _single(layers.Conv2D(4, 3, padding="same"), (8, 8, 3))
    assert (row.macs, row.params, c.macs, c.params) == (6912, 112, 6912, 112)
    assert row.output_shape == (8, 8, 4)


def test_strided_valid_conv():
    # 9x9x2 -> 4x4x5 (3x3, stride 2, valid): 16*5 outputs * 18 taps = 1440
    _, row = _single(layers.Conv2D(5, 3, strides=2, use_bias=False), (9, 9, 2))
    assert row.output_shape == (4, 4, 5)
    assert row.macs == 1440 and row.params == 90


def test_dilation_does_not_change_macs():
    _, plain = _single(layers.Conv2D(4, 3, padding="same"), (16, 16, 3))
    _, dilated = _single(layers.Conv2D(4, 3, padding="same", dilation_rate=4), (16, 16, 3))
    assert plain.macs == dilated.macs == 16 * 16 * 4 * 27


def test_grouped_conv_divides_by_groups():
    # 6 -> 6 channels, 1x1, groups 3: each output sees 2 inputs: 4*4*6*2 = 192; params 6*2 = 12
    _, row = _single(layers.Conv2D(6, 1, groups=3, use_bias=False), (4, 4, 6))
    assert (row.macs, row.params) == (192, 12)


def test_depthwise_and_separable():
    # depthwise 3x3 on 8x8x3 with multiplier 2: 8*8*6*9 = 3456
    _, dw = _single(layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False), (8, 8, 3))
    assert (dw.macs, dw.params) == (3456, 54)
    # separable 3x3, 8x8x3 -> 8x8x5: 8*8*3*9 + 8*8*3*5 = 1728 + 960
    _, sep = _single(layers.SeparableConv2D(5, 3, padding="same", use_bias=False), (8, 8, 3))
    assert (sep.macs, sep.params) == (1728 + 960, 27 + 15)


def test_transposed_conv_counts_per_input_pixel():
    # 4x4x2 -> 8x8x1, kernel 4, stride 2: every input pixel scatters 4*4*1 taps: 16*2*16 = 512
    _, row = _single(layers.Conv2DTranspose(1, 4, strides=2, padding="same"), (4, 4, 2))
    assert row.output_shape == (8, 8, 1)
    assert (row.macs, row.params) == (512, 4 * 4 * 2 * 1 + 1)


def test_dense_on_vectors_and_sequences():
    _, vec = _single(layers.Dense(7), (10,))
    assert (vec.macs, vec.params) == (70, 77)
    _, seq = _single(layers.Dense(7), (5, 10))   # applied to each of 5 vectors
    assert seq.macs == 350


def test_batchnorm_is_listed_with_params_but_zero_macs():
    c, row = _single(layers.BatchNormalization(), (4, 4, 6))
    assert row.kind == "BatchNormalization"
    assert row.macs == 0
    assert row.params == 4 * 6 and row.trainable_params == 2 * 6   # gamma, beta trainable
    assert c.non_trainable_params == 12                             # moving mean, variance
    assert c.float32_bytes == 24 * 4


def test_zero_mac_layers_and_totals_add_up():
    x = keras.Input((8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same", name="a")(x)
    b = layers.MaxPooling2D(name="pool")(a)
    c_ = layers.GlobalAveragePooling2D(name="gap")(b)
    y = layers.Dense(2, name="fc")(c_)
    model = keras.Model(x, y)
    c = count(model)
    assert [r.name for r in c.layers] == ["a", "pool", "gap", "fc"]
    assert [r.macs for r in c.layers] == [6912, 0, 0, 8]
    assert c.macs == 6920
    assert c.params == model.count_params() == 112 + 10
    assert c.trainable_params == c.params
    assert c.input_shape == (8, 8, 3)
    d = c.to_dict()
    assert d["float32_bytes"] == 4 * c.params and len(d["layers"]) == 4
    assert "layers" not in c.to_dict(per_layer=False)


def test_nested_model_is_counted_through():
    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(inner_in, layers.Conv2D(4, 3, padding="same", name="conv")(inner_in), name="inner")
    x = keras.Input((8, 8, 3))
    y = layers.Conv2D(1, 1, name="head")(inner(x))
    c = count(keras.Model(x, y))
    assert [r.name for r in c.layers] == ["inner/conv", "head"]
    assert c.macs == 6912 + 8 * 8 * 4
    assert c.params == 112 + 5


def test_layer_macs_ignores_unknown_layers():
    assert layer_macs(layers.ReLU(), (None, 4, 4, 2), (None, 4, 4, 2)) == 0


@pytest.mark.parametrize("n, text", [(4253864, "4.25M"), (568_740_000, "568.74M"), (8.36e9, "8.36G"),
                                     (1500, "1.50k"), (12, "12")])
def test_format_count(n, text):
    assert format_count(n) == text
