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
# VGG-style HED: (stage, [filters of each 3x3 conv]); a 2x2 max-pool follows stages 1-4.
VGG_HED_STAGES = [
    ("conv1", [12, 12]),
    ("conv2", [24, 24]),
    ("conv3", [48, 48, 48]),
    ("conv4", [96, 96, 96]),
    ("conv5", [192, 192, 192]),
]


def vgg_style_hed(input_shape=(256, 256, 3), use_batch_norm: bool = True, width: float = 1.0,
                  region_head: bool = False) -> keras.Model:
    arch = "hed_vgg_bn" if use_batch_norm else "hed_vgg"
    _check_hed_input(input_shape, arch)
    check_positive(width, "width", arch)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, taps = inputs, []
    for s, (stage, filters) in enumerate(VGG_HED_STAGES):
        for j, f in enumerate(filters):
            x = conv_bn_act(x, max(1, int(round(f * width))), 3, name=f"{stage}_{j + 1}", use_bn=use_batch_norm)
        taps.append(x)
        if s < len(VGG_HED_STAGES) - 1:
            x = layers.MaxPooling2D(2, strides=2, padding="same", name=f"{stage}_pool")(x)
    return _heads(inputs, taps, use_batch_norm, arch, region_head)


# ---------------------------------------------------------------------------------------
# MobileNetV2-style HED, the seed's table: ("conv", filters, stride) for plain conv-BN-ReLU
# blocks, ("ir", filters, stride, expansion) for inverted residuals, ("tap",) marks where a
# side output is taken (dsn1 .. dsn5).
MOBILENET_V2_HED_TABLE = [
    ("conv", 3, 1),          # block0_0: not in MobileNetV2; keeps a full-size feature map
    ("conv", 6, 1),          # block0_1
    ("tap",),                # dsn1, 1/1
    ("conv", 12, 2),         # block0_2, 1/2
    ("ir", 6, 1, 1),         # block1_0
    ("tap",),                # dsn2, 1/2
    ("ir", 12, 2, 6),        # block2_0, 1/4
    ("ir", 12, 1, 6),        # block2_1
    ("tap",),                # dsn3, 1/4
    ("ir", 24, 2, 6),        # block3_0, 1/8
    ("ir", 24, 1, 6),
    ("ir", 24, 1, 6),
    ("tap",),                # dsn4, 1/8
    ("ir", 48, 2, 6),        # block4_0, 1/16
    ("ir", 48, 1, 6),
    ("ir", 48, 1, 6),
    ("ir", 48, 1, 6),
    ("ir", 64, 1, 6),        # block5_0
    ("ir", 64, 1, 6),
    ("ir", 64, 1, 6),
    ("tap",),                # dsn5, 1/16
]


def inverted_residual(x, filters: int, stride: int, expansion: int, name: str):
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
    for row in MOBILENET_V2_HED_TABLE:
        if row[0] == "tap":
            taps.append(x)
            continue
        filters = max(1, int(round(row[1] * alpha)))
        if row[0] == "conv":
            x = conv_bn_act(x, filters, 3, row[2], name=f"block{n}")
        else:
            x = inverted_residual(x, filters, row[2], row[3], name=f"block{n}")
        n += 1
    return _heads(inputs, taps, True, arch, region_head)
