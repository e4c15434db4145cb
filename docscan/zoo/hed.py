"""HED (Xie & Tu, 2015) edge detectors for document scanning, as in the seed.

Two backbones, both from the seed `hed-mobilenetv2-document-scanning.md`:

* ``vgg_style_hed``: the seed's slimmed VGG-16 (channels 12/24/48/96/192), with or
  without BatchNorm; side outputs after conv1_2, conv2_2, conv3_3, conv4_3, conv5_3.
* ``mobilenet_v2_style_hed``: two stride-1 3x3 convs for a full-resolution side output,
  then MobileNetV2 inverted-residual blocks at 1/2 .. 1/16 scale.

Side outputs: 1x1 conv to one channel (BN without bias where the backbone uses BN, no
activation), then a transposed conv with kernel 2f and stride f ('same') back to full
size, as in the HED reference prototxt. The fused output is a 1x1 conv (with bias) over
the five concatenated side outputs. All outputs are logits; apply a sigmoid for edges.

Input: float32 RGB scaled to [0, 1], shape (H, W, 3) with H and W divisible by 16.
Outputs, in order: ``fused``, ``side1`` .. ``side5``, each (H, W, 1).

``region_head=True`` (docscan's addition, not in the seed or the HED paper) appends a 7th
output, ``region``: logits of "inside the page" (the whole page, also where a finger
hides it), (H, W, 1). An edge map alone cannot say which of two sharp outlines is the
page (a sheet on a stack, one page of a booklet, a fold line across a page); the quad
finder uses the region map to choose among candidate quads and as a fallback outline.
The head is a two-level FPN on taps 4 and 5 (1/8, 1/16) with a global-context gate:
3,057 parameters (alpha 1.0), bilinear upsampling back to the input size.
`docscan train-region` trains a fresh head on a trained model's frozen backbone.
"""

from __future__ import annotations

import keras
from keras import layers

from docscan.zoo.layers import act, bn, channels, check_input_shape, check_positive, conv_bn_act
from docscan.zoo.mobilenet_v2 import inverted_residual as stock_inverted_residual
from docscan.zoo.table import Conv, InvertedResidual, Tap, unrolled

OUTPUT_NAMES = ("fused", "side1", "side2", "side3", "side4", "side5")
REGION_OUTPUT = "region"
REGION_CHANNELS = 16
REGION_TAPS = (3, 4)     # the backbone taps (0-based: 1/8 and 1/16) the region head reads
TOTAL_STRIDE = 16


def _check_hed_input(input_shape, arch):
    from docscan.errors import DocscanError

    h, w, c = check_input_shape(input_shape, TOTAL_STRIDE, arch)
    if h % TOTAL_STRIDE or w % TOTAL_STRIDE:
        raise DocscanError(f"{arch}: input {h}x{w} must be divisible by {TOTAL_STRIDE} (4 stride-2 stages)")
    return h, w, c


def _side_output(x, factor: int, index: int, use_bn: bool):
    """dsn{i}: 1x1 conv -> (BN) -> transposed conv (kernel 2f, stride f) when f > 1."""
    name = f"dsn{index}"
    x = layers.Conv2D(1, 1, padding="same", use_bias=not use_bn, name=f"{name}_conv")(x)
    if use_bn:
        x = bn(x, f"{name}_bn")
    if factor > 1:
        x = layers.Conv2DTranspose(1, 2 * factor, strides=factor, padding="same", use_bias=True,
                                   name=f"{name}_deconv")(x)
    return x


def region_logits(taps):
    """Page-region logits at the input size from the ``REGION_TAPS`` of ``taps`` (1/8, 1/16;
    see the module doc)."""
    c = REGION_CHANNELS
    tap4, tap5 = (taps[i] for i in REGION_TAPS)
    deep = conv_bn_act(tap5, c, 1, name="region_p5")
    # Global context: which outline is "the page" depends on the whole frame.
    gate = layers.GlobalAveragePooling2D(keepdims=True, name="region_gap")(tap5)
    gate = layers.Conv2D(c, 1, activation="sigmoid", name="region_gate")(gate)
    deep = layers.Multiply(name="region_p5_gated")([deep, gate])
    deep = layers.UpSampling2D(2, interpolation="bilinear", name="region_p5_up")(deep)
    x = layers.Add(name="region_merge")([deep, conv_bn_act(tap4, c, 1, name="region_p4")])
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="region_mix_dw")(x)
    x = conv_bn_act(x, c, 1, name="region_mix")
    x = layers.Conv2D(1, 1, use_bias=True, name="region_logits")(x)
    return layers.UpSampling2D(8, interpolation="bilinear", name="region_up")(x)


