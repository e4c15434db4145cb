"""SqueezeNet 1.0 and 1.1 (Iandola et al., 2016, arXiv:1602.07360), as in the seed.

The seed ``lightweight-cnns-pytorch.txt`` gives the torchvision code: a conv, eight Fire
modules (1x1 squeeze -> ReLU -> [1x1 expand, 3x3 expand] -> ReLU -> concat) with 3x3/2
max-pools (PyTorch ``ceil_mode=True``) between them, and a classifier made of dropout,
a 1x1 conv to ``classes`` with ReLU, and global average pooling. Convs have biases and
no BatchNorm, as in the paper. Version 1.1 starts with a 3x3/64 conv and pools earlier
(2.4x less computation, same accuracy).

Reference parameter counts (torchvision, which the seed reproduces): 1,248,424 (1.0)
and 1,235,496 (1.1); torchvision lists 0.82 and 0.35 GFLOPS (multiply-adds) at 224.
"""

from __future__ import annotations

import keras
from keras import layers

from docscan.errors import DocscanError
from docscan.zoo.layers import check_classes, check_input_shape, max_pool_ceil

# ("conv", filters, kernel, stride) | ("pool",) 3x3/2 ceil-mode | ("fire", squeeze, expand1x1, expand3x3)
SQUEEZENET_TABLES = {
    "1.0": [
        ("conv", 96, 7, 2),
        ("pool",),
        ("fire", 16, 64, 64),
        ("fire", 16, 64, 64),
        ("fire", 32, 128, 128),
        ("pool",),
        ("fire", 32, 128, 128),
        ("fire", 48, 192, 192),
        ("fire", 48, 192, 192),
        ("fire", 64, 256, 256),
        ("pool",),
        ("fire", 64, 256, 256),
    ],
    "1.1": [
        ("conv", 64, 3, 2),
        ("pool",),
        ("fire", 16, 64, 64),
        ("fire", 16, 64, 64),
        ("pool",),
        ("fire", 32, 128, 128),
        ("fire", 32, 128, 128),
        ("pool",),
        ("fire", 48, 192, 192),
        ("fire", 48, 192, 192),
        ("fire", 64, 256, 256),
        ("fire", 64, 256, 256),
    ],
}


def fire(x, squeeze: int, expand1x1: int, expand3x3: int, name: str):
    x = layers.Conv2D(squeeze, 1, activation="relu", name=f"{name}_squeeze")(x)
    e1 = layers.Conv2D(expand1x1, 1, activation="relu", name=f"{name}_expand1x1")(x)
    e3 = layers.Conv2D(expand3x3, 3, padding="same", activation="relu", name=f"{name}_expand3x3")(x)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([e1, e3])


def feature_size(n: int, version: str) -> int:
    """Spatial size of the last Fire output for an n x n input (<= 0: input too small)."""
    for row in SQUEEZENET_TABLES[version]:
        if n < 1:
            return n
        if row[0] == "conv":
            n = (n - row[2]) // row[3] + 1
        elif row[0] == "pool":
            n = -(-(n - 3) // 2) + 1 if n >= 3 else 0
    return n


def min_input_size(version: str) -> int:
    n = 1
    while feature_size(n, version) < 1:
        n += 1
    return n


def squeezenet(input_shape=(224, 224, 3), version: str = "1.0", include_top: bool = True,
               classes: int = 1000, dropout: float = 0.5, classifier_activation="softmax") -> keras.Model:
    version = str(version)
    arch = f"squeezenet_{version.replace('.', '_')}"
    if version not in SQUEEZENET_TABLES:
        raise DocscanError(f"squeezenet: unknown version {version!r} (known: 1.0, 1.1)")
    check_input_shape(input_shape, min_input_size(version), arch)
    check_classes(include_top, classes, arch)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, n_pool, n_fire = inputs, 0, 1
    for row in SQUEEZENET_TABLES[version]:
        if row[0] == "conv":
            x = layers.Conv2D(row[1], row[2], strides=row[3], activation="relu", name="conv1")(x)
        elif row[0] == "pool":
            n_pool += 1
            x = max_pool_ceil(x, 3, 2, name=f"pool{n_pool}")
        else:
            n_fire += 1
            x = fire(x, *row[1:], name=f"fire{n_fire}")
    if include_top:
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, 1, activation="relu", name="conv10")(x)
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if classifier_activation:
            x = layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=f"squeezenet_{version.replace('.', '_')}_{int(input_shape[0])}")
