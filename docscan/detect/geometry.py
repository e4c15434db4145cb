"""Plain plane geometry shared by the quad finder, the detector, evaluation and synth.

Points are (x, y) in image coordinates (y down); a quad is 4 such points.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_ROLL_TO = [np.array([(k + s) % 4 for k in range(4)]) for s in range(4)]


def order_corners(points, precision=np.float64) -> np.ndarray:
    """4 points -> float32 (4, 2), clockwise (image coordinates, y down) starting at the
    top-left one.

    Top-left is the corner with the smallest x + y; the others follow clockwise around
    the centroid, so a rotated page keeps a consistent cyclic order. ``precision`` is the
    dtype the angles and sums are computed in; it only matters for exact ties (two corners
    whose x + y differ by less than a float32 step). ``docscan`` synth's scenes were
    recorded with ``np.float32``.
    """
    pts = np.asarray(points, dtype=precision).reshape(4, 2)
    centre = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(ang)]   # increasing angle = clockwise on screen (y down)
    start = int(np.argmin(pts.sum(axis=1)))
    return pts[_ROLL_TO[start]].astype(np.float32)      # np.roll(pts, -start), without its overhead


def shoelace(poly: np.ndarray) -> float:
    """Signed area of a polygon (n, 2): positive when counter-clockwise with y up."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def convex_hull(points) -> np.ndarray:
    """Counter-clockwise hull (y up; clockwise on screen) of 2-D points, float64."""
    hull = cv2.convexHull(np.asarray(points, dtype=np.float32).reshape(-1, 1, 2), returnPoints=False)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)[hull[:, 0]]
    return pts if shoelace(pts) >= 0 else pts[::-1]


def clip_convex(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of convex ``subject`` inside convex ``clip`` (both CCW)."""
    out = subject
    for a, b in zip(clip, np.roll(clip, -1, axis=0)):
        if len(out) == 0:
            break
        d = b - a
        side = d[0] * (out[:, 1] - a[1]) - d[1] * (out[:, 0] - a[0])   # >= 0: inside (left of a->b)
        kept = []
        for k in range(len(out)):
            p, q, sp, sq = out[k], out[(k + 1) % len(out)], side[k], side[(k + 1) % len(out)]
            if sp >= 0:
                kept.append(p)
            if (sp >= 0) != (sq >= 0):
                kept.append(p + (q - p) * (sp / (sp - sq)))
        out = np.array(kept).reshape(-1, 2)
    return out


def convex_overlap(a, b) -> tuple[float, float, float]:
    """(intersection area, area of a, area of b) of the convex hulls of two point sets, in
    float64. Not cv2.intersectConvexConvex: it returns three quarters of the area for two
    quads that differ by 5e-7 px (a Keras and a .tflite detection of the same page)."""
    pa, pb = convex_hull(a), convex_hull(b)
    area_a, area_b = shoelace(pa), shoelace(pb)
    if area_a <= 0 or area_b <= 0:
        return 0.0, max(area_a, 0.0), max(area_b, 0.0)
    inter = shoelace(clip_convex(pa, pb))
    return min(max(inter, 0.0), area_a, area_b), area_a, area_b


def polygon_iou(a, b) -> float:
    """IoU of two quadrilaterals (convex hulls of the 4 points each)."""
    inter, area_a, area_b = convex_overlap(a, b)
    return float(inter / (area_a + area_b - inter)) if area_a > 0 and area_b > 0 else 0.0


def corner_error(pred, truth, diagonal: float) -> float:
    """Mean corner distance / image diagonal, under the best cyclic matching of corners.

    Which corner is the page's top-left is ambiguous for rotated pages, so both quads
    are put in clockwise order and every cyclic shift of the prediction is tried.
    """
    p = order_corners(pred).astype(np.float64)
    t = order_corners(truth).astype(np.float64)
    best = min(np.linalg.norm(np.roll(p, k, axis=0) - t, axis=1).mean() for k in range(4))
    return float(best / diagonal)


def to_full_resolution(corners, map_hw, image_hw) -> np.ndarray:
    """Edge-map pixel coordinates -> photo pixel coordinates (pixel centres at integers)."""
    scale = np.array([image_hw[1] / map_hw[1], image_hw[0] / map_hw[0]], np.float64)
    return ((np.asarray(corners, np.float64) + 0.5) * scale - 0.5).astype(np.float32)


def line_through_points(pts: np.ndarray, weights: np.ndarray | None = None):
    """Total-least-squares line through points: (unit direction d, point c)."""
    w = np.ones(len(pts)) if weights is None else np.asarray(weights, dtype=np.float64)
    sw = float(w.sum())
    c = (w @ pts) / sw
    q = pts - c
    wq = q * w[:, None]
    sxx, syy, sxy = float(wq[:, 0] @ q[:, 0]), float(wq[:, 1] @ q[:, 1]), float(wq[:, 0] @ q[:, 1])
    theta = 0.5 * math.atan2(2 * sxy, sxx - syy)     # principal axis of the scatter
    return np.array([math.cos(theta), math.sin(theta)]), c


def intersect_lines(d1, c1, d2, c2):
    """Row by row, where lines c1 + t d1 and c2 + s d2 (arrays (n, 2)) meet: (points (n, 2),
    meets (n,) False where near-parallel; those rows' points are not meaningful)."""
    den = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    meets = np.abs(den) >= 1e-9
    diff = c2 - c1
    t = (diff[:, 0] * d2[:, 1] - diff[:, 1] * d2[:, 0]) / np.where(meets, den, 1.0)
    return c1 + t[:, None] * d1, meets
