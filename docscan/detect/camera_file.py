"""Camera files at the resolution detection needs: JPEG DCT scaling, EXIF orientation.

A 12 MP phone JPEG decoded in full is 36 MB of pixels that the 160x160 edge model and the
corner refinement never need. libjpeg can decode at 1/2, 1/4 or 1/8 scale from the DCT
coefficients (``cv2.IMREAD_REDUCED_COLOR_*``) for a fraction of the time; the header says
how large the photo is, so the largest reduction that keeps the shorter side at or above
``DETECT_MIN_SIDE`` is chosen before decoding.

EXIF orientation: the reduced image is decoded with ``IMREAD_IGNORE_ORIENTATION`` and the
tag (read from the header by ``docscan.detect.jpeg``) applied with lossless flips and
quarter turns, so the result is the same whichever OpenCV version (some apply the tag to
reduced decodes, some do not). A pixel of the reduced image covers ``scale`` x ``scale``
photo pixels, so photo coordinates are ``(x + 0.5) * scale - 0.5``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from docscan.detect.image_io import decode_image, read_bytes
from docscan.detect.jpeg import jpeg_header, orient
from docscan.errors import DocscanError

# Shorter side (as shown) that detection decodes to at least: 4.5x the 160-pixel model
# input, and the refinement's 1.5%-of-diagonal search still ~11 pixels wide.
DETECT_MIN_SIDE = 720
REDUCTIONS = {8: cv2.IMREAD_REDUCED_COLOR_8, 4: cv2.IMREAD_REDUCED_COLOR_4, 2: cv2.IMREAD_REDUCED_COLOR_2}


@dataclass
class CameraImage:
    image: np.ndarray            # RGB uint8 as shown, 1/scale of the photo's size
    scale: int                   # photo pixels per image pixel (1, 2, 4 or 8)
    full_size: tuple[int, int]   # the photo's (width, height) as shown

    def to_photo(self, corners) -> np.ndarray | None:
        """Image-pixel corners -> photo-pixel corners (pixel centres at integers)."""
        if corners is None:
            return None
        return ((np.asarray(corners, np.float64) + 0.5) * self.scale - 0.5).astype(np.float32)


def reduction_for(shown_size: tuple[int, int], min_side: int = DETECT_MIN_SIDE) -> int:
    """The largest DCT reduction (8, 4, 2, else 1) whose image keeps its shorter side >= min_side."""
    short = min(shown_size)
    for k in (8, 4, 2):
        if -(-short // k) >= min_side:
            return k
    return 1


def load_for_detection(path: str | os.PathLike, min_side: int = DETECT_MIN_SIDE) -> CameraImage:
    """The photo in ``path`` decoded as small as detection allows (see the module doc):
    RGB as shown, with its scale. Not a JPEG (PNG, ...) or a small JPEG: decoded in full,
    exactly as ``load_image``. DocscanError naming the file when it is not a readable image."""
    path = Path(path)
    data = read_bytes(path)
    head = jpeg_header(data)
    k = reduction_for(head.shown_size, min_side) if head is not None else 1
    if k == 1:
        image = decode_image(data, path)
        return CameraImage(image, 1, (image.shape[1], image.shape[0]))
    stored = decode_image(data, path, REDUCTIONS[k] | cv2.IMREAD_IGNORE_ORIENTATION)
    image = np.ascontiguousarray(orient(stored, head.orientation))
    w, h = head.shown_size
    if image.shape[:2] != (-(-h // k), -(-w // k)):
        raise DocscanError(f"{path}: decoded size {image.shape[1]}x{image.shape[0]} does not match its header "
                           f"({w}x{h} / {k})")
    return CameraImage(image, k, (w, h))
