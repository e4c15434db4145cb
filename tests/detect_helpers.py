"""Shared by the detection tests: a tiny fixed-weight edge CNN and simple synthetic photos.

The CNN is a real Keras model following the HED convention (RGB in [0, 1], outputs
``fused, side1..side5`` as logits) whose weights are set by hand to a Sobel detector, so
CLI tests exercise the real load / convert / interpreter path in seconds, without training.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

PAGE = np.array([[70, 60], [300, 80], [285, 400], [55, 380]], np.float32)   # in a 360x480 photo


def sobel_hed(size: int = 64, region: str | None = None):
    """A fixed-weight HED-convention edge model; ``region="bright"`` adds a 7th output
    ``region`` (brightness above the table's: the page), ``region="pooled"`` one of the
    wrong shape."""
    import keras
    from keras import layers

    inp = keras.Input((size, size, 3), name="image")
    grey = layers.Conv2D(1, 1, use_bias=False, name="grey")(inp)
    grad = layers.Conv2D(4, 3, padding="same", use_bias=False, name="sobel")(grey)
    grad = layers.ReLU(name="abs_parts")(grad)
    logit = layers.Conv2D(1, 1, name="fuse")(grad)
    # Side outputs are the negated map: a reader that takes a side output instead of the
    # fused one (converters reorder outputs) finds nothing.
    neg = layers.Conv2D(1, 1, use_bias=False, name="negate")(logit)
    outs = [layers.Identity(name="fused")(logit)] + [layers.Identity(name=f"side{i}")(neg) for i in range(1, 6)]
    if region:
        # page grey ~0.9 and its print ~0.65, table ~0.23: logit 20 * (grey - 0.45)
        r = layers.Conv2D(1, 1, name="region_logit")(grey)
        if region == "pooled":
            r = layers.AveragePooling2D(2, name="region_pool")(r)
        outs.append(layers.Identity(name="region")(r))
    model = keras.Model(inp, outs, name="sobel_hed")
    if region:
        model.get_layer("region_logit").set_weights([np.full((1, 1, 1, 1), 20.0, np.float32),
                                                     np.array([-9.0], np.float32)])
    model.get_layer("negate").set_weights([np.full((1, 1, 1, 1), -1.0, np.float32)])
    model.get_layer("grey").set_weights([np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 1, 3, 1)])
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    k = np.stack([sx, -sx, sx.T, -sx.T], axis=-1).reshape(3, 3, 1, 4)
    model.get_layer("sobel").set_weights([k])
    # |gx| + |gy| of a 0.6 step (page on table) is ~2.4: logit +6 there; faint text
    # (a 0.25 step) stays near 0 and flat paper or table at -6, roughly what a trained HED
    # does with page outlines and print.
    model.get_layer("fuse").set_weights([np.full((4, 1, 1, 1), 5.0, np.float32).reshape(1, 1, 4, 1),
                                         np.array([-6.0], np.float32)])
    return model


def save_keras(path: Path, size: int = 64, region: str | None = None) -> Path:
    sobel_hed(size, region).save(path)
    return path


def save_tflite(path: Path, size: int = 64, int8: bool = False, region: str | None = None) -> Path:
    import tensorflow as tf

    model = sobel_hed(size, region)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)

        def rep():
            for _ in range(8):
                yield [rng.random((1, size, size, 3), dtype=np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    path.write_bytes(conv.convert())
    return path


def photo(corners=PAGE, size=(360, 480), seed: int = 0) -> np.ndarray:
    """A dark, slightly textured table with a white page carrying a few 'text' lines (RGB)."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = np.full((h, w, 3), (70, 55, 45), np.float32) + rng.normal(0, 6, (h, w, 3))
    page = np.full((400, 300, 3), 235, np.float32)
    for y in range(40, 360, 22):
        page[y:y + 5, 30:int(rng.integers(150, 270))] = 170   # grey print, lighter than the table
    M = cv2.getPerspectiveTransform(np.float32([[0, 0], [300, 0], [300, 400], [0, 400]]), np.float32(corners))
    warped = cv2.warpPerspective(page, M, (w, h))
    mask = cv2.warpPerspective(np.ones((400, 300), np.float32), M, (w, h))[..., None]
    img = img * (1 - mask) + warped * mask
    return np.clip(img, 0, 255).astype(np.uint8)


def write_photo(path: Path, corners=PAGE, seed: int = 0) -> Path:
    ok, buf = cv2.imencode(path.suffix or ".png", cv2.cvtColor(photo(corners, seed=seed), cv2.COLOR_RGB2BGR))
    path.write_bytes(buf.tobytes())
    return path
