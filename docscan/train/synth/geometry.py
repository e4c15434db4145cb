"""Where the page lies in the scene: its quad (rotation, perspective, partly out of frame),
curl as a displacement field, and the outline as points."""

from __future__ import annotations

import numpy as np

from docscan.train.synth.texture import lowfreq

OUT_OF_FRAME_SHARE = 0.12           # pages pushed partly (<= ~15 %) out of frame


def page_quad(rng, h, w, page_aspect):
    """Destination quad (4, 2) of the page's TL, TR, BR, BL corners on an h x w canvas."""
    area = rng.uniform(0.2, 0.8) * h * w
    if rng.random() < 0.1:
        area = rng.uniform(0.05, 0.2) * h * w          # small page, far away
    pw = np.sqrt(area / page_aspect)
    ph = pw * page_aspect
    rect = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]], np.float32)
    r = rng.random()
    if r < 0.45:
        angle = rng.normal(0, 6)
    elif r < 0.65:
        angle = 90 * int(rng.integers(1, 4)) + rng.normal(0, 6)
    else:
        angle = rng.uniform(0, 360)
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    quad = rect @ rot.T
    # Perspective: a keystone along a random direction plus independent corner jitter.
    tilt = rng.uniform(0, 0.25) if rng.random() < 0.8 else 0.0
    d = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(d), np.sin(d)], np.float32)
    along = quad @ direction / (np.abs(quad @ direction).max() + 1e-6)
    quad = quad * (1 + tilt * along)[:, None]
    quad += rng.normal(0, 0.03, (4, 2)).astype(np.float32) * np.sqrt(area)
    # Place it: inside the frame (shrunk to fit when needed), and for a few pages pushed
    # partly out of frame, keeping most of the page visible: a side that is wholly out of
    # frame cannot be found by any detector.
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    span = hi - lo
    fit = min(1.0, 0.97 * w / span[0], 0.97 * h / span[1])
    quad, lo, hi, span = quad * fit, lo * fit, hi * fit, span * fit
    centre = np.array([rng.uniform(*sorted((-lo[0] + 1, w - 2 - hi[0]))),
                       rng.uniform(*sorted((-lo[1] + 1, h - 2 - hi[1])))], np.float32)
    if rng.random() < OUT_OF_FRAME_SHARE:
        d = rng.uniform(0, 2 * np.pi)
        centre += np.array([np.cos(d), np.sin(d)], np.float32) * span * rng.uniform(0.03, 0.15)
    quad = quad + centre
    return quad.astype(np.float32)



def curl_field(rng, h, w, quad):
    """A smooth displacement (dx, dy) on the canvas: page curl / folds, zero for most pages."""
    if rng.random() > 0.3:
        return None
    amp = rng.uniform(1.0, max(1.5, 0.02 * max(h, w)))
    field = (lowfreq(rng, h, w, int(rng.integers(2, 4)), 2) - 0.5) * 2 * amp
    return field.astype(np.float32)


def displace(points, field):
    if field is None:
        return points
    h, w = field.shape[:2]
    xi = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    return points + field[yi, xi]


def boundary_points(quad, per_edge=64):
    t = np.linspace(0, 1, per_edge, endpoint=False, dtype=np.float32)[:, None]
    pts = [quad[i] * (1 - t) + quad[(i + 1) % 4] * t for i in range(4)]
    pts.append(quad[:1])
    return np.concatenate(pts, axis=0)

