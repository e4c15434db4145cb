"""Where docscan finds what lives beside the package: the checkout, shipped models, ../shared."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "models"


def shared_dir() -> Path:
    """The real data and fixtures: ``$DOCSCAN_SHARED``, else ``shared/`` beside the checkout."""
    env = os.environ.get("DOCSCAN_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def real_photos_dir() -> Path:
    return shared_dir() / "data" / "real-photos-dev"
