"""Procedural surfaces a page lies on (wood, tiles, fabric, plain, granite, a white wall)
and the pick between them and the real background photos. Float32 RGB 0..255, (h, w, 3)."""

from __future__ import annotations

import cv2
import numpy as np

from docscan.train.synth.assets import real_backgrounds
from docscan.train.synth.texture import crop_resize, jitter_colors, lowfreq, random_color


def _wood(rng, h, w):
    base = random_color(rng, 0, 1) * np.array([120, 80, 50], np.float32) + np.array([30, 18, 8], np.float32)
    if rng.random() < 0.35:   # pale wood
        base = base + rng.uniform(60, 110)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    warp = lowfreq(rng, h, w, 4)[..., 0] * rng.uniform(10, 60)
    grain = 0.5 + 0.5 * np.sin((v + warp) * rng.uniform(0.15, 0.6))
    fine = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.0)
    shade = 1 + rng.uniform(0.1, 0.35) * (grain - 0.5) + 0.25 * (fine - 0.5)
    out = base[None, None, :] * shade[..., None]
    if rng.random() < 0.7:   # planks / slats with dark gaps
        pitch = rng.uniform(0.08, 0.3) * max(h, w)
        phase = rng.uniform(0, pitch)
        plank = np.floor((v + phase) / pitch)
        tone = 1 + 0.15 * np.sin(plank * 12.9898 + rng.uniform(0, 6))
        out *= tone[..., None]
        gap = np.abs(((v + phase) % pitch) - pitch / 2) > pitch / 2 - rng.uniform(1, 5)
        out[gap] *= rng.uniform(0.2, 0.6)
    return np.clip(out, 0, 255)


def _tiles(rng, h, w):
    pitch = rng.uniform(0.12, 0.4) * max(h, w)
    base = random_color(rng, 60, 240)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(-0.4, 0.4)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    iu, iv = np.floor(u / pitch), np.floor(v / pitch)
    tone = 1 + 0.08 * np.sin(iu * 7.1 + iv * 3.3 + rng.uniform(0, 6))
    out = base[None, None, :] * tone[..., None]
    width = rng.uniform(1, 4)
    grout = (np.abs(u % pitch) < width) | (np.abs(v % pitch) < width)
    out[grout] = random_color(rng, 40, 220)
    out += (lowfreq(rng, h, w, 12) - 0.5) * 20
    return np.clip(out, 0, 255)


def _fabric(rng, h, w):
    base = random_color(rng, 20, 230)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = rng.uniform(0.5, 2.0)
    weave = np.sin(xx * f) * np.sin(yy * f)
    noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), rng.uniform(0.5, 2))
    out = base[None, None, :] * (1 + 0.12 * weave + 0.3 * (noise - 0.5))[..., None]
    if rng.random() < 0.4:   # stripes / checks
        p = rng.uniform(8, 40)
        stripe = ((xx // p) % 2).astype(np.float32)
        if rng.random() < 0.5:
            stripe = np.maximum(stripe, ((yy // p) % 2).astype(np.float32))
        out = out * (1 - 0.5 * stripe[..., None]) + random_color(rng) * 0.5 * stripe[..., None]
    folds = lowfreq(rng, h, w, 5)[..., 0]
    out *= (0.75 + 0.5 * folds)[..., None]
    return np.clip(out, 0, 255)


def _plain(rng, h, w):
    """Plain or gradient surface; often light, for low-contrast white-on-white."""
    if rng.random() < 0.5:
        base = rng.uniform(170, 250) * rng.uniform(0.92, 1.0, 3)
    else:
        base = random_color(rng, 20, 250)
    grad = lowfreq(rng, h, w, 3, 1)
    out = base[None, None, :] * (0.8 + 0.4 * grad)
    out += (cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)[..., None] - 0.5) * 12
    return np.clip(out, 0, 255)


def granite(rng, h, w):
    base = random_color(rng, 40, 220)
    out = np.empty((h, w, 3), np.float32)
    for c in range(3):
        n = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), rng.uniform(0.6, 3))
        out[..., c] = base[c] * (0.6 + 0.8 * n)
    return np.clip(out, 0, 255)


PROCEDURAL_BACKGROUNDS = (_wood, _wood, _tiles, _fabric, _plain, _plain, granite)


def _white_wall(rng, h, w):
    """Low contrast: a light wall / white desk / bright window close to the paper's colour."""
    out = np.empty((h, w, 3), np.float32)
    out[:] = rng.uniform(205, 255) * rng.uniform(0.94, 1.0, 3)
    out *= 0.85 + 0.3 * lowfreq(rng, h, w, 3)
    if rng.random() < 0.5:   # door frame / furniture edge
        x = int(rng.uniform(0, w))
        out[:, x:x + int(rng.uniform(2, max(3, 0.1 * w)))] *= rng.uniform(0.6, 0.95)
    return np.clip(out, 0, 255)


def background(rng, h, w, shared_dir):
    reals = real_backgrounds(shared_dir)
    if rng.random() < 0.1:
        return _white_wall(rng, h, w)
    if reals and rng.random() < 0.5:
        out = crop_resize(rng, reals[int(rng.integers(len(reals)))], h, w)
    else:
        fn = PROCEDURAL_BACKGROUNDS[int(rng.integers(len(PROCEDURAL_BACKGROUNDS)))]
        out = fn(rng, h, w)
    return jitter_colors(rng, out)

