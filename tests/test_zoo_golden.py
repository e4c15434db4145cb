"""Golden digests of every zoo build: the networks' tables may be rewritten, the models they
build may not change.

A digest covers, layer by layer in graph order: name, class, the layers it reads, output
shape, parameter count, weight shapes and the config that decides what it computes
(strides, dilation, padding, kernel size, groups, activation, bias, ...). The numbers
below were recorded from the code before the zoo tables became named rows; a change to
a network shows up here as a changed digest (and the parameter count says how big).
"""

from __future__ import annotations

import hashlib
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

from docscan.zoo import build  # noqa: E402

CONFIG_KEYS = ("filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "depth_multiplier",
               "use_bias", "activation", "max_value", "pool_size", "units", "rate", "axis", "size",
               "interpolation", "target_shape", "dims", "keepdims", "momentum", "epsilon", "data_format")


def _inbound(layer) -> list[str]:
    names = []
    for node in layer._inbound_nodes:
        for t in node.input_tensors:
            names.append(t._keras_history.operation.name)
    return names


def layer_digest(model) -> list:
    rows = []
    for layer in model.layers:
        cfg = layer.get_config()
        rows.append([layer.name, type(layer).__name__, _inbound(layer),
                     [list(t.shape) for t in keras.tree.flatten(layer.output)],
                     layer.count_params(), [list(w.shape) for w in layer.weights],
                     {k: cfg[k] for k in CONFIG_KEYS if k in cfg}])
    rows.append(["outputs", [t._keras_history.operation.name for t in model.outputs], model.name])
    return rows


def digest(model) -> str:
    text = json.dumps(layer_digest(model), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# (architecture, knobs, parameters, digest); recorded before the zoo tables were rewritten.
GOLDEN = [
    ('hed_vgg_bn', {}, 1_104_118, '3bfa8932d08b9872'),
    ('hed_vgg', {}, 1_100_863, '57231c0da1134cf8'),
    ('hed_mobilenet_v2', {}, 293_973, 'b6783ff01cd95695'),
    ('hed_mobilenet_v2_stock', {}, 318_963, '6df871eff463255b'),
    ('hed_mobilenet_v2_stock', {'region_head': True, 'input_shape': (160, 160, 3)}, 323_172, '4cab6e208bce8b0a'),
    ('hed_vgg_bn', {'width': 0.25, 'region_head': True, 'input_shape': (64, 64, 3)}, 73_796, 'c9c9a10becafefa8'),
    ('hed_mobilenet_v2', {'alpha': 0.5, 'region_head': True, 'input_shape': (64, 64, 3)}, 87_843, '823dd6077244ad79'),
    ('mobilenet_v1', {}, 4_253_864, 'a47a868a84562282'),
    ('mobilenet_v1', {'alpha': 0.25, 'classes': 10, 'input_shape': (64, 64, 3)}, 221_114, '3bcc9671260ff9ce'),
    ('mobilenet_v2', {}, 3_538_984, '5af3f03c89a712c8'),
    ('mobilenet_v2', {'alpha': 0.35}, 1_691_208, '22046170cb98078d'),
    ('mobilenet_v2', {'output_stride': 8, 'include_top': False, 'input_shape': (64, 64, 3)}, 2_257_984, 'f7b1d8d11ff217f7'),
    ('mobilenet_v2', {'output_stride': 16, 'include_top': False, 'input_shape': (64, 64, 3)}, 2_257_984, '41d9aec9bde84dc2'),
    ('squeezenet_1_0', {}, 1_248_424, '2bbf2b417e07dd2b'),
    ('squeezenet_1_1', {}, 1_235_496, '7bb4d411aa24f75f'),
    ('shufflenet_g1', {}, 1_546_624, 'cf631e74a88b7691'),
    ('shufflenet_g3', {}, 1_890_208, '073be34af32cf4e4'),
    ('shufflenet_g8', {}, 2_473_936, '70901afa08715ca2'),
    ('shufflenet_g3', {'scale': 0.5, 'classes': 10, 'input_shape': (64, 64, 3)}, 254_374, '58de31cbe349f953'),
    ('xception', {}, 22_910_480, '035b00c9c15e1ad6'),
    ('xception', {'include_top': False, 'input_shape': (72, 72, 3)}, 20_861_480, '3aea7c627a7566b8'),
    ('xception_aligned', {}, 38_052_512, '8a1d341264d2596a'),
    ('xception_aligned', {'output_stride': 8, 'input_shape': (64, 64, 3)}, 38_052_512, '137f228aaf209678'),
    ('xception_aligned', {'output_stride': 32, 'include_top': True, 'input_shape': (64, 64, 3)}, 40_101_512, 'fe508f572b2abae1'),
]


@pytest.mark.parametrize("name, knobs, params, expected", GOLDEN,
                         ids=[f"{g[0]}-{'-'.join(f'{k}={v}' for k, v in g[1].items())}" for g in GOLDEN])
def test_zoo_builds_are_unchanged(name, knobs, params, expected):
    model = build(name, **knobs)
    assert (model.count_params(), digest(model)) == (params, expected)
    keras.backend.clear_session()
