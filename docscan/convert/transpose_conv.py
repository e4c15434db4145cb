"""Rewrite Conv2DTranspose as an exactly equivalent CONV_2D + DEPTH_TO_SPACE (sub-pixel).

A transposed conv with stride f and 'same' padding writes output row ``o = f*q + r``
from input rows ``i`` with kernel tap ``k = r + p - f*(i - q)`` (``p`` = the 'same' pad
before, ``max(K - f, 0) // 2``, as TensorFlow computes it). So each of the f*f output
phases (r_h, r_w) is an ordinary stride-1 convolution of the input with a kernel gathered
from the transposed kernel; stacking the f*f phase outputs as channels and applying
DEPTH_TO_SPACE(f) interleaves them back. For the seed's HED (kernel 2f, stride f) every
phase needs input rows q-1..q+1: one 3x3 'same' conv with f*f*C_out filters.

Exact (same sums, zero taps where a phase does not reach) for any kernel size, any
stride f equal along both axes, padding 'same', no dilation, no output_padding; other
configurations are refused with a message saying why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np

from docscan.convert.graph import index, rebuild
from docscan.errors import DocscanError


@dataclass
class TConvRewrite:
    name: str
    kernel: tuple
    stride: int
    conv_kernel: tuple       # kernel of the replacing CONV_2D
    conv_filters: int

    def to_dict(self):
        return asdict(self)


def _axis_plan(K: int, f: int):
    """Per axis: (conv kernel size kc, pad-before L, p) such that tap j reads x[q + j - L]."""
    p = max(K - f, 0) // 2
    ds = [(r + p - k) // f for r in range(f) for k in range(K) if (r + p - k) % f == 0]
    lo, hi = max(-min(ds), 0), max(max(ds), 0)
    L = max(lo, hi - 1)
    R = L if hi <= L else L + 1
    return L + R + 1, L, p


def why_not_exact(layer) -> str | None:
    """None when ``layer`` (a Conv2DTranspose) has an exact sub-pixel form, else the reason."""
    if not isinstance(layer, keras.layers.Conv2DTranspose):
        return f"{layer.name} is not a Conv2DTranspose"
    sh, sw = layer.strides
    if sh != sw:
        return f"{layer.name}: strides {sh}x{sw} differ per axis (DEPTH_TO_SPACE needs one block size)"
    if layer.padding != "same":
        return f"{layer.name}: padding '{layer.padding}' (only 'same' keeps the output size at stride x input)"
    if tuple(layer.dilation_rate) != (1, 1):
        return f"{layer.name}: dilation {tuple(layer.dilation_rate)} is not supported"
    if layer.output_padding is not None:
        return f"{layer.name}: output_padding {layer.output_padding} is not supported"
    if layer.data_format != "channels_last":
        return f"{layer.name}: data_format {layer.data_format} is not supported"
    return None


def subpixel_weights(kernel: np.ndarray, bias: np.ndarray | None, stride: int):
    """Transposed kernel (Kh, Kw, Cout, Cin) -> (conv kernel (kh, kw, Cin, f*f*Cout), bias, pads)."""
    Kh, Kw, cout, cin = kernel.shape
    f = stride
    kch, Lh, ph = _axis_plan(Kh, f)
    kcw, Lw, pw = _axis_plan(Kw, f)
    w = np.zeros((kch, kcw, cin, f * f * cout), kernel.dtype)
    for rh in range(f):
        for rw in range(f):
            phase = (rh * f + rw) * cout
            for jh in range(kch):
                kh = rh + ph - f * (jh - Lh)
                if not 0 <= kh < Kh:
                    continue
                for jw in range(kcw):
                    kw = rw + pw - f * (jw - Lw)
                    if 0 <= kw < Kw:
                        w[jh, jw, :, phase:phase + cout] = kernel[kh, kw].T
    b = np.tile(bias, f * f) if bias is not None else np.zeros(f * f * cout, kernel.dtype)
    return w, b, (Lh, kch - 1 - Lh), (Lw, kcw - 1 - Lw)


@keras.saving.register_keras_serializable(package="docscan")
class SubPixelConv(keras.layers.Layer):
    """Conv2D (stride 1, explicit zero pads) -> DEPTH_TO_SPACE(block) -> activation."""

    def __init__(self, filters, kernel_size, block, pads, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.block = int(filters), int(block)
        self.kernel_size = tuple(int(k) for k in kernel_size)
        self.pads = tuple(tuple(int(v) for v in p) for p in pads)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        f2 = self.block * self.block
        self.kernel = self.add_weight(shape=(*self.kernel_size, int(input_shape[-1]), f2 * self.filters),
                                      initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(f2 * self.filters,), initializer="zeros", name="bias")

    def call(self, x):
        import tensorflow as tf  # the DEPTH_TO_SPACE op: TensorFlow backend only

        (top, bottom), (left, right) = self.pads
        kh, kw = self.kernel_size
        if (top, bottom) == ((kh - 1) // 2, kh // 2) and (left, right) == ((kw - 1) // 2, kw // 2):
            y = tf.nn.conv2d(x, self.kernel, 1, "SAME")        # one CONV_2D, no PAD op
        else:
            y = tf.nn.conv2d(x, self.kernel, 1, [[0, 0], [top, bottom], [left, right], [0, 0]])
        y = tf.nn.bias_add(y, self.bias)
        if self.block > 1:
            y = tf.nn.depth_to_space(y, self.block)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        f = self.block
        return (n, None if h is None else h * f, None if w is None else w * f, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "block": self.block, "pads": self.pads,
                "activation": keras.activations.serialize(self.activation)}


def rewrite_transpose_convs(model: keras.Model, *, strict: bool = True):
    """Replace every Conv2DTranspose by its sub-pixel form; return (model, [TConvRewrite]).

    With ``strict``, a Conv2DTranspose without an exact sub-pixel form raises
    DocscanError naming it and the reason; otherwise it is left in place.
    """
    index(model)  # refuses non-functional models with a clear message
    replace, weights, done = {}, {}, []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Conv2DTranspose):
            continue
        why = why_not_exact(layer)
        if why:
            if strict:
                raise DocscanError(f"cannot rewrite transposed convolution exactly: {why}")
            continue
        f = int(layer.strides[0])
        kernel = np.asarray(layer.kernel)
        bias = np.asarray(layer.bias) if layer.use_bias else None
        w, b, ph, pw = subpixel_weights(kernel, bias, f)
        replace[layer.name] = (lambda n=layer.name, k=w.shape[:2], pads=(ph, pw), c=layer.filters, f=f,
                               a=keras.activations.serialize(layer.activation):
                               SubPixelConv(c, k, f, pads, activation=a, name=n))
        weights[layer.name] = [w, b]
        done.append(TConvRewrite(layer.name, tuple(layer.kernel_size), f, tuple(w.shape[:2]), int(w.shape[-1])))
    if not replace:
        return model, []
    return rebuild(model, replace, weights), done
