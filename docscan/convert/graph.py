"""Small helpers over a functional Keras 3 graph: who produces and who consumes a tensor.

The passes (BN folding, transposed-conv rewrite, fuse sum) decide per layer what to do, then
rebuild the model with ``keras.models.clone_model`` and a clone function that maps each
old layer to its replacement (one replacement per layer, so shared layers stay shared).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import keras

from docscan.errors import DocscanError


@dataclass
class GraphIndex:
    """Per-layer call nodes and per-tensor consumers of one functional model."""

    model: keras.Model
    calls: dict = field(default_factory=lambda: defaultdict(list))       # layer name -> [node]
    consumers: dict = field(default_factory=lambda: defaultdict(list))   # id(tensor) -> [layer]
    outputs: set = field(default_factory=set)                            # id(tensor) of model outputs

    def producer(self, tensor):
        return tensor._keras_history.operation

    def node_of(self, layer):
        nodes = self.calls.get(layer.name, [])
        return nodes[0] if len(nodes) == 1 else None

    def sole_consumer(self, tensor):
        """The only layer that reads ``tensor``, or None (several readers, or a model output)."""
        if id(tensor) in self.outputs:
            return None
        readers = self.consumers.get(id(tensor), [])
        return readers[0] if len(readers) == 1 else None


def functional(model):
    """A functional view of ``model`` (Sequential -> Model(inputs, outputs)), or None (subclassed)."""
    if hasattr(model, "_nodes_by_depth"):
        return model
    if isinstance(model, keras.Sequential):
        try:
            return keras.Model(model.inputs, model.outputs, name=model.name)
        except (ValueError, AttributeError):
            return None
    return None


def index(model: keras.Model) -> GraphIndex:
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise DocscanError(f"{getattr(model, 'name', model)}: only functional Keras models can be rewritten")
    g = GraphIndex(model)
    for node in (n for nodes in model._nodes_by_depth.values() for n in nodes):
        op = node.operation
        if isinstance(op, keras.layers.InputLayer):
            continue
        g.calls[op.name].append(node)
        for t in node.input_tensors:
            g.consumers[id(t)].append(op)
    g.outputs = {id(t) for t in model.outputs}
    return g


def rebuild(model: keras.Model, replace: dict, weights: dict) -> keras.Model:
    """Clone ``model``, using ``replace[layer.name]()`` (a factory) for named layers and
    giving each layer named in ``weights`` those weights (``set_weights`` order).

    Every other layer is re-created from its config and gets the old weights, so the
    result computes the same function apart from the replaced layers.
    """
    cache: dict[int, keras.layers.Layer] = {}

    def clone(layer):
        if id(layer) in cache:        # a shared layer: one clone for all its calls
            return cache[id(layer)]
        if layer.name in replace:
            new = replace[layer.name]()
        else:
            new = layer.__class__.from_config(layer.get_config())
        cache[id(layer)] = new
        return new

    try:
        new_model = keras.models.clone_model(model, clone_function=clone)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise DocscanError(f"{model.name}: cannot rebuild the Keras graph ({exc})") from None
    for layer in model.layers:
        if layer.name in replace or isinstance(layer, keras.layers.InputLayer):
            continue
        new = new_model.get_layer(layer.name)
        if layer.weights:
            new.set_weights(layer.get_weights())
    for name, values in weights.items():
        new_model.get_layer(name).set_weights(values)
    return new_model