def _heads(inputs, taps, use_bn: bool, name: str, region_head: bool = False) -> keras.Model:
    sides = [_side_output(t, 2 ** i, i + 1, use_bn) for i, t in enumerate(taps)]
    fused = layers.Concatenate(axis=-1, name="dsn_fuse_concat")(sides)
    fused = layers.Conv2D(1, 1, padding="same", use_bias=True, name="dsn_fuse_conv")(fused)
    outputs = [layers.Identity(name="fused")(fused)]
    outputs += [layers.Identity(name=f"side{i + 1}")(s) for i, s in enumerate(sides)]
    if region_head:
        outputs.append(layers.Identity(name=REGION_OUTPUT)(region_logits(taps)))
    return keras.Model(inputs, outputs, name=name)


# ---------------------------------------------------------------------------------------
# VGG-style HED: one row per stage (``repeats`` 3x3 convs, then a side output); a 2x2
# max-pool follows stages 1-4.
VGG_HED_TABLE = [
    Conv(channels=12, kernel=3, repeats=2),     # conv1
    Conv(channels=24, kernel=3, repeats=2),     # conv2
    Conv(channels=48, kernel=3, repeats=3),     # conv3
    Conv(channels=96, kernel=3, repeats=3),     # conv4
    Conv(channels=192, kernel=3, repeats=3),    # conv5
]


def vgg_style_hed(input_shape=(256, 256, 3), use_batch_norm: bool = True, width: float = 1.0,
                  region_head: bool = False) -> keras.Model:
    arch = "hed_vgg_bn" if use_batch_norm else "hed_vgg"
    _check_hed_input(input_shape, arch)
    check_positive(width, "width", arch)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, taps = inputs, []
    for s, stage in enumerate(VGG_HED_TABLE):
        for j in range(stage.repeats):
            x = conv_bn_act(x, max(1, int(round(stage.channels * width))), stage.kernel, stage.stride,
                            name=f"conv{s + 1}_{j + 1}", use_bn=use_batch_norm)
        taps.append(x)
        if s < len(VGG_HED_TABLE) - 1:
            x = layers.MaxPooling2D(2, strides=2, padding="same", name=f"conv{s + 1}_pool")(x)
    return _heads(inputs, taps, use_batch_norm, arch, region_head)


# ---------------------------------------------------------------------------------------
# MobileNetV2-style HED, the seed's network: plain 3x3 conv-BN-ReLU blocks, inverted
# residuals (t, c, n, s as in MobileNetV2's table) and a ``Tap`` where each side output
# (dsn1 .. dsn5) is taken.
MOBILENET_V2_HED_TABLE = [
    Conv(channels=3, kernel=3, stride=1),       # block0: not in MobileNetV2; keeps a full-size map
    Conv(channels=6, kernel=3, stride=1),       # block1
    Tap(),                                      # dsn1, 1/1
    Conv(channels=12, kernel=3, stride=2),      # block2, 1/2
    InvertedResidual(expand=1, channels=6, repeats=1, stride=1),
    Tap(),                                      # dsn2, 1/2
    InvertedResidual(expand=6, channels=12, repeats=2, stride=2),     # 1/4
    Tap(),                                      # dsn3, 1/4
    InvertedResidual(expand=6, channels=24, repeats=3, stride=2),     # 1/8
    Tap(),                                      # dsn4, 1/8
    InvertedResidual(expand=6, channels=48, repeats=4, stride=2),     # 1/16
    InvertedResidual(expand=6, channels=64, repeats=3, stride=1),
    Tap(),                                      # dsn5, 1/16
]


