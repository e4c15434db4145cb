"""MobileNetV1 (Howard et al., 2017, arXiv:1704.04861), Table 1 of the paper.

A 3x3 conv, then 13 depthwise-separable blocks (3x3 depthwise -> BN -> ReLU6 -> 1x1
pointwise -> BN -> ReLU6), global average pool and a fully connected classifier.

Knobs: ``alpha`` (width multiplier: every layer's channels times alpha) and the input
resolution (``input_shape``; the paper's resolution multiplier). ReLU6 and the dropout
rate follow the released TF-slim / Keras weights (the paper just says ReLU).
Stride-2 layers use TensorFlow 'same' padding, as TF-slim does.

At alpha 1.0 / 224 with the 1000-class head this is 4,253,864 parameters (Keras counts
BN moving mean/variance; 4,231,976 trainable) and ~569M multiply-adds (paper, Table 8).
"""

from __future__ import annotations

import keras

from docscan.zoo.layers import (
    check_classes,
    check_input_shape,
    check_positive,
    classifier,
    conv_bn_act,
    depthwise_bn_act,
)
from docscan.zoo.table import Conv, Separable, unrolled

TOTAL_STRIDE = 32

# Paper Table 1, consecutive equal layers as one row (the first repeat has the stride).
MOBILENET_V1_TABLE = [
    Conv(channels=32, kernel=3, stride=2),
    Separable(channels=64, repeats=1, stride=1),
    Separable(channels=128, repeats=2, stride=2),
    Separable(channels=256, repeats=2, stride=2),
    Separable(channels=512, repeats=6, stride=2),
    Separable(channels=1024, repeats=2, stride=2),
]


def mobilenet_v1(input_shape=(224, 224, 3), alpha: float = 1.0, include_top: bool = True,
                 classes: int = 1000, dropout: float = 1e-3,
                 classifier_activation="softmax") -> keras.Model:
    arch = "mobilenet_v1"
    check_positive(alpha, "alpha", arch)
    check_input_shape(input_shape, TOTAL_STRIDE, arch)
    check_classes(include_top, classes, arch)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for i, row in enumerate(unrolled(MOBILENET_V1_TABLE)):
        filters = max(1, int(row.channels * alpha))
        if isinstance(row, Conv):
            x = conv_bn_act(x, filters, row.kernel, row.stride, name=f"conv{i}", activation="relu6")
        else:
            x = depthwise_bn_act(x, 3, row.stride, name=f"block{i}", activation="relu6")
            x = conv_bn_act(x, filters, 1, name=f"block{i}_pw", activation="relu6")
    if include_top:
        x = classifier(x, classes, dropout=dropout, activation=classifier_activation)
    return keras.Model(inputs, x, name=f"mobilenet_v1_{alpha:g}_{int(input_shape[0])}")
