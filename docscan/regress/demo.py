"""Small models for demonstrating (and testing) the gate: one, and deliberately slower forms.

``build_demo_models(folder)`` writes, for a tiny edge-detector-shaped CNN (64x64 input):
  * ``base``: what ships;
  * ``bn_unfolded``: a BatchNorm after a ReLU, where the converter cannot fold it into a
    conv, so it stays as MUL + ADD: a different op list, ~2.7 % more instructions on the
    host (XNNPACK);
  * ``bigger_kernel``: the depthwise conv's kernel grown from 3x3 to 5x5: the same op
    list, ~7 % more instructions;
  * ``wider``: the last 3x3 conv with 26 filters instead of 24: the same op list, ~0.25 %
    more instructions (XNNPACK pads output channels to its tile, so little extra work).
Weights are seeded, so the files are identical from run to run on one TF version.
"""

from __future__ import annotations

from pathlib import Path

VARIANTS = ("base", "bn_unfolded", "bigger_kernel", "wider")


def build(variant: str, size: int = 64):
    import keras
    import numpy as np
    from keras import layers

    if variant not in VARIANTS:
        raise ValueError(f"unknown demo variant {variant!r} (known: {', '.join(VARIANTS)})")
    keras.utils.set_random_seed(7)
    inp = keras.Input((size, size, 3), name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="c1")(inp)
    if variant == "bn_unfolded":
        x = layers.BatchNormalization(name="bn_after_relu")(x)
    x = layers.DepthwiseConv2D(5 if variant == "bigger_kernel" else 3, padding="same", activation="relu",
                               name="dw")(x)
    x = layers.Conv2D(32, 1, activation="relu", name="pw")(x)
    x = layers.Conv2D(26 if variant == "wider" else 24, 3, padding="same", activation="relu", name="c3")(x)
    x = layers.Conv2D(1, 1, name="edges")(x)
    model = keras.Model(inp, x, name=f"demo_{variant}")
    if variant == "bn_unfolded":
        # Non-trivial statistics, so the converter cannot drop the BN as an identity.
        bn = model.get_layer("bn_after_relu")
        g, b, m, v = bn.get_weights()
        rng = np.random.RandomState(3)
        bn.set_weights([g * 1.1, b + 0.05, m + rng.rand(*m.shape) * 0.1, v * 1.2])
    return model


def convert(model) -> bytes:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def build_demo_models(folder: str | Path, size: int = 64, variants=VARIANTS) -> dict[str, Path]:
    from docscan.atomic import write_bytes

    folder = Path(folder)
    return {v: write_bytes(folder / f"demo_{v}_{size}.tflite", convert(build(v, size))) for v in variants}
