"""MobileNetV2 (Sandler et al., 2018, arXiv:1801.04381), Table 2 of the paper.

The body is the TF-slim ``V2_DEF`` spec quoted in the seed ``mobilenetv2-notes.txt``,
written as the paper's Table 2 rows (t, c, n, s): a 3x3 conv, 17 inverted residual
("expanded conv") blocks in 7 rows and a 1x1 conv to 1280 channels. An inverted
residual is 1x1 expand (BN, ReLU6) -> 3x3 depthwise (BN, ReLU6) -> 1x1 linear
projection (BN), with a shortcut when stride is 1 and the channel count is unchanged.
The first block (expansion 1) has no expand conv, as in the slim and Keras code.

Knobs:
* ``alpha``: width multiplier; channels are rounded to multiples of 8 (slim's
  ``_make_divisible``); the last conv keeps 1280 channels unless alpha > 1.
* resolution through ``input_shape``.
* ``output_stride``: slim's atrous trick. Once the running stride reaches
  ``output_stride``, later stride-2 layers run at stride 1 and the dilation rate of
  every following depthwise conv is multiplied by the skipped stride.

At alpha 1.0 / 224 with the 1000-class head: 3,538,984 parameters (Keras counts BN moving
statistics; 3,504,872 trainable), ~300M multiply-adds (paper, Table 4).
"""

from __future__ import annotations

import keras
from keras import layers

from docscan.errors import DocscanError
from docscan.zoo.layers import (
    act,
    bn,
    channels,
    check_classes,
    check_input_shape,
    check_positive,
    classifier,
    conv_bn_act,
    make_divisible,
)
from docscan.zoo.table import Conv, InvertedResidual, unrolled

TOTAL_STRIDE = 32
OUTPUT_STRIDES = (1, 2, 4, 8, 16, 32)

# The seed's V2_DEF spec, grouped as the paper's Table 2 (t, c, n, s).
MOBILENET_V2_TABLE = [
    Conv(channels=32, kernel=3, stride=2),
    InvertedResidual(expand=1, channels=16, repeats=1, stride=1),
    InvertedResidual(expand=6, channels=24, repeats=2, stride=2),
    InvertedResidual(expand=6, channels=32, repeats=3, stride=2),
    InvertedResidual(expand=6, channels=64, repeats=4, stride=2),
    InvertedResidual(expand=6, channels=96, repeats=3, stride=1),
    InvertedResidual(expand=6, channels=160, repeats=3, stride=2),
    InvertedResidual(expand=6, channels=320, repeats=1, stride=1),
    Conv(channels=1280, kernel=1, stride=1),
]


def inverted_residual(x, expansion: int, filters: int, stride: int, dilation: int, name: str):
    shortcut = x
    in_channels = channels(x)
    if expansion != 1:
        x = conv_bn_act(x, in_channels * expansion, 1, name=f"{name}_expand", activation="relu6")
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", dilation_rate=dilation, use_bias=False,
                               name=f"{name}_dw")(x)
    x = act(bn(x, f"{name}_dw_bn"), "relu6", f"{name}_dw_relu6")
    x = conv_bn_act(x, filters, 1, name=f"{name}_project", activation=None)
    if stride == 1 and in_channels == filters:
        x = layers.Add(name=f"{name}_add")([shortcut, x])
    return x


def mobilenet_v2(input_shape=(224, 224, 3), alpha: float = 1.0, output_stride: int | None = None,
                 include_top: bool = True, classes: int = 1000, dropout: float = 0.0,
                 classifier_activation="softmax") -> keras.Model:
    arch = "mobilenet_v2"
    check_positive(alpha, "alpha", arch)
    if output_stride is not None and output_stride not in OUTPUT_STRIDES:
        raise DocscanError(f"{arch}: output_stride must be one of {OUTPUT_STRIDES} or None, got {output_stride!r}")
    check_input_shape(input_shape, output_stride or TOTAL_STRIDE, arch)
    check_classes(include_top, classes, arch)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    current_stride, rate = 1, 1
    rows = list(unrolled(MOBILENET_V2_TABLE))
    for i, row in enumerate(rows):
        # slim's mobilenet_base: past the target stride, trade stride for dilation.
        if output_stride is not None and current_stride == output_stride:
            layer_stride, layer_rate = 1, rate
            rate *= row.stride
        else:
            layer_stride, layer_rate = row.stride, 1
            current_stride *= row.stride
        if isinstance(row, Conv):
            last = i == len(rows) - 1
            filters = make_divisible(row.channels * alpha) if (not last or alpha > 1.0) else row.channels
            x = conv_bn_act(x, filters, row.kernel, layer_stride, name=f"conv{i}", activation="relu6",
                            dilation=layer_rate)
        else:
            x = inverted_residual(x, row.expand, make_divisible(row.channels * alpha), layer_stride, layer_rate,
                                  name=f"block{i}")
    if include_top:
        x = classifier(x, classes, dropout=dropout, activation=classifier_activation)
    suffix = f"_os{output_stride}" if output_stride else ""
    return keras.Model(inputs, x, name=f"mobilenet_v2_{alpha:g}_{int(input_shape[0])}{suffix}")
