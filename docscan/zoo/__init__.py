"""The model zoo: every architecture docscan knows, by name.

``ARCHITECTURES`` maps a name to an ``Architecture`` (builder, default input shape, one
line of provenance). ``build(name, **knobs)`` is what the CLI and tests call;
``build(name, seed=0)`` gives the same initial weights in every process.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from docscan.errors import DocscanError
from docscan.zoo import hed, mobilenet_v1, mobilenet_v2, shufflenet, squeezenet, xception


@dataclass(frozen=True)
class Architecture:
    name: str
    builder: Callable
    input_shape: tuple[int, int, int]
    source: str
    knobs: dict = field(default_factory=dict)   # default keyword arguments
    family: str = ""
    reference: str = ""   # the published figures this build is held against (see tests/test_zoo.py)


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
register(Architecture("hed_mobilenet_v2_stock", hed.mobilenet_v2_stock_hed, (256, 256, 3),
                      "stock MobileNetV2 (Sandler et al. 2018) through block_10 with HED side outputs; "
                      "takes ImageNet weights (docscan.zoo.imagenet)", {}, "hed"))
register(Architecture("mobilenet_v1", mobilenet_v1.mobilenet_v1, (224, 224, 3),
                      "Howard et al. 2017 (arXiv:1704.04861) Table 1", {}, "mobilenet",
                      "4,253,864 params (keras.applications.MobileNet); 569M mult-adds (paper Table 8)"))
register(Architecture("mobilenet_v2", mobilenet_v2.mobilenet_v2, (224, 224, 3),
                      "Sandler et al. 2018 (arXiv:1801.04381) Table 2; seed mobilenetv2-notes.txt V2_DEF",
                      {}, "mobilenet",
                      "3,538,984 params (keras.applications.MobileNetV2); 300M mult-adds (paper Table 4)"))
for _version in ("1.0", "1.1"):
    register(Architecture(f"squeezenet_{_version.replace('.', '_')}", squeezenet.squeezenet, (224, 224, 3),
                          f"Iandola et al. 2016 (arXiv:1602.07360); seed lightweight-cnns-pytorch.txt, v{_version}",
                          {"version": _version}, "squeezenet",
                          {"1.0": "1,248,424 params; 0.82 GMACs (torchvision squeezenet1_0)",
                           "1.1": "1,235,496 params; 0.35 GMACs (torchvision squeezenet1_1)"}[_version]))
for _g in (1, 2, 3, 4, 8):
    register(Architecture(f"shufflenet_g{_g}", shufflenet.shufflenet, (224, 224, 3),
                          f"Zhang et al. 2017 (arXiv:1707.01083) Table 1, 1x, g={_g}",
                          {"groups": _g}, "shufflenet",
                          f"{ {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}[_g]} MFLOPs = mult-adds (paper Table 1); "
                          "params derived from Table 1 (megvii release: 1.9M for g=3, 2.4M for g=8)"))
register(Architecture("xception", xception.xception, (299, 299, 3),
                      "Chollet 2017 (arXiv:1610.02357) Fig. 5", {}, "xception",
                      "22,910,480 params (keras.applications.Xception; 22,855,952 trainable = paper Table 3)"))
register(Architecture("xception_aligned", xception.xception_aligned, (512, 512, 3),
                      "seed lightweight-cnns-pytorch.txt AlignedXception (DeepLabv3+ backbone), output_stride 16",
                      {"output_stride": 16}, "xception",
                      "params derived from the seed's layer list (no published figure)"))


def build(name: str, input_shape=None, seed: int | None = None, **knobs):
    """Build architecture ``name``; unknown names and bad knobs raise DocscanError.

    ``seed``: draw the initial weights from this seed, so every build (in any process) has
    the same weights; None draws them as Keras does (different each time).
    """
    if name not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise DocscanError(f"unknown architecture '{name}' (known: {known})")
    arch = ARCHITECTURES[name]
    kwargs = {**arch.knobs, **knobs}
    try:
        with seeded(seed):
            return arch.builder(input_shape=tuple(input_shape or arch.input_shape), **kwargs)
    except TypeError as exc:
        raise DocscanError(f"{name}: bad option ({exc})") from None


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Seed Keras' weight initialisers for the block (``keras.utils.set_random_seed``: an
    unseeded initialiser takes its seed from Python's ``random``). Python's and NumPy's
    global random streams are put back afterwards, so callers' own draws are unaffected."""
    if seed is None:
        yield
        return
    import keras
    import numpy as np

    py_state, np_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
