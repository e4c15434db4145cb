"""Rewrite CONCATENATION of one-channel maps -> 1x1 CONV_2D as a weighted sum (MUL + ADD).

HED's fuse layer stacks its five side outputs (one channel each, full resolution) and
mixes them with a 1x1 convolution. TFLite 2.14 on ARM runs that concatenation as a copy
of one element per input per pixel: on a modelled Cortex-A53 it took 5.9 of the shipped
int8 model's 49 ms (``benchmarks/results/seed_on_cores.json``), and the 5 -> 1 convolution
another ~1.6 ms, for 128k multiply-adds. The same function is sum_i w_i * x_i + b: one
MUL by a constant per input and an ADD chain, elementwise ops that XNNPACK vectorises.

Exact in real arithmetic (fp32 differs only by summation order); the int8 model rounds
once per MUL and ADD where the convolution rounded once, which the parity report shows.
Applies where a Concatenate (last axis) of one-channel inputs is read only by a 1x1,
stride-1, undilated Conv2D; the Conv2D becomes an Identity of the same name, so the
graph keeps its shape and every other layer its weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np

from docscan.convert.graph import index, rebuild


@dataclass
class FuseSumRewrite:
    concat: str
    conv: str
    inputs: int
    filters: int

    def to_dict(self):
        return asdict(self)


@keras.saving.register_keras_serializable(package="docscan")
class WeightedSum(keras.layers.Layer):
    """sum_i x_i * kernel[i] + bias, then the activation: x_i are (..., 1), the result (..., filters)."""

    def __init__(self, inputs, filters, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.n_inputs, self.filters = int(inputs), int(filters)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(self.n_inputs, self.filters), initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, xs):
        y = xs[0] * self.kernel[0] + self.bias
        for i in range(1, self.n_inputs):
            y = y + xs[i] * self.kernel[i]
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "inputs": self.n_inputs, "filters": self.filters,
                "activation": keras.activations.serialize(self.activation)}


def _fusable_conv(g, concat):
    """The 1x1 Conv2D that alone reads ``concat``'s output, when the pair can be a weighted sum."""
    if not isinstance(concat, keras.layers.Concatenate) or concat.axis not in (-1, 3):
        return None
    node = g.node_of(concat)
    if node is None or any(t.shape[-1] != 1 for t in node.input_tensors):
        return None
    conv = g.sole_consumer(node.output_tensors[0])
    if (not isinstance(conv, keras.layers.Conv2D) or type(conv) is not keras.layers.Conv2D
            or tuple(conv.kernel_size) != (1, 1) or tuple(conv.strides) != (1, 1)
            or tuple(conv.dilation_rate) != (1, 1) or conv.groups != 1 or g.node_of(conv) is None):
        return None
    return conv


def rewrite_fuse_sums(model: keras.Model):
    """Replace each Concatenate(one-channel maps) -> 1x1 Conv2D by a WeightedSum; return
    (model, [FuseSumRewrite]). The model comes back unchanged (same object) when none applies."""
    g = index(model)
    replace, weights, done = {}, {}, []
    for layer in model.layers:
        conv = _fusable_conv(g, layer)
        if conv is None:
            continue
        n, f = len(g.node_of(layer).input_tensors), int(conv.filters)
        kernel = np.asarray(conv.kernel).reshape(n, f)
        bias = np.asarray(conv.bias) if conv.use_bias else np.zeros(f, kernel.dtype)
        replace[layer.name] = (lambda name=layer.name, n=n, f=f, a=keras.activations.serialize(conv.activation):
                               WeightedSum(n, f, activation=a, name=name))
        replace[conv.name] = lambda name=conv.name: keras.layers.Identity(name=name)
        weights[layer.name] = [kernel, bias]
        done.append(FuseSumRewrite(layer.name, conv.name, n, f))
    if not replace:
        return model, []
    return rebuild(model, replace, weights), done
