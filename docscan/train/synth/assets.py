"""The seed author's real photos that synthetic scenes reuse: background photos and flat
page images (``<shared>/data/author-hed-samples/sample_images/``), loaded once per process.
A missing folder just means procedural-only content."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from docscan.images import IMAGE_SUFFIXES
from docscan.paths import shared_dir as shared_dir_default

SEED_SAMPLES = Path("data") / "author-hed-samples" / "sample_images"


@functools.lru_cache(maxsize=4)
def _load_folder(folder: str, max_side: int) -> tuple[np.ndarray, ...]:
    path = Path(folder)
    if not path.is_dir():
        return ()
    images = []
    for f in sorted(path.iterdir()):
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        im = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if im is None or min(im.shape[:2]) < 16:
            continue
        scale = max_side / max(im.shape[:2])
        if scale < 1:
            im = cv2.resize(im, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        images.append(cv2.cvtColor(im, cv2.COLOR_BGR2RGB))
    return tuple(images)


def real_backgrounds(shared_dir=None):
    root = Path(shared_dir) if shared_dir else shared_dir_default()
    return _load_folder(str((root / SEED_SAMPLES / "background_images").resolve()), 720)


def real_pages(shared_dir=None):
    root = Path(shared_dir) if shared_dir else shared_dir_default()
    return _load_folder(str((root / SEED_SAMPLES / "rect_images").resolve()), 480)

