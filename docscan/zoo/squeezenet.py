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
from docscan.zoo.table import Conv, Fire, Pool, unrolled

# Pool() is a 3x3/2 max-pool in ceil mode; Fire numbering starts at fire2, as in the paper.
SQUEEZENET_TABLES = {
    "1.0": [
        Conv(channels=96, kernel=7, stride=2),
        Pool(kernel=3, stride=2),
        Fire(squeeze=16, expand1x1=64, expand3x3=64, repeats=2),
        Fire(squeeze=32, expand1x1=128, expand3x3=128),
        Pool(kernel=3, stride=2),
        Fire(squeeze=32, expand1x1=128, expand3x3=128),
        Fire(squeeze=48, expand1x1=192, expand3x3=192, repeats=2),
        Fire(squeeze=64, expand1x1=256, expand3x3=256),
        Pool(kernel=3, stride=2),
        Fire(squeeze=64, expand1x1=256, expand3x3=256),
    ],
    "1.1": [
        Conv(channels=64, kernel=3, stride=2),
        Pool(kernel=3, stride=2),
        Fire(squeeze=16, expand1x1=64, expand3x3=64, repeats=2),
        Pool(kernel=3, stride=2),
        Fire(squeeze=32, expand1x1=128, expand3x3=128, repeats=2),
        Pool(kernel=3, stride=2),
        Fire(squeeze=48, expand1x1=192, expand3x3=192, repeats=2),
        Fire(squeeze=64, expand1x1=256, expand3x3=256, repeats=2),
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
        if isinstance(row, Conv):
            n = (n - row.kernel) // row.stride + 1
        elif isinstance(row, Pool):
            n = -(-(n - row.kernel) // row.stride) + 1 if n >= row.kernel else 0
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
    for row in unrolled(SQUEEZENET_TABLES[version]):
        if isinstance(row, Conv):
            x = layers.Conv2D(row.channels, row.kernel, strides=row.stride, activation="relu", name="conv1")(x)
        elif isinstance(row, Pool):
            n_pool += 1
            x = max_pool_ceil(x, row.kernel, row.stride, name=f"pool{n_pool}")
        else:
            n_fire += 1
            x = fire(x, row.squeeze, row.expand1x1, row.expand3x3, name=f"fire{n_fire}")
    if include_top:
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, 1, activation="relu", name="conv10")(x)
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if classifier_activation:
            x = layers.Activation(classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=f"squeezenet_{version.replace('.', '_')}_{int(input_shape[0])}")
