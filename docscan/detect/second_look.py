"""A second look at a still frame: the frame detected again, mirrored, and how well the two
answers agree.

A mirrored frame is as good a photo of the page as the frame itself, so a right detection
finds the same corners in it; a wrong one (a table top, a whole open spread, a quad pulled
onto a mug) often does not, even where the confidence is high. The agreement, the IoU of
the two quads with the second mirrored back, times the confidence flags more of the wrong
detections than the confidence alone. It costs one more model run and quad search, so it
is for the frame a user shoots, not the live preview.

``benchmarks/second_look.py`` measures it on the labelled real photos, eight views each.
"""

from __future__ import annotations

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


def checked_confidence(confidence: float, agreement_iou: float) -> float:
    """The score to ask for a retake by: the confidence, discounted by disagreement."""
    return float(confidence) * float(agreement_iou)
