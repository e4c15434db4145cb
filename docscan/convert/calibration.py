"""Images for int8 calibration and parity checks: a directory of photos or synthetic pages.

Every image comes out as float32 RGB in [0, 1], resized to the model's (H, W) - the
input convention of the zoo networks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from docscan.errors import DocscanError
from docscan.images import IMAGE_SUFFIXES
from docscan.progress import Progress, silent


def list_images(directory: str | Path) -> list[Path]:
    d = Path(directory)
    if not d.is_dir():
        raise DocscanError(f"{d}: calibration directory does not exist")
    files = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DocscanError(f"{d}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in calibration directory")
    return files


def load_rgb(path: Path, hw: tuple[int, int]) -> np.ndarray | None:
    """float32 RGB [0, 1] at (H, W); None when the file is not a readable image."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        return None
    img = cv2.resize(img, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    return img[:, :, ::-1].astype(np.float32) / 255.0


def from_directory(directory, n: int, hw: tuple[int, int]) -> list[np.ndarray]:
    out = []
    for p in list_images(directory):
        img = load_rgb(p, hw)
        if img is not None:
            out.append(img)
        if len(out) >= n:
            break
    if not out:
        raise DocscanError(f"{directory}: none of the images could be read")
    return out


def from_synth(n: int, hw: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """``n`` pages from the project's synthetic generator (docscan.train.synth), the same
    pages for the same ``seed``."""
    from docscan.train.synth import iter_samples

    out = []
    for sample in iter_samples(seed, size=tuple(hw)):
        img = np.asarray(sample.image)
        if img.shape[:2] != tuple(hw):
            import cv2
            img = cv2.resize(img, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
        out.append(img.astype(np.float32) / 255.0)
        if len(out) >= n:
            break
    return out


def calibration_set(calib_dir, n: int, hw: tuple[int, int]) -> list[np.ndarray]:
    if n < 1:
        raise DocscanError(f"calibration needs at least 1 image, got {n}")
    return from_directory(calib_dir, n, hw) if calib_dir else from_synth(n, hw)


def with_progress(images: list[np.ndarray], label: str = "calibrating",
                  progress: Progress = silent) -> Callable[[], Iterator[np.ndarray]]:
    """A re-iterable over ``images`` that reports each image as the converter takes it."""
    def gen():
        for i, img in enumerate(images):
            progress(label, done=i, total=len(images))
            yield img
        progress(label, done=len(images), total=len(images))
    return gen
