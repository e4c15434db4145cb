"""JPEG markers read without decoding: the frame size, the EXIF orientation tag, whether
the file is cut short; and the orientation tag applied to stored pixels."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass
class JpegHeader:
    width: int              # stored pixels (before the orientation tag)
    height: int
    orientation: int = 1    # EXIF tag 0x0112, 1..8 (1 = as stored)
    frame_at: int = 0       # byte offset of the frame header (after any EXIF thumbnail)

    @property
    def shown_size(self) -> tuple[int, int]:
        """(width, height) as shown, the orientation tag applied."""
        return (self.height, self.width) if self.orientation in (5, 6, 7, 8) else (self.width, self.height)


def jpeg_header(data: bytes | np.ndarray) -> JpegHeader | None:
    """Size and EXIF orientation from a JPEG's markers; None when ``data`` is not a JPEG
    (or its header is cut short before the frame header)."""
    buf = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
    if len(buf) < 4 or buf[0] != 0xFF or buf[1] != 0xD8:
        return None
    pos, orientation = 2, 1
    while pos + 4 <= len(buf):
        if buf[pos] != 0xFF:
            return None
        marker = buf[pos + 1]
        if marker == 0xFF:          # fill byte
            pos += 1
            continue
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        seg = bytes(buf[pos + 4:pos + 2 + length])
        if marker == 0xE1 and seg[:6] == b"Exif\0\0":
            orientation = _exif_orientation(seg[6:]) or orientation
        elif marker in _SOF and len(seg) >= 5:
            height, width = struct.unpack(">HH", seg[1:5])
            return JpegHeader(int(width), int(height), orientation, pos) if width and height else None
        elif marker == 0xDA:        # scan data before a frame header: not a JPEG we know
            return None
        pos += 2 + length
    return None


def cut_short(data: bytes | np.ndarray, head: JpegHeader) -> bool:
    """True when the JPEG has no end-of-image marker after its frame header: the file was
    cut off (libjpeg decodes such a file anyway, the missing part grey). Entropy-coded data
    never holds 0xFFD9, and an EXIF thumbnail's comes before the frame header."""
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    return raw.rfind(b"\xff\xd9", head.frame_at) < 0


def _exif_orientation(tiff: bytes) -> int | None:
    """Tag 0x0112 of IFD0 in a TIFF-structured EXIF block; None when absent or malformed."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    e = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack(e + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return None
    (n,) = struct.unpack(e + "H", tiff[ifd:ifd + 2])
    for k in range(n):
        at = ifd + 2 + 12 * k
        if at + 12 > len(tiff):
            return None
        tag, typ, _count = struct.unpack(e + "HHI", tiff[at:at + 8])
        if tag == 0x0112 and typ == 3:
            (value,) = struct.unpack(e + "H", tiff[at + 8:at + 10])
            return int(value) if 1 <= value <= 8 else None
    return None


def orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation tag (1..8) to stored pixels: the image as shown."""
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.transpose(image)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(image), cv2.ROTATE_180)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


