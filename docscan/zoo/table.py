"""The rows the zoo networks are written in: one named row type per kind of block.

Every network is a list of these rows, read top to bottom like the papers' tables (and
keras' ``applications/mobilenet_v2.py``). Fields come in one order everywhere: what the
block expands or squeezes by, its output ``channels``, its ``kernel``, how many times it
``repeats`` and its ``stride`` (the first repeat's; the rest run at stride 1), then
anything particular to the block. Write rows with keywords:
``InvertedResidual(expand=6, channels=24, repeats=2, stride=2)`` is the paper's
"t=6, c=24, n=2, s=2".

``unrolled(table)`` turns repeats into one row per layer, which is what the builders walk
(so layer names count layers, not table rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple


class Conv(NamedTuple):
    """A plain convolution (BN and activation as the network does them)."""

    channels: int
    kernel: int = 3
    repeats: int = 1
    stride: int = 1


class Separable(NamedTuple):
    """MobileNetV1's depthwise-separable block: 3x3 depthwise (``stride``) -> 1x1 pointwise."""

    channels: int
    repeats: int = 1
    stride: int = 1


class InvertedResidual(NamedTuple):
    """MobileNetV2's block: 1x1 expand by ``expand`` -> 3x3 depthwise (``stride``) -> 1x1 linear."""

    expand: int
    channels: int
    repeats: int = 1
    stride: int = 1


class Fire(NamedTuple):
    """SqueezeNet's Fire module: 1x1 ``squeeze`` -> [1x1 ``expand1x1``, 3x3 ``expand3x3``]."""

    squeeze: int
    expand1x1: int
    expand3x3: int
    repeats: int = 1


class Pool(NamedTuple):
    """A max-pool (the network says which padding)."""

    kernel: int = 3
    stride: int = 2


class Tap(NamedTuple):
    """Take the current feature map as a side output (HED's dsn1 .. dsn5)."""


class Relu(NamedTuple):
    """A lone ReLU between blocks."""


def unrolled(table: Iterable[NamedTuple]) -> Iterator[NamedTuple]:
    """One row per layer: a row with ``repeats`` n becomes n rows with repeats 1, the first
    at the row's stride, the others at stride 1."""
    for row in table:
        n = getattr(row, "repeats", 1)
        if n == 1:
            yield row
            continue
        first = row._replace(repeats=1)
        yield first
        rest = first._replace(stride=1) if "stride" in row._fields else first
        for _ in range(n - 1):
            yield rest
