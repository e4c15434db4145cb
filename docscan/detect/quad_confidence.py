"""The confidence a region-head model's detection is reported with: the chance that the
corners are right (IoU >= 0.9 with the page), from what the maps say about the pick.

A logistic model over four features of the pick, fitted on docscan's own synthetic scenes
(never on the real photos, which only check it) by ``benchmarks/confidence_fit.py``; the
coefficients below are what that script printed. The hand-made product it replaces
(outline share squared x region IoU x (1 - inner support), ``quad_pick._quality``) was tuned
on one model's maps of the real photos and lost half its power on the next model's; a fit
on generated scenes can be redone for every model that ships.

Features, all from the edge-map-resolution maps and the pick before refinement:

- ``region_iou``: its soft IoU with the region map;
- ``inner``: edge support of the lines inside it per pixel of perimeter (a table top picked
  around a page holds the page's outline);
- ``region_in``: mean region probability inside it (a pick the region head half-believes);
- ``edge_on_outline``: mean normalised edge response on its outline.

Left out on purpose: the pick's share of the frame, which raised the synthetic fit (bigger
pages are easier) but made a table top around a page more confident than the page itself,
the very mistake the score is there to flag; and the supported share of the outline, which
gates the pick and, fitted beside ``edge_on_outline``, got a weight of -0.13 (no information
left in it).

Models without a region head keep the product (``quad_pick._quality``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

FEATURES = ("region_iou", "inner", "region_in", "edge_on_outline")

# benchmarks/confidence_fit.py on synthetic seeds 9500 (400) + 9600 (600), shipped int8 model
WEIGHTS = {"region_iou": 8.151, "inner": -0.5843, "region_in": 2.6507, "edge_on_outline": 4.8484}
INTERCEPT = -12.0429


def pick_features(corners: np.ndarray, share: float, region_iou: float, inner: float,
                  edge_norm: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """The ``FEATURES`` of a pick with ``corners`` (4, 2) in map pixels, on the normalised
    edge map and the region map (both (h, w)), and its outline ``share``, kept for reports."""
    h, w = region.shape
    poly = [np.round(corners).astype(np.int32)]
    inside = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inside, poly, 1)
    outline = np.zeros((h, w), np.uint8)
    cv2.polylines(outline, poly, True, 1, 1)
    n_in, n_out = int(inside.sum()), int(outline.sum())
    return {
        "share": float(share),
        "region_iou": float(region_iou),
        "inner": float(inner),
        "region_in": float((region * inside).sum() / n_in) if n_in else 0.0,
        "edge_on_outline": float((edge_norm * outline).sum() / n_out) if n_out else 0.0,
    }


def confidence(features: dict[str, float], weights: dict[str, float] | None = None,
               intercept: float | None = None) -> float:
    """Logistic score of ``features`` with the fitted ``WEIGHTS`` (or the ones given)."""
    weights = WEIGHTS if weights is None else weights
    return logistic((INTERCEPT if intercept is None else intercept) + sum(weights[k] * features[k] for k in FEATURES))


def logistic(z: float) -> float:
    """1 / (1 + e^-z), ``z`` clipped where the result is 0 or 1 to double precision anyway
    (``math.exp`` overflows past 709); the fitted scores here and in ``second_look``."""
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
