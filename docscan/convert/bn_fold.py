"""BatchNorm folding on the Keras graph, before conversion.

Inference BN is a per-channel affine map ``y = s * x + t`` with
``s = gamma / sqrt(var + eps)`` and ``t = beta - mean * s``. Three fates, tried in order:

* ``folded_into_previous``: BN right after a linear layer (Conv2D, DepthwiseConv2D,
  SeparableConv2D, Dense, Conv2DTranspose) with no activation, whose output only the BN
  reads: scale the kernel's output channels by ``s``, bias becomes ``b * s + t``. Exact.
* ``folded_into_next``: BN whose output only feeds a Conv2D / DepthwiseConv2D / Dense that
  sees no zero padding ('valid', or a 1x1 kernel): scale the kernel's input channels by
  ``s`` and add ``W . t`` to the bias. Not done across zero 'same' padding with a kernel
  larger than 1, because the padded border would see ``0`` instead of ``t``.
* ``affine``: anything else (after an activation, an add or a concat, at the input)
  becomes one ``ChannelAffine`` layer (x * s + t), i.e. one MUL and one ADD, instead of
  the runtime's generic BN decomposition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np

from docscan.convert.graph import index, rebuild
from docscan.errors import DocscanError

LINEAR_BEFORE = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
                 keras.layers.Dense, keras.layers.Conv2DTranspose)
LINEAR_AFTER = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)


@keras.saving.register_keras_serializable(package="docscan")
class ChannelAffine(keras.layers.Layer):
    """``x * scale + offset`` along the last axis: what an unfoldable BN becomes."""

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.scale = self.add_weight(shape=(c,), initializer="ones", name="scale")
        self.offset = self.add_weight(shape=(c,), initializer="zeros", name="offset")

    def call(self, x, mask=None, training=None):   # BN's call signature: the graph passes these
        return x * self.scale + self.offset


@keras.saving.register_keras_serializable(package="docscan")
class FoldedAway(keras.layers.Layer):
    """Stands where a folded BN was (keeps its name in the graph); the identity."""

    def call(self, x, mask=None, training=None):
        return x


@dataclass
class BNFate:
    name: str
    action: str              # folded_into_previous | folded_into_next | affine
    target: str | None       # the layer it was folded into
    reason: str

    def to_dict(self):
        return asdict(self)


def bn_affine(bn: keras.layers.BatchNormalization):
    """(scale, offset) of an inference-mode BN, float64 for the folding arithmetic."""
    axis = bn.axis if isinstance(bn.axis, int) else bn.axis[0]
    rank = len(bn.input.shape) if hasattr(bn, "input") else None
    if rank is not None and axis not in (-1, rank - 1):
        raise DocscanError(f"{bn.name}: BatchNormalization over axis {axis} is not a channel axis; cannot fold")
    mean = np.asarray(bn.moving_mean, np.float64)
    var = np.asarray(bn.moving_variance, np.float64)
    gamma = np.asarray(bn.gamma, np.float64) if bn.scale else np.ones_like(mean)
    beta = np.asarray(bn.beta, np.float64) if bn.center else np.zeros_like(mean)
    s = gamma / np.sqrt(var + bn.epsilon)
    return s, beta - mean * s


def _kernel_bias(layer):
    if isinstance(layer, keras.layers.SeparableConv2D):
        w = np.asarray(layer.pointwise_kernel, np.float64)
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
        w = np.asarray(layer.kernel, np.float64)
    else:
        w = np.asarray(layer.kernel, np.float64)
    n_out = _out_channels(layer)
    b = np.asarray(layer.bias, np.float64) if layer.use_bias else np.zeros(n_out)
    return w, b


def _out_channels(layer):
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return int(layer.kernel.shape[2] * layer.kernel.shape[3])
    if isinstance(layer, keras.layers.Dense):
        return int(layer.units)
    return int(layer.filters)


def _is_linear(layer):
    act = getattr(layer, "activation", None)
    return act is None or act is keras.activations.linear or getattr(act, "__name__", "") == "linear"


def _fold_back(layer, s, t):
    """New weight list for ``layer`` followed by the affine (s, t) on its outputs."""
    w, b = _kernel_bias(layer)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        w = w * s.reshape(w.shape[2], w.shape[3])
    elif isinstance(layer, keras.layers.Conv2DTranspose):
        w = w * s.reshape(1, 1, -1, 1)          # kernel (kh, kw, out, in)
    else:
        w = w * s                                # last axis = output channels
    b = b * s + t
    if isinstance(layer, keras.layers.SeparableConv2D):
        return [np.asarray(layer.depthwise_kernel), w.astype(np.float32), b.astype(np.float32)]
    return [w.astype(np.float32), b.astype(np.float32)]


def _fold_forward(layer, s, t):
    """New weight list for ``layer`` preceded by the affine (s, t) on its inputs."""
    w, b = _kernel_bias(layer)
    if isinstance(layer, keras.layers.Dense):
        b = b + t @ w
        w = w * s[:, None]
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw, cin, mult = w.shape
        b = b + (w.sum(axis=(0, 1)) * t[:, None]).reshape(cin * mult)
        w = w * s.reshape(1, 1, cin, 1)
    else:                                       # Conv2D (kh, kw, cin, cout)
        b = b + np.einsum("hwio,i->o", w, t)
        w = w * s.reshape(1, 1, -1, 1)
    return [w.astype(np.float32), b.astype(np.float32)]


def _forward_exact(layer) -> str | None:
    """None when folding an affine into ``layer``'s input is exact, else why not."""
    if not isinstance(layer, LINEAR_AFTER):
        return f"next layer {layer.name} ({type(layer).__name__}) is not a Conv2D/DepthwiseConv2D/Dense"
    if isinstance(layer, keras.layers.Dense):
        return None
    if getattr(layer, "groups", 1) != 1:
        return f"next layer {layer.name} is a grouped convolution"
    k = tuple(layer.kernel_size)
    if layer.padding == "same" and k != (1, 1):
        return (f"next layer {layer.name} zero-pads ('same', kernel {k[0]}x{k[1]}): border pixels "
                "would see 0 instead of the BN offset, so folding forward is not exact")
    return None


