"""ImageNet weights for ``hed_mobilenet_v2_stock``'s body, from a package registry.

This project's machines reach package registries only, not Keras' weight store, so the
weights come from the npm package ``nsfwjs`` 4.4.0 (MIT, Infinite Red): its
``mobilenet_v2`` model is Keras' ImageNet MobileNetV2 (alpha 1.0, 224) with a classifier
fine-tuned on top. Its ``modelTopology`` marks every layer up to ``block_10`` as not
trainable, so those layers are ImageNet's weights as Keras shipped them, stored as uint8
(one min and scale per tensor, tensorflow.js' weight quantization). Those layers are the
ones the stock HED body has (``docscan.zoo.hed.MOBILENET_V2_STOCK_HED_TABLE``).

The tarball is checked against the registry's sha512 before anything is read from it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

from docscan.atomic import atomic_path
from docscan.errors import DocscanError
from docscan.paths import cache_dir

PACKAGE = "nsfwjs-4.4.0.tgz"
URL = f"https://registry.npmjs.org/nsfwjs/-/{PACKAGE}"
SHA512 = "krC1fgeTLXtZwgdpKJ0jm7hqv0gTSRQQRL+FhOaxaJ9Wj92t42BO3csO2odwgTAgZgf2RvkwPtp0R8Aa7dc+MA=="
MODEL = "package/dist/models/mobilenet_v2/model.min.js"
SHARD = "package/dist/models/mobilenet_v2/group1-shard1of1.min.js"
LAST_FROZEN_BLOCK = 10     # Keras' block_10: the last layer nsfwjs' training left as ImageNet's

_ENTRY = re.compile(r'\{name:"([^"]+)",shape:\[([0-9,]*)\],dtype:"float32",'
                    r'quantization:\{min:([-+.0-9e]+),scale:([-+.0-9e]+),dtype:"uint8"\}\}')
_SHARD = re.compile(r'exports="([A-Za-z0-9+/=]+)"')


def _integrity(data: bytes) -> str:
    return base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(folder: Path | None = None) -> Path:
    """The checked ``nsfwjs`` tarball in ``folder`` (default: docscan's cache), downloaded
    from the npm registry the first time."""
    folder = folder or cache_dir("imagenet")
    path = folder / PACKAGE
    if path.exists() and _integrity(path.read_bytes()) == SHA512:
        return path
    try:
        with urllib.request.urlopen(URL, timeout=120) as r:
            data = r.read()
    except OSError as e:
        raise DocscanError(f"{URL}: cannot download the ImageNet weights ({e})") from None
    if _integrity(data) != SHA512:
        raise DocscanError(f"{URL}: sha512 does not match the registry's integrity for {PACKAGE}")
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return path


def mobilenet_v2_weights(tarball: Path) -> dict[str, np.ndarray]:
    """Every tensor of nsfwjs' MobileNetV2 by its Keras name (``block_3_expand/kernel``),
    dequantised to float32."""
    try:
        with tarfile.open(tarball) as tar:
            manifest = tar.extractfile(MODEL).read().decode()
            shard = tar.extractfile(SHARD).read().decode()
    except (OSError, KeyError, tarfile.TarError, AttributeError) as e:
        raise DocscanError(f"{tarball}: not the nsfwjs 4.4.0 package ({e})") from None
    found = _SHARD.search(shard)
    entries = _ENTRY.findall(manifest)
    if not found or not entries:
        raise DocscanError(f"{tarball}: no weight manifest or shard in {MODEL}")
    raw = base64.b64decode(found.group(1))
    out, offset = {}, 0
    for name, shape, lo, scale in entries:
        dims = tuple(int(s) for s in shape.split(",") if s)
        n = int(np.prod(dims))
        q = np.frombuffer(raw, np.uint8, n, offset)
        out[name] = (q.astype(np.float32) * np.float32(scale) + np.float32(lo)).reshape(dims)
        offset += n
    if offset != len(raw):
        raise DocscanError(f"{tarball}: the manifest covers {offset} of the shard's {len(raw)} bytes")
    return out


def docscan_layer(keras_layer: str) -> str | None:
    """The stock HED layer that holds Keras MobileNetV2's ``keras_layer``, or None when the
    body does not have it. Keras' ``block_i`` is the table's ``block{i+1}``."""
    if keras_layer == "Conv1":
        return "conv0_conv"
    if keras_layer == "bn_Conv1":
        return "conv0_bn"
    m = re.fullmatch(r"(expanded_conv|block_(\d+))_(expand|depthwise|project)(_BN)?", keras_layer)
    if not m:
        return None
    block = 0 if m.group(2) is None else int(m.group(2))
    if block > LAST_FROZEN_BLOCK:
        return None
    part = {"expand": "expand", "depthwise": "dw", "project": "project"}[m.group(3)]
    name = f"block{block + 1}_{part}"
    if m.group(4):
        return name + "_bn"
    return name if part == "dw" else name + "_conv"


def seed_body(model, weights: dict[str, np.ndarray]) -> int:
    """Set ``model``'s stock MobileNetV2 body (``hed_mobilenet_v2_stock``) to ``weights``;
    returns how many layers were set.

    docscan feeds RGB in [0, 1] where ImageNet MobileNetV2 was trained on 2x - 1, so the
    first conv's kernel is doubled and its BN mean raised by the kernel's sum (exact away
    from the frame's one-pixel border, where 'same' padding pads 0 instead of -1).
    """
    layers = {layer.name: layer for layer in model.layers}
    by_layer: dict[str, dict[str, np.ndarray]] = {}
    for key, value in weights.items():
        layer, var = key.split("/")
        by_layer.setdefault(layer, {})[var] = value
    done = 0
    for keras_name, var in by_layer.items():
        target = docscan_layer(keras_name)
        if target is None:
            continue
        if target not in layers:
            raise DocscanError(f"{model.name}: no layer {target} for ImageNet's {keras_name}")
        if "gamma" in var:
            values = [var["gamma"], var["beta"], var["moving_mean"], var["moving_variance"]]
        else:
            values = [var["kernel"] if "kernel" in var else var["depthwise_kernel"]]
        layers[target].set_weights(values)
        done += 1
    kernel = layers["conv0_conv"].get_weights()[0]
    layers["conv0_conv"].set_weights([2.0 * kernel])
    gamma, beta, mean, var = layers["conv0_bn"].get_weights()
    layers["conv0_bn"].set_weights([gamma, beta, mean + kernel.sum(axis=(0, 1, 2)), var])
    return done
