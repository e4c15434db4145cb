"""Photos in and PNGs out: RGB uint8 arrays, errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from docscan.detect.jpeg import cut_short, jpeg_header
from docscan.errors import DocscanError


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read a photo as RGB uint8 (an EXIF orientation tag applied: as shown); DocscanError
    naming the file when it is not one."""
    path = Path(path)
    return decode_image(read_bytes(path), path)


def read_bytes(path: Path) -> np.ndarray:
    """The file's bytes as uint8; DocscanError naming it when there is no such file."""
    if not path.is_file():
        raise DocscanError(f"{path}: no such file")
    return np.fromfile(str(path), dtype=np.uint8)


def decode_image(data: np.ndarray, path: Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Encoded bytes -> BGR decoded with ``flags`` converted to RGB; DocscanError naming
    ``path`` when they are not an image or a JPEG cut short (which libjpeg would decode,
    the missing part grey)."""
    head = jpeg_header(data)
    if head is not None and cut_short(data, head):
        raise DocscanError(f"{path}: JPEG is cut short (no end-of-image marker)")
    img = cv2.imdecode(data, flags) if data.size else None
    if img is None or img.size == 0:
        raise DocscanError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def encode_png(image_rgb: np.ndarray) -> bytes:
    img = image_rgb if image_rgb.ndim == 2 else cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise DocscanError("cannot encode PNG")
    return buf.tobytes()