def inverted_residual(x, expansion: int, filters: int, stride: int, name: str):
    """The seed's block: 1x1 expand (BN, ReLU6) -> 3x3 depthwise (BN, ReLU6) -> 1x1 project (BN).

    Unlike stock MobileNetV2, the seed always expands (also when expansion == 1) and, at
    stride 1, adds a 1x1 conv + BN on the shortcut when the channel count changes.
    """
    shortcut = x
    y = conv_bn_act(x, channels(x) * expansion, 1, name=f"{name}_expand", activation="relu6")
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(y)
    y = act(bn(y, f"{name}_dw_bn"), "relu6", f"{name}_dw_relu6")
    y = conv_bn_act(y, filters, 1, name=f"{name}_project", activation=None)
    if stride != 1:
        return y
    if channels(shortcut) != filters:
        shortcut = conv_bn_act(shortcut, filters, 1, name=f"{name}_shortcut", activation=None)
    return layers.Add(name=f"{name}_add")([y, shortcut])


def mobilenet_v2_style_hed(input_shape=(256, 256, 3), alpha: float = 1.0,
                           region_head: bool = False) -> keras.Model:
    """The seed's network; ``alpha`` scales every block's output channels (1.0 = seed)."""
    arch = "hed_mobilenet_v2"
    _check_hed_input(input_shape, arch)
    check_positive(alpha, "alpha", arch)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, taps, n = inputs, [], 0
    for row in unrolled(MOBILENET_V2_HED_TABLE):
        if isinstance(row, Tap):
            taps.append(x)
            continue
        filters = max(1, int(round(row.channels * alpha)))
        if isinstance(row, Conv):
            x = conv_bn_act(x, filters, row.kernel, row.stride, name=f"block{n}")
        else:
            x = inverted_residual(x, row.expand, filters, row.stride, name=f"block{n}")
        n += 1
    return _heads(inputs, taps, True, arch, region_head)


# ---------------------------------------------------------------------------------------
# HED on stock MobileNetV2 (Keras applications' body, alpha 1.0, through the first 96-channel
# block), so that ImageNet weights fit its layers (``docscan.zoo.imagenet``). The seed's
# narrower body cannot take them. Stock MobileNetV2 starts at stride 2, so dsn1 reads the
# seed's two full-size convs (``full0``, ``full1``), a branch beside the body.
MOBILENET_V2_STOCK_FULL_SIZE = [
    Conv(channels=3, kernel=3, stride=1),       # full0
    Conv(channels=6, kernel=3, stride=1),       # full1 -> dsn1, 1/1
]
MOBILENET_V2_STOCK_HED_TABLE = [
    Conv(channels=32, kernel=3, stride=2),                            # conv0 (Keras Conv1)
    InvertedResidual(expand=1, channels=16, repeats=1, stride=1),     # block1 (expanded_conv)
    Tap(),                                                            # dsn2, 1/2
    InvertedResidual(expand=6, channels=24, repeats=2, stride=2),     # block2-3, 1/4
    Tap(),                                                            # dsn3
    InvertedResidual(expand=6, channels=32, repeats=3, stride=2),     # block4-6, 1/8
    Tap(),                                                            # dsn4
    InvertedResidual(expand=6, channels=64, repeats=4, stride=2),     # block7-10, 1/16
    InvertedResidual(expand=6, channels=96, repeats=1, stride=1),     # block11 (block_10)
    Tap(),                                                            # dsn5
]


def mobilenet_v2_stock_hed(input_shape=(256, 256, 3), region_head: bool = False) -> keras.Model:
    """HED on stock MobileNetV2's first 12 layers; block ``i`` is Keras' ``block_{i-1}``."""
    arch = "hed_mobilenet_v2_stock"
    _check_hed_input(input_shape, arch)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    full = inputs
    for i, row in enumerate(MOBILENET_V2_STOCK_FULL_SIZE):
        full = conv_bn_act(full, row.channels, row.kernel, row.stride, name=f"full{i}")
    x, taps, n = inputs, [full], 0
    for row in unrolled(MOBILENET_V2_STOCK_HED_TABLE):
        if isinstance(row, Tap):
            taps.append(x)
            continue
        if isinstance(row, Conv):
            x = conv_bn_act(x, row.channels, row.kernel, row.stride, name=f"conv{n}", activation="relu6")
        else:
            x = stock_inverted_residual(x, row.expand, row.channels, row.stride, 1, name=f"block{n}")
        n += 1
    return _heads(inputs, taps, True, arch, region_head)
