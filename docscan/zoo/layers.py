"""Small layer helpers shared by the zoo networks (the seed's `_conv2d`-style functions).

Each helper takes a tensor and returns a tensor, so a network body reads as a table.
Batch-norm settings follow tf.layers' defaults used by the seed (momentum 0.99, eps 1e-3).
"""

from __future__ import annotations

import keras
from keras import layers

BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3


def bn(x, name):
    return layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)


def act(x, kind, name):
    if kind is None:
        return x
    if kind == "relu6":
        return layers.ReLU(max_value=6.0, name=name)(x)
    return layers.Activation(kind, name=name)(x)


def conv_bn_act(x, filters, kernel, stride=1, *, name, activation="relu", use_bn=True,
                dilation=1, padding="same"):
    """Conv2D (no bias when BN follows) -> BN -> activation."""
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, dilation_rate=dilation,
                      use_bias=not use_bn, kernel_initializer="glorot_uniform", name=f"{name}_conv")(x)
    if use_bn:
        x = bn(x, f"{name}_bn")
    return act(x, activation, f"{name}_{activation}" if activation else None)


def depthwise_bn_act(x, kernel, stride=1, *, name, activation="relu", dilation=1, depth_multiplier=1):
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", dilation_rate=dilation,
                               depth_multiplier=depth_multiplier, use_bias=False,
                               depthwise_initializer="glorot_uniform", name=f"{name}_dw")(x)
    x = bn(x, f"{name}_dw_bn")
    return act(x, activation, f"{name}_dw_{activation}" if activation else None)


def channels(x) -> int:
    return int(x.shape[-1])


def check_input_shape(input_shape, min_size: int, arch: str) -> tuple[int, int, int]:
    """Validate (H, W, C); the network's total stride sets the smallest usable size."""
    from docscan.errors import DocscanError

    try:
        h, w, c = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise DocscanError(f"{arch}: input_shape must be (height, width, channels), got {input_shape!r}") from None
    if c <= 0:
        raise DocscanError(f"{arch}: input must have at least one channel, got {c}")
    if h < min_size or w < min_size:
        raise DocscanError(f"{arch}: input {h}x{w} is too small; this network needs at least {min_size}x{min_size}")
    return h, w, c


def check_positive(value, name: str, arch: str):
    from docscan.errors import DocscanError

    if not value > 0:
        raise DocscanError(f"{arch}: {name} must be > 0, got {value}")
    return value


def model(inputs, outputs, name) -> keras.Model:
    return keras.Model(inputs, outputs, name=name)
