"""The backbone taps the region head reads, computed once per synthetic sample.

With the backbone frozen a sample needs one forward pass: its taps (``REGION_TAPS`` of
``docscan.zoo.hed``, at 1/8 and 1/16) are cached as float16 and the head trains on them
for many epochs. Samples are drawn in worker processes, ``CHUNK`` at a time.
"""

from __future__ import annotations

import numpy as np

from docscan.errors import DocscanError
from docscan.progress import Progress, silent

CHUNK = 250       # samples generated and tapped at once


def tap_tensors(model) -> list:
    """The source model's taps that the region head reads (symbolic): the inputs of the HED's
    side-output convs ``dsn{i + 1}_conv`` for i in ``REGION_TAPS``."""
    from docscan.zoo.hed import REGION_TAPS

    names = [f"dsn{i + 1}_conv" for i in REGION_TAPS]
    try:
        return [model.get_layer(name).input for name in names]
    except ValueError:
        raise DocscanError(f"{model.name}: not a zoo HED (no {', '.join(names)} layers)") from None


def _sample_chunk(args):
    seed, start, stop, size, shared_dir = args
    from docscan.train.synth import make_sample

    images, regions = [], []
    for i in range(start, stop):
        s = make_sample(seed, i, size, shared_dir)
        images.append(s.image)
        regions.append(np.round(s.region * 255).astype(np.uint8))
    return np.stack(images), np.stack(regions)


def cache_taps(source, seed: int, start: int, n: int, shared_dir, workers: int, progress: Progress = silent) -> dict:
    """Taps (``taps``: a list of float16 arrays) and page-region targets (``region``: uint8,
    0..255) of samples start .. start+n-1."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import keras

    taps = keras.Model(source.inputs, tap_tensors(source))
    size = tuple(int(v) for v in source.inputs[0].shape[1:3])
    jobs = [(seed, a, min(a + CHUNK, start + n), size, str(shared_dir) if shared_dir else None)
            for a in range(start, start + n, CHUNK)]
    parts = {"taps": [[] for _ in taps.outputs], "region": []}
    done = 0
    # spawn, not fork: this process holds TensorFlow's thread pools
    with ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        for images, regions in pool.map(_sample_chunk, jobs):
            for a in range(0, len(images), 50):   # eager calls: predict() retraces on a short last chunk
                outs = taps([images[a:a + 50].astype(np.float32) / 255.0], training=False)
                for part, value in zip(parts["taps"], outs):
                    part.append(np.asarray(value).astype(np.float16))
            parts["region"].append(regions)
            done += len(images)
            progress(f"tapping {n} samples of stream {seed}", done=done, total=n)
    return {"taps": [np.concatenate(p) for p in parts["taps"]], "region": np.concatenate(parts["region"])}
