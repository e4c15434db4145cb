"""A second look at a still frame: the frame seen again mirrored, both looks' maps averaged
for the answer, and how well the two looks agree as a check on it.

A mirrored frame is as good a photo of the page as the frame itself, so the model's maps of
it, mirrored back, are a second opinion. Averaged with the first, they make the answer
steadier where one look is on a knife edge between the page and something else (one page
of an open book or the whole spread, a page on a sheet of a stack). With the shipped int8
model, on the labelled real photos seen eight ways: mean IoU +0.006 [+0.001, +0.012] over
dev + dev2, +0.008 on dev; on held-out synthetic scenes +0.005 [-0.005, +0.014]
(``benchmarks/second_look.py``). The gain is a model's, not a law: none on another
checkpoint whose one-look failures are not lopsided, so measure it for the model you ship.

Each look is also searched for its own quad. A right detection finds the same corners in
both; a wrong one (a table top, a whole open spread, a quad pulled onto a mug) often does
not, even where the confidence is high. ``checked_confidence`` is the chance that the
answer is right (IoU >= 0.9), a logistic model of its confidence's logit and the two looks'
agreement (the IoU of their quads). Like the confidence itself
(``docscan.detect.quad_confidence``) it is fitted on docscan's synthetic scenes, never on
the real photos, which only check it: ``python3 benchmarks/second_look.py --fit ...``
prints the weights below.

It costs one more model run and two more quad searches, so it is for the frame a user
shoots, not the live preview (``Detector(..., second_look=True)``; ``docscan detect`` takes
it by default, with the close look of ``docscan.detect.close_look``, ``--looks 2`` without).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from docscan.detect.geometry import polygon_iou
from docscan.detect.quad import find_quad
from docscan.detect.quad_confidence import logistic

# benchmarks/second_look.py --looks N --fit 9500:400,9600:600, shipped int8 model: for the
# answer of N looks (``docscan detect --looks N``), the weights of the answer's confidence
# logit and of the looks' agreement, and the intercept. The close look makes more answers
# right whatever the agreement, so the agreement weighs less beside it.
CHECKS = {2: ((0.8607, 2.1215), -1.841),
          4: ((0.8988, 1.446), -1.1851)}
CHECK_WEIGHTS, CHECK_INTERCEPT = CHECKS[4]    # docscan detect's default
_LOGIT_CLIP = 1e-4                  # a confidence of 0 or 1 has no finite logit


@dataclass
class SecondLook:
    agreement: float            # IoU of the two looks' own quads (0.0 when either found none)
    checked_confidence: float   # the chance the answer is right, given its confidence and the agreement
    ms: float                   # what the second look added: the mirrored model run, two quad searches


def mirror_x(corners: np.ndarray, width: int) -> np.ndarray:
    """Corners (x, y) of an image ``width`` pixels wide, in the mirrored image (pixel
    centres at integers, as the detector reports them)."""
    out = np.array(corners, np.float64)
    out[:, 0] = width - 1 - out[:, 0]
    return out


def mirrored_maps(model, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``model``'s maps of the model frame ``frame`` mirrored, mirrored back onto ``frame``.
    (The small model frame is flipped, not the camera frame: the same pixels, as the
    resize is symmetric, for a fraction of the copy.)"""
    edge, region = model.frame_maps(cv2.flip(frame, 1))
    return np.ascontiguousarray(edge[:, ::-1]), None if region is None else np.ascontiguousarray(region[:, ::-1])


def averaged(first: tuple[np.ndarray, np.ndarray | None], second: tuple[np.ndarray, np.ndarray | None]):
    """The two looks' (edge, region) maps averaged: the maps the answer is found on."""
    (e1, r1), (e2, r2) = first, second
    edge = (e1 + e2) * np.float32(0.5)
    return edge, None if r1 is None or r2 is None else (r1 + r2) * np.float32(0.5)


def agreement(first: tuple[np.ndarray, np.ndarray | None], second: tuple[np.ndarray, np.ndarray | None],
              params) -> float:
    """IoU of the quads found on each look's maps alone (map pixels; IoU does not change
    with the resize to the photo); 0.0 when either finds no page."""
    a = find_quad(first[0], params=params, region=first[1])
    b = find_quad(second[0], params=params, region=second[1])
    if a.corners is None or b.corners is None:
        return 0.0
    return float(polygon_iou(np.asarray(a.corners, np.float64), np.asarray(b.corners, np.float64)))


def logit(p: float) -> float:
    p = min(max(float(p), _LOGIT_CLIP), 1.0 - _LOGIT_CLIP)
    return math.log(p / (1.0 - p))


def checked_confidence(confidence: float, agreement_iou: float,
                       weights: tuple[float, float] = CHECK_WEIGHTS, intercept: float = CHECK_INTERCEPT) -> float:
    """The score to ask for a retake by: the chance the answer is right, given its
    confidence and the two looks' agreement."""
    return logistic(intercept + weights[0] * logit(confidence) + weights[1] * float(agreement_iou))
