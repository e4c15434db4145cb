"""The training losses.

Edges: the HED paper's class-balanced sigmoid cross-entropy (Xie & Tu 2015, eq. 2). Per
image, beta = |Y-| / |Y| (share of non-edge pixels); positives are weighted by beta,
negatives by 1 - beta, so the rare boundary pixels are not drowned by the background.
"""

from __future__ import annotations


def balanced_bce(labels, logits):
    """Class-balanced sigmoid cross-entropy per image, averaged over pixels and batch."""
    import tensorflow as tf

    n = tf.cast(tf.reduce_prod(tf.shape(labels)[1:]), tf.float32)
    pos = tf.reduce_sum(labels, axis=[1, 2, 3], keepdims=True)
    beta = 1.0 - pos / n                               # share of negatives
    beta = tf.clip_by_value(beta, 0.5, 1.0 - 1e-4)     # an edge-free image is plain BCE
    per_pixel = tf.nn.weighted_cross_entropy_with_logits(labels=labels, logits=logits,
                                                         pos_weight=beta / (1.0 - beta))
    return tf.reduce_mean(per_pixel * (1.0 - beta)) * 2.0   # x2: plain BCE scale at beta = 0.5


def region_bce(labels, logits):
    """Plain sigmoid cross-entropy of the page-region map (pages cover ~10-70 % of a frame,
    so no class balancing is needed)."""
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
