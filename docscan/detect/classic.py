"""The classic OpenCV document scanner, the baseline the HED pipeline must beat.

grey -> Gaussian blur -> Canny -> external contours, largest first -> the first one that
``approxPolyDP`` (2% of its perimeter) reduces to 4 points is the page. This is the
recipe of the well-known OpenCV "mobile document scanner" tutorials, run at 500 px height.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from docscan.detect.detector import Detection, warp_document
from docscan.detect.edge_model import EdgeModel
from docscan.detect.geometry import order_corners
from docscan.detect.quad import NO_DOCUMENT

WORK_HEIGHT = 500


def classic_quad(image_rgb: np.ndarray, close: bool = False) -> tuple[np.ndarray | None, np.ndarray]:
    """(corners in full-image pixels or None, Canny edge map at working size in [0, 1]).

    ``close=True`` is a kinder variant (not the tutorial's): the Canny map is dilated
    once (3x3) so that page outlines broken by low contrast become closed contours.
    """
    H, W = image_rgb.shape[:2]
    s = WORK_HEIGHT / H
    small = cv2.resize(image_rgb, (max(1, int(round(W * s))), WORK_HEIGHT), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    grey = cv2.GaussianBlur(grey, (5, 5), 0)
    edged = cv2.Canny(grey, 75, 200)
    if close:
        edged = cv2.dilate(edged, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edged, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    contours = sorted(contours, key=cv2.contourArea, reverse=True)[:5]
    for c in contours:
        peri = cv2.arcLength(c, True)
        approx = cv2.approxPolyDP(c, 0.02 * peri, True)
        if len(approx) == 4:
            corners = approx.reshape(4, 2).astype(np.float32) / np.float32(s)
            return order_corners(corners), edged.astype(np.float32) / 255.0
    return None, edged.astype(np.float32) / 255.0


class ClassicDetector:
    """Same interface as ``docscan.detect.detector.Detector`` so eval can run either."""

    def __init__(self, close: bool = False):
        self.close = close
        self.name = "classic-closed" if close else "classic"

    def detect(self, image_rgb: np.ndarray, warp: bool = True) -> Detection:
        t0 = time.perf_counter()
        corners, edges = classic_quad(image_rgb, self.close)
        t1 = time.perf_counter()
        scan = warp_document(image_rgb, corners) if (warp and corners is not None) else None
        t2 = time.perf_counter()
        return Detection(corners, 1.0 if corners is not None else 0.0, edges,
                         {"model": 0.0, "quad": (t1 - t0) * 1e3, "warp": (t2 - t1) * 1e3},
                         "" if corners is not None else NO_DOCUMENT, scan)


class CannyEdgeModel(EdgeModel):
    """A training-free edge 'model' (blurred Canny at a fixed size), for development and
    for exercising the pipeline where no trained HED exists."""

    def __init__(self, size: int = 256):
        self.input_hw = (size, size)
        self.path = None

    def maps(self, image_rgb: np.ndarray) -> tuple[np.ndarray, None]:
        h, w = self.input_hw
        small = cv2.resize(image_rgb, (w, h), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0)
        edges = cv2.Canny(grey, 40, 120).astype(np.float32) / 255.0
        blurred = cv2.GaussianBlur(edges, (3, 3), 0.8)
        return blurred / max(1e-6, float(blurred.max())), None
