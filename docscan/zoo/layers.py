"""Small layer helpers shared by the zoo networks (the seed's `_conv2d`-style functions).

Each helper takes a tensor and returns a tensor, so a network body reads as a table.
Batch-norm settings follow tf.layers' defaults used by the seed (momentum 0.99, eps 1e-3).
"""

from __future__ import annotations

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
                dilation=1, padding="same", groups=1):
    """Conv2D (no bias when BN follows) -> BN -> activation."""
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, dilation_rate=dilation,
                      groups=groups, use_bias=not use_bn, kernel_initializer="glorot_uniform",
                      name=f"{name}_conv")(x)
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


# --- helpers for the classification backbones (MobileNet, SqueezeNet, ShuffleNet, Xception) ---

def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` without losing more than 10%.

    The rule of the TF-slim / Keras MobileNetV2 code (``_make_divisible``).
    """
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def fixed_padding(x, kernel: int, dilation: int = 1, *, name):
    """Symmetric zero padding so a 'valid' conv keeps PyTorch's padding=k//2 alignment.

    TensorFlow's 'same' pads stride-2 convs at the bottom/right only; the seeds' PyTorch
    code pads both sides (``fixed_padding`` in the aligned-Xception seed).
    """
    effective = kernel + (kernel - 1) * (dilation - 1)
    total = effective - 1
    begin = total // 2
    return layers.ZeroPadding2D(((begin, total - begin), (begin, total - begin)), name=name)(x)


def max_pool_ceil(x, pool: int, stride: int, *, name):
    """Max-pool with PyTorch's ``ceil_mode=True`` output size: ceil((n - k) / s) + 1.

    The extra bottom/right window is zero padded; this equals padding with -inf because
    every caller pools a ReLU output (>= 0) and each window keeps at least one real pixel.
    """
    h, w = int(x.shape[1]), int(x.shape[2])
    pad_h = _ceil_pad(h, pool, stride)
    pad_w = _ceil_pad(w, pool, stride)
    if pad_h or pad_w:
        x = layers.ZeroPadding2D(((0, pad_h), (0, pad_w)), name=f"{name}_ceilpad")(x)
    return layers.MaxPooling2D(pool, strides=stride, padding="valid", name=name)(x)


def _ceil_pad(n: int, pool: int, stride: int) -> int:
    out = -(-(n - pool) // stride) + 1
    return max(0, (out - 1) * stride + pool - n)


def channel_shuffle(x, groups: int, *, name):
    """ShuffleNet's shuffle: (H, W, g*n) -> (H, W, g, n) -> transpose -> (H, W, n*g)."""
    if groups == 1:
        return x
    h, w, c = (int(v) for v in x.shape[1:])
    x = layers.Reshape((h, w, groups, c // groups), name=f"{name}_split")(x)
    x = layers.Permute((1, 2, 4, 3), name=f"{name}_transpose")(x)
    return layers.Reshape((h, w, c), name=name)(x)


def classifier(x, classes: int, *, dropout: float = 0.0, activation="softmax", name="predictions"):
    """Global average pool -> (dropout) -> fully connected, the head the papers count."""
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return layers.Dense(classes, activation=activation, name=name)(x)


def check_classes(include_top: bool, classes, arch: str) -> None:
    from docscan.errors import DocscanError

    if include_top and (not isinstance(classes, int) or isinstance(classes, bool) or classes < 1):
        raise DocscanError(f"{arch}: classes must be a positive integer, got {classes!r}")
