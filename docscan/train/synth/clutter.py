"""Occluders and clutter drawn on the canvas (fingers, pens, mugs, phones, sticky notes);
each returns, in ``mask``, what it covers."""

from __future__ import annotations

import cv2
import numpy as np

from docscan.train.synth.texture import lowfreq, random_color

SKIN_TONES = np.array([[224, 172, 140], [198, 134, 96], [141, 85, 56], [240, 200, 170], [170, 110, 80]], np.float32)


def draw_finger(rng, canvas, mask, quad):
    """A finger/thumb: a rounded capsule from outside the page crossing one page edge."""
    h, w = mask.shape
    i = int(rng.integers(4))
    a, b = quad[i], quad[(i + 1) % 4]
    p = a + (b - a) * rng.uniform(0.15, 0.85)
    centre = quad.mean(axis=0)
    outward = p - centre
    outward /= np.linalg.norm(outward) + 1e-6
    scale = np.sqrt(max(1.0, cv2.contourArea(quad)))
    width = scale * rng.uniform(0.1, 0.2)
    inside = rng.uniform(0.05, 0.3) * scale
    ang = rng.normal(0, 0.5)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    d = rot @ outward
    tip = p - d * inside
    base = p + d * scale * rng.uniform(0.4, 1.5)
    color = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))] * rng.uniform(0.7, 1.1)
    m = np.zeros((h, w), np.uint8)
    cv2.line(m, tuple(int(v) for v in tip), tuple(int(v) for v in base), 255, int(max(2, width)), cv2.LINE_AA)
    cv2.circle(m, tuple(int(v) for v in tip), int(max(1, width / 2)), 255, -1, cv2.LINE_AA)
    if rng.random() < 0.7:   # rest of the hand, outside the page
        palm = p + d * scale * rng.uniform(0.3, 0.5)
        cv2.ellipse(m, tuple(int(v) for v in palm),
                    (int(scale * rng.uniform(0.12, 0.25)), int(scale * rng.uniform(0.2, 0.35))),
                    float(np.degrees(np.arctan2(d[1], d[0]))) + 90, 0, 360, 255, -1, cv2.LINE_AA)
    _paint(rng, canvas, m, color, shaded=True)
    mask |= m > 127


def draw_object(rng, canvas, mask, quad, over_edge: bool):
    """Pens, phones, mugs, coins, sticky notes, other objects on the desk."""
    h, w = mask.shape
    m = np.zeros((h, w), np.uint8)
    if over_edge:
        i = int(rng.integers(4))
        a, b = quad[i], quad[(i + 1) % 4]
        c = a + (b - a) * rng.uniform(0.1, 0.9)
    else:
        c = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    scale = max(h, w)
    kind = rng.random()
    if kind < 0.35:   # pen / cable
        ang = rng.uniform(0, np.pi)
        length = scale * rng.uniform(0.15, 0.45)
        d = np.array([np.cos(ang), np.sin(ang)]) * length / 2
        cv2.line(m, tuple(int(v) for v in c - d), tuple(int(v) for v in c + d), 255,
                 int(max(2, scale * rng.uniform(0.008, 0.025))), cv2.LINE_AA)
    elif kind < 0.6:  # mug / coin / roll
        cv2.circle(m, tuple(int(v) for v in c), int(scale * rng.uniform(0.02, 0.12)), 255, -1, cv2.LINE_AA)
    else:             # phone / book / box / sticky note
        size = (scale * rng.uniform(0.05, 0.25), scale * rng.uniform(0.05, 0.3))
        box = cv2.boxPoints(((float(c[0]), float(c[1])), size, float(rng.uniform(0, 180))))
        cv2.fillConvexPoly(m, box.astype(np.int32), 255, cv2.LINE_AA)
    _paint(rng, canvas, m, random_color(rng, 0, 255), shaded=rng.random() < 0.5)
    mask |= m > 127


def _paint(rng, canvas, m, color, shaded):
    alpha = (m.astype(np.float32) / 255)[..., None]
    layer = np.broadcast_to(color, canvas.shape).astype(np.float32)
    if shaded:
        layer = layer * (0.75 + 0.5 * lowfreq(rng, canvas.shape[0], canvas.shape[1], 4))
    canvas *= 1 - alpha
    canvas += layer * alpha

