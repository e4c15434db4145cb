"""A fixed synthetic set on disk: JPEG photos, edge PNGs and ``labels.json`` in the format
``docscan eval`` reads."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from docscan.atomic import write_bytes, write_json
from docscan.errors import DocscanError
from docscan.progress import Progress, silent
from docscan.train.synth.sample import make_sample


def write_set(directory, n: int, seed: int, size=(512, 384), shared_dir=None, progress: Progress = silent) -> Path:
    """Write ``n`` samples as JPEG + edge PNG and ``labels.json`` (docscan eval's format, plus
    each sample's scene, page kind, curl and occlusion); returns the labels file."""
    directory = Path(directory)
    if n <= 0:
        raise DocscanError(f"synth: number of samples must be positive, got {n}")
    if directory.exists() and not directory.is_dir():
        raise DocscanError(f"{directory}: exists and is not a directory")
    try:
        (directory / "edges").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DocscanError(f"{directory}: cannot create output directory ({exc.strerror})") from None
    labels = {}
    for i in range(n):
        trace = {}
        s = make_sample(seed, i, size, shared_dir, trace=trace)
        name = f"synth_{seed}_{i:05d}.jpg"
        _, jpeg = cv2.imencode(".jpg", s.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        write_bytes(directory / name, jpeg.tobytes())
        _, png = cv2.imencode(".png", (s.edges * 255).astype(np.uint8))
        write_bytes(directory / "edges" / name.replace(".jpg", ".png"), png.tobytes())
        labels[name] = {"width": int(s.image.shape[1]), "height": int(s.image.shape[0]),
                        "corners": [[round(float(x), 2), round(float(y), 2)] for x, y in s.corners],
                        # what was drawn, for results broken down by scene (eval ignores it)
                        "scene": trace["scene"], "page": trace["kind"], "curled": trace["curled"],
                        "occluded": trace["occluded"]}
        progress(f"writing {n} samples to {directory}", done=i + 1, total=n)
    write_json(directory / "labels.json", labels)
    return directory / "labels.json"
