"""Debian's python3-opencv for the emulated ARM devices (a ``debian_layer``): what the
pipeline benchmark (``bench/pipeline_stages.py``) needs to run docscan's detect code there."""

from __future__ import annotations

from pathlib import Path

from docscan.bench.debian_layer import Layer, ensure_layer, guest_env
from docscan.bench.rootfs import python_site
from docscan.progress import Progress, silent

__all__ = ["OPENCV", "ensure_opencv_layer", "guest_env"]


def _has_cv2(layer: Path) -> str:
    return "" if any(python_site(layer).glob("cv2*")) else "has no cv2 module"


OPENCV = Layer("opencv", "python3-opencv", "libopencv-core", _has_cv2)


def ensure_opencv_layer(name: str, *, progress: Progress = silent) -> tuple[Path, Path]:
    """(rootfs, layer) for ISA ``name``: both built first if missing (minutes, once)."""
    return ensure_layer(OPENCV, name, progress=progress)

