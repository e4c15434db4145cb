"""What detect, frames and eval share: the edge-model flags and where their outputs go."""

from __future__ import annotations

from pathlib import Path

import click

from docscan.errors import DocscanError

model_option = click.option(
    "--model", "model_path", type=click.Path(path_type=Path), default=None,
    help="Edge model (.keras or .tflite); default: the shipped models/hed_default.int8.tflite.")
threads_option = click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
                              help="Interpreter threads for a .tflite model.")


def outdir_option(default: str, what: str):
    return click.option("-o", "--outdir", type=click.Path(path_type=Path), default=Path(default), show_default=True,
                        help=f"Where {what} go.")


def model_or_default(model_path: Path | None) -> Path:
    """``--model``, else the shipped model; without one, say how to get one."""
    from docscan.detect.edge_model import default_model_path

    if model_path is not None:
        return model_path
    try:
        return default_model_path()
    except DocscanError as exc:
        raise DocscanError(f"{exc}; pass --model or train one with `docscan train`") from None


def unique_stem(path: Path, used: set) -> str:
    """``path``'s stem, numbered when an earlier input had the same one (a/x.jpg, b/x.jpg)."""
    stem, k = path.stem, 1
    while stem in used:
        k += 1
        stem = f"{path.stem}-{k}"
    used.add(stem)
    return stem
