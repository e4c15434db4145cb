"""The synthetic stream as a batched ``tf.data.Dataset`` for training."""

from __future__ import annotations

import numpy as np

from docscan.train.synth.sample import iter_samples


def make_dataset(seed: int, batch_size: int, size=(256, 256), shared_dir=None, start: int = 0,
                 prefetch: int = 2, with_region: bool = False):
    """Batched tf.data.Dataset of (image float32 [0,1] (B,H,W,3), target float32 (B,H,W,C)).

    The target is the edge map (C = 1), or edges and page region stacked (C = 2) with
    ``with_region``.
    """
    import tensorflow as tf

    h, w = (int(v) for v in size)
    c = 2 if with_region else 1

    def gen():
        for s in iter_samples(seed, (h, w), shared_dir, start):
            target = np.stack([s.edges, s.region], -1) if with_region else s.edges[..., None]
            yield s.image.astype(np.float32) / 255.0, target

    ds = tf.data.Dataset.from_generator(
        gen,
        output_signature=(tf.TensorSpec((h, w, 3), tf.float32), tf.TensorSpec((h, w, c), tf.float32)))
    return ds.batch(batch_size, drop_remainder=True).prefetch(prefetch)

