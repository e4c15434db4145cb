"""Debian's python3-opencv for the emulated ARM devices (a ``debian_layer``): what the
pipeline benchmark (``bench/pipeline_stages.py``) needs to run docscan's detect code there."""

from __future__ import annotations

from pathlib import Path

from docscan.bench.debian_layer import Layer, ensure_layer, library_dirs
from docscan.bench.rootfs import Isa, python_site
from docscan.progress import Progress, silent


def _has_cv2(layer: Path) -> str:
    return "" if any(python_site(layer).glob("cv2*")) else "has no cv2 module"


OPENCV = Layer("opencv", "python3-opencv", "libopencv-core", _has_cv2)


def ensure_opencv_layer(name: str, *, progress: Progress = silent) -> tuple[Path, Path]:
    """(rootfs, layer) for ISA ``name``: both built first if missing (minutes, once)."""
    return ensure_layer(OPENCV, name, progress=progress)


def guest_env(root: Path, layer: Path, isa: Isa) -> dict:
    """Environment for ``qemu -L root python3`` that sees the layer's cv2 and libraries."""
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": "/tmp", "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2",
            # OpenCV's own thread pool would make the guest multi-threaded (and counts racy).
            "OPENCV_FOR_THREADS_NUM": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "PYTHONPATH": str(python_site(layer)),
            "LD_LIBRARY_PATH": ":".join(str(d) for d in library_dirs(root, layer, isa))}
