"""Tiny real .tflite models for the bench tests (fp32 and int8), converted once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def have_litert_library() -> bool:
    """Whether ai-edge-litert's libLiteRt.so (LiteRT's C API and profiler) is installed."""
    from docscan.bench import litert_profiler
    from docscan.errors import DocscanError

    try:
        litert_profiler.library_path()
    except DocscanError:
        return False
    return True


def make_tiny_models(folder: Path) -> dict[str, Path]:
    """Conv -> BN -> ReLU -> depthwise -> 1x1 conv -> transposed conv, on a 32x32 input."""
    import keras
    from keras import layers

    from docscan.convert.tflite_convert import convert

    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 3, padding="same")(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.Conv2D(4, 1)(x)
    x = layers.Conv2DTranspose(1, 4, strides=2, padding="same")(x)
    model = keras.Model(inp, x, name="tiny")
    rng = np.random.RandomState(0)
    bn = next(layer for layer in model.layers if isinstance(layer, layers.BatchNormalization))
    bn.set_weights([rng.rand(8) + 0.5, rng.rand(8), rng.rand(8), rng.rand(8) + 0.5])
    folder.mkdir(parents=True, exist_ok=True)
    out = {"fp32": folder / "tiny_fp32.tflite", "int8": folder / "tiny_int8.tflite"}
    out["fp32"].write_bytes(convert(model, "fp32", (32, 32, 3)))
    calib = [rng.rand(32, 32, 3).astype(np.float32) for _ in range(4)]
    out["int8"].write_bytes(convert(model, "int8", (32, 32, 3), calibration=lambda: calib))
    return out
