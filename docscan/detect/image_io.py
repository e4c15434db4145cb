"""Photos in and PNGs out: RGB uint8 arrays, errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from docscan.errors import DocscanError


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read a photo as RGB uint8 (an EXIF orientation tag applied: as shown); DocscanError
    naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise DocscanError(f"{path}: no such file")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None or img.size == 0:
        raise DocscanError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def encode_png(image_rgb: np.ndarray) -> bytes:
    img = image_rgb if image_rgb.ndim == 2 else cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise DocscanError("cannot encode PNG")
    return buf.tobytes()