def _with_bias(layer):
    def make():
        cfg = layer.get_config()
        cfg["use_bias"] = True
        cfg["bias_initializer"] = "zeros"
        return layer.__class__.from_config(cfg)
    return make


def plan(model: keras.Model) -> list[BNFate]:
    """Decide what becomes of every BatchNormalization layer (no model is changed)."""
    g = index(model)
    fates, claimed = [], set()
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        node = g.node_of(layer)
        if node is None:
            fates.append(BNFate(layer.name, "affine", None, "called more than once"))
            continue
        x = node.input_tensors[0]
        prev = g.producer(x)
        why = None
        if not isinstance(prev, LINEAR_BEFORE):
            why = f"input comes from {prev.name} ({type(prev).__name__}), not a conv/dense layer"
        elif not _is_linear(prev):
            why = f"{prev.name} applies an activation before the BN"
        elif g.node_of(prev) is None:
            why = f"{prev.name} is called more than once"
        elif g.sole_consumer(x) is not layer:
            why = f"{prev.name}'s output is also read elsewhere"
        elif prev.name in claimed:
            why = f"{prev.name} already absorbs another BN"
        if why is None:
            fates.append(BNFate(layer.name, "folded_into_previous", prev.name, "conv/dense -> BN"))
            claimed.add(prev.name)
            continue
        y = node.output_tensors[0]
        nxt = g.sole_consumer(y)
        fwd_why = "its output is read by several layers or is a model output" if nxt is None else _forward_exact(nxt)
        if fwd_why is None and g.node_of(nxt) is None:
            fwd_why = f"{nxt.name} is called more than once"
        if fwd_why is None and nxt.name in claimed:
            fwd_why = f"{nxt.name} already absorbs another BN"
        if fwd_why is None:
            fates.append(BNFate(layer.name, "folded_into_next", nxt.name, f"cannot fold back ({why}); exact forward"))
            claimed.add(nxt.name)
        else:
            fates.append(BNFate(layer.name, "affine", None, f"{why}; not forward either: {fwd_why}"))
    return fates


def fold_batchnorm(model: keras.Model) -> tuple[keras.Model, list[BNFate]]:
    """Return (model without BatchNormalization layers, fate of every BN)."""
    fates = plan(model)
    if not fates:
        return model, []
    replace, new_weights = {}, {}
    for f in fates:
        bn = model.get_layer(f.name)
        s, t = bn_affine(bn)
        if f.action == "affine":
            replace[f.name] = lambda n=f.name: ChannelAffine(name=n)
            new_weights[f.name] = [s.astype(np.float32), t.astype(np.float32)]
            continue
        replace[f.name] = lambda n=f.name: FoldedAway(name=n)
        target = model.get_layer(f.target)
        replace[f.target] = _with_bias(target)
        fold = _fold_back if f.action == "folded_into_previous" else _fold_forward
        new_weights[f.target] = fold(target, s, t)
    return rebuild(model, replace, new_weights), fates
