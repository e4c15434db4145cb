"""Xception (Chollet, 2017, arXiv:1610.02357) and the "aligned" Xception of DeepLabv3+.

``xception``: the paper's Fig. 5 (entry flow, 8 middle-flow blocks, exit flow), as in
keras.applications: separable convs (no bias) + BN, residual 1x1/2 conv + BN shortcuts,
3x3/2 max-pools. 22,910,480 parameters with the 1000-class head (22,855,952 trainable,
the paper's Table 3 figure; Keras adds the BN moving statistics).

``xception_aligned``: the seed ``lightweight-cnns-pytorch.txt`` (``AlignedXception``
from pytorch-deeplab-xception, Chen et al. 2018, arXiv:1802.02611, Fig. 4): 16 middle
blocks instead of 8, every max-pool replaced by a stride-2 separable conv, extra
separable convs in the exit flow, and BN between the depthwise and the pointwise part of
each separable conv. ``output_stride`` 16 or 8 trades late strides for dilation exactly
as the seed does; 32 (our addition, for classification) keeps the exit block's stride.
Stride-2 convs pad symmetrically as the seed's ``fixed_padding``. Shortcuts take the
block input before its first ReLU, as in the DeepLab TF code (the seed's in-place ReLU
makes its PyTorch shortcut see the activated input; parameters and MACs are the same).
"""

from __future__ import annotations

from typing import NamedTuple

import keras
from keras import layers

from docscan.errors import DocscanError
from docscan.zoo.layers import act, bn, check_classes, check_input_shape, classifier, conv_bn_act, fixed_padding
from docscan.zoo.table import Conv, Relu, unrolled


class XceptionBlock(NamedTuple):
    """Separable convs (each followed by BN, ReLU before all but maybe the first) added to a
    shortcut: the input itself, or a 1x1 conv + BN where stride or channels change."""

    channels: tuple[int, ...]       # of each separable conv, in order
    repeats: int = 1
    stride: int | str = 1           # of the block; aligned Xception: a key of ALIGNED_SETTINGS
    relu_first: bool = True         # a ReLU before the first separable conv too
    dilation: str | None = None     # aligned Xception: a key of ALIGNED_SETTINGS (None: 1)


class SepConv(NamedTuple):
    """(ReLU ->) separable conv -> BN -> ReLU, outside any block (the exit flow's last convs)."""

    channels: int
    relu_first: bool = False
    dilation: str | None = None     # aligned Xception: a key of ALIGNED_SETTINGS (None: 1)


# ---------------------------------------------------------------------------------------
# Original Xception, Fig. 5. Conv: valid 3x3 conv-BN-ReLU. A stride-2 block ends in a 3x3/2
# max-pool and has a 1x1/2 conv shortcut.
XCEPTION_TABLE = [
    Conv(channels=32, kernel=3, stride=2),
    Conv(channels=64, kernel=3, stride=1),
    XceptionBlock(channels=(128, 128), stride=2, relu_first=False),       # entry flow
    XceptionBlock(channels=(256, 256), stride=2),
    XceptionBlock(channels=(728, 728), stride=2),
    XceptionBlock(channels=(728, 728, 728), repeats=8, stride=1),          # middle flow
    XceptionBlock(channels=(728, 1024), stride=2),                         # exit flow
    SepConv(channels=1536),
    SepConv(channels=2048),
]
XCEPTION_MIN_SIZE = 71   # two valid 3x3 convs and five stride-2 stages


def _sep_bn(x, filters, name, dilation=1):
    x = layers.SeparableConv2D(filters, 3, padding="same", dilation_rate=dilation, use_bias=False,
                               name=f"{name}_sepconv")(x)
    return bn(x, f"{name}_bn")


def xception(input_shape=(299, 299, 3), include_top: bool = True, classes: int = 1000,
             classifier_activation="softmax") -> keras.Model:
    arch = "xception"
    check_input_shape(input_shape, XCEPTION_MIN_SIZE, arch)
    check_classes(include_top, classes, arch)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for i, row in enumerate(unrolled(XCEPTION_TABLE)):
        name = f"block{i}"
        if isinstance(row, Conv):
            x = conv_bn_act(x, row.channels, row.kernel, row.stride, name=name, padding="valid")
        elif isinstance(row, SepConv):
            x = act(_sep_bn(x, row.channels, name), "relu", f"{name}_relu")
        else:
            shortcut = x
            if row.stride != 1:
                shortcut = conv_bn_act(x, row.channels[-1], 1, row.stride, name=f"{name}_shortcut",
                                       activation=None)
            for j, f in enumerate(row.channels):
                if j or row.relu_first:
                    x = act(x, "relu", f"{name}_sep{j + 1}_relu")
                x = _sep_bn(x, f, f"{name}_sep{j + 1}")
            if row.stride != 1:
                x = layers.MaxPooling2D(3, strides=row.stride, padding="same", name=f"{name}_pool")(x)
            x = layers.Add(name=f"{name}_add")([x, shortcut])
    if include_top:
        x = classifier(x, classes, activation=classifier_activation)
    return keras.Model(inputs, x, name=f"xception_{int(input_shape[0])}")


