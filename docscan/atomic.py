"""Write files so that a crash or a bad input never leaves half a file behind."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from docscan.errors import DocscanError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The temp file lives in the same directory so the final ``os.replace`` is atomic.
    On any exception the temp file is removed and ``target`` is untouched.
    """
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.exists():
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DocscanError(f"{directory}: cannot create output directory ({exc.strerror})") from None
    if not directory.is_dir():
        raise DocscanError(f"{directory}: exists and is not a directory")
    if not os.access(directory, os.W_OK):
        raise DocscanError(f"{directory}: output directory is not writable")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise DocscanError(f"{directory}: cannot write there ({exc.strerror})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.is_file():
            # mkstemp makes 0600 files; outputs should get the mode a plain open() gives.
            tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def write_figure(target: str | os.PathLike, fig, title: str | None = None, dpi: int = 100,
                 layout_rect: tuple[float, float, float, float] | None = None) -> Path:
    """Save a matplotlib figure as PNG (title set, laid out tight within ``layout_rect`` of the
    figure, e.g. leaving a strip for a figure-level legend) and close it."""
    import matplotlib.pyplot as plt

    if title is not None:
        fig.axes[0].set_title(title)
    fig.tight_layout(rect=layout_rect)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return Path(target)


def write_json(target: str | os.PathLike, obj) -> Path:
    return write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    # numpy scalars and arrays appear in reports; store them as plain JSON.
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
