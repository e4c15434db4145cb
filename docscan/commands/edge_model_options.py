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
# detect and eval: how many times a still is seen (docscan.detect.second_look, .close_look)
STILL_LOOKS = 4     # a shot still's default: the better answer and the retake signal
LOOKS_HELP = ("Model runs per photo. 4: the frame, the frame mirrored, and the part around the page cut out "
              "and seen close, both ways; the answer from all their maps, plus the looks' agreement and "
              "checked_confidence (the chance the corners are right, a retake signal). 2: the frame and the "
              "frame mirrored. 1: the live preview's answer (as `docscan frames`).")


def looks_option(default):
    return click.option("--looks", type=click.Choice(["1", "2", "4"]), default=default,
                        callback=lambda ctx, param, v: None if v is None else int(v),
                        show_default=default is not None,
                        help=LOOKS_HELP + ("" if default else f" Default {STILL_LOOKS} (hed only)."))


def looks_kwargs(looks: int) -> dict:
    """``Detector`` arguments for ``--looks``."""
    return {"second_look": looks > 1, "close_look": looks == 4}


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
