"""ShuffleNet v1 (Zhang et al., 2017, arXiv:1707.01083), Table 1 of the paper.

conv1 3x3/2 (24 channels) -> max-pool 3x3/2 -> stages 2, 3, 4 of 4, 8 and 4 ShuffleNet
units -> global average pool -> fully connected. A unit (paper Fig. 2):

* 1x1 group conv (BN, ReLU) -> channel shuffle -> 3x3 depthwise (BN, no ReLU) ->
  1x1 group conv (BN); stride 1: add the input, then ReLU.
* stride 2 (first unit of a stage): the depthwise conv has stride 2, the shortcut is a
  3x3/2 average pool, the two are concatenated (so the residual branch makes
  ``out - in`` channels), then ReLU.
* bottleneck width = 1/4 of the unit's output channels (paper, Sec. 3.3);
* stage 2's first 1x1 conv is not grouped (only 24 input channels), so it needs no
  shuffle either (the seed does the same).

Knobs: ``groups`` g in 1/2/3/4/8 sets the stage widths (Table 1), ``scale`` s multiplies
every layer's channels ("ShuffleNet s x"). Channel counts that the groups do not divide
are refused rather than silently rounded. BN follows every conv as in the seed; conv1
has BN + ReLU as in the authors' release (megvii ShuffleNet-Series).

The paper gives complexity, not parameters: 1x g=3 is 140 MFLOPs (multiply-adds) at 224.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
from keras import layers

from docscan.errors import DocscanError
from docscan.zoo.layers import (
    act,
    bn,
    channel_shuffle,
    check_classes,
    check_input_shape,
    check_positive,
    classifier,
    conv_bn_act,
)

TOTAL_STRIDE = 32

# Paper Table 1: output channels of stages 2, 3, 4 for each group count (1x).
STAGE_CHANNELS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
                  4: (272, 544, 1088), 8: (384, 768, 1536)}
CONV1_CHANNELS = 24


class Stage(NamedTuple):
    """``repeats`` ShuffleNet units; the first at ``stride`` (a concat shortcut), the rest at 1."""

    repeats: int
    stride: int = 2


# Paper Table 1: stages 2, 3 and 4 (their widths per group count in STAGE_CHANNELS).
STAGES = [
    Stage(repeats=4, stride=2),     # stage2
    Stage(repeats=8, stride=2),     # stage3
    Stage(repeats=4, stride=2),     # stage4
]


def stage_name(index: int) -> str:
    return f"stage{index + 2}"


def shufflenet_unit(x, out_channels: int, stride: int, groups: int, first_grouped: bool, name: str):
    in_channels = int(x.shape[-1])
    branch = out_channels - in_channels if stride == 2 else out_channels
    bottleneck = out_channels // 4
    g1 = groups if first_grouped else 1
    y = conv_bn_act(x, bottleneck, 1, name=f"{name}_gconv1", groups=g1)
    y = channel_shuffle(y, g1, name=f"{name}_shuffle")
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(y)
    y = bn(y, f"{name}_dw_bn")
    y = conv_bn_act(y, branch, 1, name=f"{name}_gconv2", groups=groups, activation=None)
    if stride == 2:
        shortcut = layers.AveragePooling2D(3, strides=2, padding="same", name=f"{name}_avgpool")(x)
        y = layers.Concatenate(axis=-1, name=f"{name}_concat")([y, shortcut])
    else:
        y = layers.Add(name=f"{name}_add")([y, x])
    return act(y, "relu", f"{name}_relu")


def _check_channels(groups: int, scale: float, arch: str) -> tuple[int, list[int]]:
    """Every 1x1 group conv must see and make channel counts divisible by ``groups``."""
    conv1 = max(1, int(CONV1_CHANNELS * scale))
    stages = [int(c * scale) for c in STAGE_CHANNELS[groups]]
    previous = conv1
    for i, out in enumerate(stages):
        stage = stage_name(i)
        for what, value in ((f"{stage} output channels", out),
                            (f"{stage} bottleneck channels", out // 4),
                            (f"{stage} first-unit branch channels", out - previous)):
            if value < 1 or value % groups:
                raise DocscanError(f"{arch}: groups={groups} does not divide the {what} ({value}) "
                                   f"at scale {scale:g}")
        previous = out
    return conv1, stages


def shufflenet(input_shape=(224, 224, 3), groups: int = 3, scale: float = 1.0, include_top: bool = True,
               classes: int = 1000, classifier_activation="softmax") -> keras.Model:
    arch = "shufflenet"
    if groups not in STAGE_CHANNELS:
        raise DocscanError(f"{arch}: groups must be one of {sorted(STAGE_CHANNELS)}, got {groups!r}")
    check_positive(scale, "scale", arch)
    check_input_shape(input_shape, TOTAL_STRIDE, arch)
    check_classes(include_top, classes, arch)
    conv1, stage_channels = _check_channels(groups, scale, arch)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv_bn_act(inputs, conv1, 3, 2, name="conv1")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="maxpool")(x)
    for s, (stage, out) in enumerate(zip(STAGES, stage_channels)):
        for u in range(stage.repeats):
            x = shufflenet_unit(x, out, stage.stride if u == 0 else 1, groups, first_grouped=(s, u) != (0, 0),
                                name=f"{stage_name(s)}_{u + 1}")
    if include_top:
        x = classifier(x, classes, activation=classifier_activation)
    return keras.Model(inputs, x, name=f"shufflenet_{scale:g}x_g{groups}_{int(input_shape[0])}")
