"""Where docscan finds what lives beside the package: the checkout, shipped models, ../shared,
and the cache folder (the one home of each of these paths)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def beside_package(name: str, repo: Path = REPO, prefix: str = sys.prefix) -> Path:
    """``models`` or ``android_bench``: in the checkout (editable install), else where a
    wheel puts them (``<prefix>/share/docscan/<name>``, see pyproject's data-files)."""
    in_checkout = repo / name
    installed = Path(prefix) / "share" / "docscan" / name
    return in_checkout if in_checkout.is_dir() or not installed.is_dir() else installed


MODELS_DIR = Path(os.environ["DOCSCAN_MODELS"]) if os.environ.get("DOCSCAN_MODELS") else beside_package("models")
ANDROID_BENCH_DIR = beside_package("android_bench")


def cache_dir(*parts: str) -> Path:
    """``$DOCSCAN_CACHE`` (default ``~/.cache/docscan``), or a folder under it.

    Everything docscan builds once and reuses (ARM root filesystems, the qemu plugin,
    converted benchmark models, synthetic evaluation sets) lives here, outside the checkout.
    """
    root = Path(os.environ["DOCSCAN_CACHE"]) if os.environ.get("DOCSCAN_CACHE") else Path.home() / ".cache" / "docscan"
    return root.joinpath(*parts)


def shared_dir() -> Path:
    """The real data and fixtures: ``$DOCSCAN_SHARED``, else ``shared/`` beside the checkout."""
    env = os.environ.get("DOCSCAN_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def real_photos_dir() -> Path:
    return shared_dir() / "data" / "real-photos-dev"
