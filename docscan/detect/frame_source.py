"""Frames from a video file or a folder of images, one RGB frame at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from docscan.detect.image_io import load_image
from docscan.errors import DocscanError
from docscan.images import IMAGE_SUFFIXES


def iter_frames(path: Path) -> Iterator[tuple[str, np.ndarray | DocscanError]]:
    """(name, RGB frame) per frame of a video, or per image of a folder (sorted by name);
    an image that cannot be read comes as (name, DocscanError) and the rest still follow.
    DocscanError naming ``path`` when it is missing, or a video with no frame."""
    path = Path(path)
    if path.is_dir():
        names = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not names:
            raise DocscanError(f"{path}: no frames (no images in the folder)")
        for p in names:
            try:
                yield p.name, load_image(p)
            except DocscanError as exc:
                yield p.name, exc
        return
    if not path.is_file():
        raise DocscanError(f"{path}: no such file or folder")
    cap = cv2.VideoCapture(str(path))
    try:
        index, rgb = 0, None
        while True:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            if rgb is None or rgb.shape != bgr.shape:
                rgb = np.empty_like(bgr)
            yield f"frame{index:06d}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=rgb)
            index += 1
        if index == 0:
            raise DocscanError(f"{path}: no frames (not a readable video, or empty)")
    finally:
        cap.release()