# ---------------------------------------------------------------------------------------
# Aligned Xception, the seed's AlignedXception. Conv: 3x3 conv-BN-ReLU (symmetric padding
# at stride 2); Relu(): the seed's extra ReLU after block1; a block's last separable conv
# has the block's stride; SepConv is ReLU (conv3 only) -> separable conv -> BN -> ReLU.
# String strides and dilations name what ``output_stride`` chooses (ALIGNED_SETTINGS).
ALIGNED_XCEPTION_TABLE = [
    Conv(channels=32, kernel=3, stride=2),                                   # conv1
    Conv(channels=64, kernel=3, stride=1),                                   # conv2
    XceptionBlock(channels=(128, 128, 128), stride=2, relu_first=False),     # block1
    Relu(),
    XceptionBlock(channels=(256, 256, 256), stride=2, relu_first=False),     # block2
    XceptionBlock(channels=(728, 728, 728), stride="entry3"),                # block3
    XceptionBlock(channels=(728, 728, 728), repeats=16, dilation="middle"),  # block4 .. block19
    XceptionBlock(channels=(728, 1024, 1024), stride="exit", dilation="exit0"),  # block20
    SepConv(channels=1536, relu_first=True, dilation="exit1"),               # conv3
    SepConv(channels=1536, dilation="exit1"),                                # conv4
    SepConv(channels=2048, dilation="exit1"),                                # conv5
]
# output_stride -> strides and dilations (seed: 16 and 8; 32 for ImageNet classification)
ALIGNED_SETTINGS = {
    32: {"entry3": 2, "exit": 2, "middle": 1, "exit0": 1, "exit1": 1},
    16: {"entry3": 2, "exit": 1, "middle": 1, "exit0": 1, "exit1": 2},
    8: {"entry3": 1, "exit": 1, "middle": 2, "exit0": 2, "exit1": 4},
}


def aligned_separable(x, filters: int, stride: int, dilation: int, name: str):
    """The seed's SeparableConv2d + the BN after it: depthwise -> BN -> pointwise -> BN."""
    if stride != 1:
        x = fixed_padding(x, 3, dilation, name=f"{name}_pad")
    x = layers.DepthwiseConv2D(3, strides=stride, dilation_rate=dilation, use_bias=False,
                               padding="valid" if stride != 1 else "same", name=f"{name}_dw")(x)
    x = bn(x, f"{name}_dw_bn")
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    return bn(x, f"{name}_pw_bn")


def _aligned_block(x, filters, stride, start_relu, dilation, is_exit, name):
    shortcut = x
    if stride != 1 or int(x.shape[-1]) != filters[-1]:
        shortcut = conv_bn_act(x, filters[-1], 1, stride, name=f"{name}_skip", activation=None,
                               padding="valid")
    for j, f in enumerate(filters):
        last = j == len(filters) - 1
        if j or start_relu:
            x = act(x, "relu", f"{name}_sep{j + 1}_relu")
        # The seed gives the last (strided or "is_last") separable conv no dilation; in
        # block20 its earlier convs use exit0 dilation.
        rate = 1 if last and (stride != 1 or is_exit) else dilation
        x = aligned_separable(x, f, stride if last else 1, rate, f"{name}_sep{j + 1}")
    return layers.Add(name=f"{name}_add")([x, shortcut])


def xception_aligned(input_shape=(512, 512, 3), output_stride: int = 16, include_top: bool = False,
                     classes: int = 1000, classifier_activation="softmax") -> keras.Model:
    arch = "xception_aligned"
    if output_stride not in ALIGNED_SETTINGS:
        raise DocscanError(f"{arch}: output_stride must be one of {sorted(ALIGNED_SETTINGS)}, "
                           f"got {output_stride!r}")
    check_input_shape(input_shape, output_stride, arch)
    check_classes(include_top, classes, arch)
    setting = ALIGNED_SETTINGS[output_stride]
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, n_block, n_conv = inputs, 0, 0
    for row in unrolled(ALIGNED_XCEPTION_TABLE):
        if isinstance(row, Conv):
            n_conv += 1
            name = f"conv{n_conv}"
            if row.stride != 1:
                x = fixed_padding(x, row.kernel, name=f"{name}_pad")
            x = conv_bn_act(x, row.channels, row.kernel, row.stride, name=name,
                            padding="valid" if row.stride != 1 else "same")
        elif isinstance(row, Relu):
            x = act(x, "relu", f"block{n_block}_out_relu")
        elif isinstance(row, XceptionBlock):
            n_block += 1
            stride = setting.get(row.stride, row.stride)
            dilation = setting[row.dilation] if row.dilation else 1
            x = _aligned_block(x, row.channels, stride, row.relu_first, dilation, row.dilation == "exit0",
                               f"block{n_block}")
        else:
            n_conv += 1
            name = f"conv{n_conv}"
            x = act(x, "relu", f"{name}_in_relu") if row.relu_first else x
            x = aligned_separable(x, row.channels, 1, setting[row.dilation], name)
            x = act(x, "relu", f"{name}_relu")
    if include_top:
        x = classifier(x, classes, activation=classifier_activation)
    return keras.Model(inputs, x, name=f"xception_aligned_os{output_stride}_{int(input_shape[0])}")
