"""Parameters and multiply-accumulates (MACs) of a Keras model, per layer and in total.

Convention (the one the MobileNet, ShuffleNet and Xception papers use for "mult-adds"):
one MAC per multiply-add of a convolution or fully connected layer, per image.

* Conv2D: out_h * out_w * out_c * k_h * k_w * in_c / groups. Dilation changes which
  pixels are read, not how many, so it does not change the count. 'same' padding counts
  the full kernel at the border (the zeros are multiplied too).
* DepthwiseConv2D: out_h * out_w * in_c * depth_multiplier * k_h * k_w.
* SeparableConv2D: its depthwise part plus a 1x1 conv from in_c * depth_multiplier.
* Conv2DTranspose: in_h * in_w * in_c * k_h * k_w * out_c / groups (every input pixel
  scatters a full kernel; what 'same' crops away is still computed).
* Dense: (number of input vectors) * in_features * units.
* Biases, BatchNormalization (folded into the conv for inference), activations, pooling,
  Add, Concatenate, reshapes, padding, dropout: 0 MACs. They are listed with their
  parameters so the per-layer table adds up to the total.

Parameters are Keras' ``count_params()``: they include BatchNorm's moving mean and
variance (non-trainable), as keras.applications' published counts do; ``trainable``
excludes them. float32 size = parameters * 4 bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import keras
from keras import layers

BYTES_PER_FLOAT32 = 4


@dataclass
class LayerCount:
    name: str
    kind: str
    output_shape: tuple
    params: int
    trainable_params: int
    macs: int


@dataclass
class ModelCount:
    name: str
    input_shape: tuple
    params: int
    trainable_params: int
    macs: int
    layers: list[LayerCount] = field(default_factory=list)

    @property
    def non_trainable_params(self) -> int:
        return self.params - self.trainable_params

    @property
    def float32_bytes(self) -> int:
        return self.params * BYTES_PER_FLOAT32

    def to_dict(self, per_layer: bool = True) -> dict:
        d = asdict(self)
        d["non_trainable_params"] = self.non_trainable_params
        d["float32_bytes"] = self.float32_bytes
        if not per_layer:
            d.pop("layers")
        return d


def _size(shape) -> int:
    n = 1
    for v in shape:
        n *= int(v)
    return n


def _spatial(shape) -> int:
    """Product of the dims between batch and channels (1 for a vector)."""
    return _size(shape[1:-1]) if len(shape) > 2 else 1


def layer_macs(layer, input_shape, output_shape) -> int:
    """MACs of one call of ``layer`` (shapes include the batch dim, which is ignored)."""
    # Subclasses first: SeparableConv2D/DepthwiseConv2D/Conv2DTranspose are not Conv2D in
    # Keras 3, but keep the order explicit anyway.
    if isinstance(layer, layers.SeparableConv2D):
        k = _size(layer.kernel_size)
        c_in = int(input_shape[-1])
        mid = c_in * layer.depth_multiplier
        return _spatial(output_shape) * (mid * k + mid * int(output_shape[-1]))
    if isinstance(layer, layers.DepthwiseConv2D):
        k = _size(layer.kernel_size)
        return _spatial(output_shape) * int(output_shape[-1]) * k
    if isinstance(layer, layers.Conv2DTranspose):
        k = _size(layer.kernel_size)
        groups = getattr(layer, "groups", 1) or 1
        return _spatial(input_shape) * int(input_shape[-1]) * k * int(output_shape[-1]) // groups
    if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D)):
        k = _size(layer.kernel_size)
        groups = getattr(layer, "groups", 1) or 1
        return _spatial(output_shape) * int(output_shape[-1]) * k * int(input_shape[-1]) // groups
    if isinstance(layer, layers.Dense):
        return _size(input_shape[1:]) * int(layer.units)
    return 0


def _shape(tensor) -> tuple:
    return tuple(tensor.shape)


def _calls(layer):
    """(input shape, output shape) of every call of ``layer`` inside its model."""
    for node in getattr(layer, "_inbound_nodes", []):
        if not node.input_tensors or not node.output_tensors:
            continue
        yield _shape(node.input_tensors[0]), _shape(node.output_tensors[0])


def _trainable(layer) -> int:
    return sum(_size(w.shape) for w in layer.trainable_weights)


def count(model: keras.Model) -> ModelCount:
    """Per-layer and total parameters and MACs of a built functional Keras model."""
    rows: list[LayerCount] = []
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            # A nested model: count its layers, prefixed, so shared sub-networks add up.
            inner = count(layer)
            for r in inner.layers:
                rows.append(LayerCount(f"{layer.name}/{r.name}", r.kind, r.output_shape, r.params,
                                       r.trainable_params, r.macs))
            continue
        calls = list(_calls(layer))
        macs = sum(layer_macs(layer, i, o) for i, o in calls)
        out_shape = tuple(v for v in calls[-1][1][1:]) if calls else ()
        rows.append(LayerCount(layer.name, type(layer).__name__, out_shape, int(layer.count_params()),
                               _trainable(layer), int(macs)))
    params = sum(r.params for r in rows)
    trainable = sum(r.trainable_params for r in rows)
    macs = sum(r.macs for r in rows)
    input_shape = tuple(model.inputs[0].shape[1:]) if model.inputs else ()
    return ModelCount(model.name, input_shape, params, trainable, macs, rows)


def format_count(n: float, unit: str = "") -> str:
    """4253864 -> '4.25M'; short human-readable figures for tables."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.2f}{suffix}{unit}"
    return f"{n:g}{unit}"
