"""Loading a .keras file: the one place that registers docscan's custom layers and turns
Keras' many exception types into one ``DocscanError`` naming the file."""

from __future__ import annotations

import zipfile
from pathlib import Path

from docscan.errors import DocscanError


def register_custom_layers() -> None:
    # Models that went through docscan's passes and were saved contain these layers.
    import docscan.convert.bn_fold  # noqa: F401
    import docscan.convert.transpose_conv  # noqa: F401


def load_keras_model(path, what: str = "cannot load Keras model"):
    """The Keras model in ``path`` (``compile=False``); ``what`` starts the error message."""
    import keras

    path = Path(path)
    if not path.exists():
        raise DocscanError(f"{path}: no such file")
    if path.is_dir():
        raise DocscanError(f"{path}: is a directory, not a .keras file")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise DocscanError(f"{path}: not a valid .keras file (not a zip archive: corrupt or truncated)")
    register_custom_layers()
    try:
        model = keras.saving.load_model(str(path), compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types on bad archives
        raise DocscanError(f"{path}: {what} ({first_line(exc)})") from None
    if not isinstance(model, keras.Model):
        raise DocscanError(f"{path}: does not contain a Keras model")
    return model


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-blank line of an exception's message (Keras' messages run to pages)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return type(exc).__name__
