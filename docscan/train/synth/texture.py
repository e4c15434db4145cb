"""Texture primitives every part of a scene draws with: smooth noise, random colours,
colour jitter and random crops of photos (float32 RGB in 0..255)."""

from __future__ import annotations

import cv2
import numpy as np


def lowfreq(rng, h, w, cells=6, channels=1):
    """Smooth random field in [0, 1] (bicubic-upsampled coarse noise)."""
    g = rng.random((cells, cells, channels)).astype(np.float32)
    f = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    f = f.reshape(h, w, channels)
    return np.clip(f, 0, 1)


def random_color(rng, lo=0, hi=255):
    return rng.uniform(lo, hi, 3).astype(np.float32)


def jitter_colors(rng, im):
    """Brightness / contrast / white-balance jitter of a float32 RGB image in 0..255."""
    gain = rng.uniform(0.75, 1.2) * rng.uniform(0.9, 1.1, 3)
    bias = rng.uniform(-20, 20)
    out = im * gain.astype(np.float32) + bias
    if rng.random() < 0.15:
        grey = out.mean(axis=2, keepdims=True)
        out = grey + (out - grey) * rng.uniform(0, 0.6)
    return np.clip(out, 0, 255)


def crop_resize(rng, src, h, w):
    """Random crop of ``src`` with the aspect of (h, w), resized, randomly flipped/rotated."""
    if rng.random() < 0.5:
        src = np.ascontiguousarray(np.rot90(src, int(rng.integers(1, 4))))
    sh, sw = src.shape[:2]
    aspect = w / h
    scale = rng.uniform(0.5, 1.0)
    cw = min(sw, sh * aspect) * scale
    ch = cw / aspect
    x0 = rng.uniform(0, sw - cw)
    y0 = rng.uniform(0, sh - ch)
    crop = src[int(y0):int(y0 + ch) + 1, int(x0):int(x0 + cw) + 1]
    out = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out).astype(np.float32)

