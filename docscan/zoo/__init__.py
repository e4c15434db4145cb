"""The model zoo: every architecture docscan knows, by name.

``ARCHITECTURES`` maps a name to an ``Architecture`` (builder, default input shape, one
line of provenance). ``build(name, **knobs)`` is what the CLI and tests call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from docscan.errors import DocscanError
from docscan.zoo import hed


@dataclass(frozen=True)
class Architecture:
    name: str
    builder: Callable
    input_shape: tuple[int, int, int]
    source: str
    knobs: dict = field(default_factory=dict)   # default keyword arguments
    family: str = ""


ARCHITECTURES: dict[str, Architecture] = {}


def register(arch: Architecture) -> None:
    ARCHITECTURES[arch.name] = arch


register(Architecture("hed_vgg_bn", hed.vgg_style_hed, (256, 256, 3),
                      "seed hed-mobilenetv2-document-scanning.md, vgg_style_hed with BatchNorm",
                      {"use_batch_norm": True}, "hed"))
register(Architecture("hed_vgg", hed.vgg_style_hed, (256, 256, 3),
                      "seed hed-mobilenetv2-document-scanning.md, vgg_style_hed without BatchNorm",
                      {"use_batch_norm": False}, "hed"))
register(Architecture("hed_mobilenet_v2", hed.mobilenet_v2_style_hed, (256, 256, 3),
                      "seed hed-mobilenetv2-document-scanning.md, mobilenet_v2_style_hed",
                      {}, "hed"))


def build(name: str, input_shape=None, **knobs):
    """Build architecture ``name``; unknown names and bad knobs raise DocscanError."""
    if name not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise DocscanError(f"unknown architecture '{name}' (known: {known})")
    arch = ARCHITECTURES[name]
    kwargs = {**arch.knobs, **knobs}
    try:
        return arch.builder(input_shape=tuple(input_shape or arch.input_shape), **kwargs)
    except TypeError as exc:
        raise DocscanError(f"{name}: bad option ({exc})") from None
