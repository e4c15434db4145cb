"""A second look at a still frame: the frame detected again, mirrored, and how well the two
answers agree.

A mirrored frame is as good a photo of the page as the frame itself, so a right detection
finds the same corners in it; a wrong one (a table top, a whole open spread, a quad pulled
onto a mug) often does not, even where the confidence is high. The agreement, the IoU of
the two quads with the second mirrored back, and the confidence together flag more of the
wrong detections than the confidence alone. It costs one more model run and quad search,
so it is for the frame a user shoots, not the live preview.

``checked_confidence`` is the chance that the corners are right (IoU >= 0.9), a logistic
model of the confidence's logit and the agreement. Like the confidence itself
(``docscan.detect.quad_confidence``), it is fitted on docscan's synthetic scenes, never on
the real photos, which only check it: ``python3 benchmarks/second_look.py --fit ...``
prints the weights below. (The plain product confidence x agreement, stop 28, was chosen
on the real photos.)

``benchmarks/second_look.py`` measures both on the labelled real photos, eight views each.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from docscan.detect.geometry import polygon_iou


def mirror_x(corners: np.ndarray, width: int) -> np.ndarray:
    """Corners (x, y) of an image ``width`` pixels wide, in the mirrored image (pixel
    centres at integers, as the detector reports them)."""
    out = np.array(corners, np.float64)
    out[:, 0] = width - 1 - out[:, 0]
    return out


def agreement(detector, image_rgb: np.ndarray, corners: np.ndarray | None) -> float:
    """IoU of ``corners`` (the detection on ``image_rgb``, in its pixels) with the detection
    on the mirrored image, mirrored back; 0.0 when either found no page."""
    if corners is None:
        return 0.0
    # cv2.flip: numpy's reversed-stride copy of a camera frame costs about as much as the model
    again = detector.detect(cv2.flip(image_rgb, 1), warp=False)
    if again.corners is None:
        return 0.0
    return float(polygon_iou(np.asarray(corners, np.float64), mirror_x(again.corners, image_rgb.shape[1])))


# benchmarks/second_look.py --fit 9500:400,9600:600, shipped int8 model
CHECK_WEIGHTS = (0.7859, 4.1579)    # confidence logit, agreement
CHECK_INTERCEPT = -3.7379
_LOGIT_CLIP = 1e-4                  # a confidence of 0 or 1 has no finite logit


def logit(p: float) -> float:
    p = min(max(float(p), _LOGIT_CLIP), 1.0 - _LOGIT_CLIP)
    return math.log(p / (1.0 - p))


def checked_confidence(confidence: float, agreement_iou: float,
                       weights: tuple[float, float] = CHECK_WEIGHTS, intercept: float = CHECK_INTERCEPT) -> float:
    """The score to ask for a retake by: the chance the corners are right, given the
    confidence and the mirrored look's agreement."""
    z = intercept + weights[0] * logit(confidence) + weights[1] * float(agreement_iou)
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
