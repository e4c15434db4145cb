"""The model zoo against published and derived figures, plus shapes and bad knobs.

Parameter counts are Keras' count_params(): they include BatchNorm moving mean/variance,
which is how keras.applications' published figures (4,253,864 / 3,538,984 / 22,910,480)
are defined. MACs: one multiply-add of a conv or FC layer (docscan.macs), the papers'
"mult-adds"; asserted within 2% of the papers.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from docscan.errors import DocscanError  # noqa: E402
from docscan.macs import count  # noqa: E402
from docscan.zoo import ARCHITECTURES, build  # noqa: E402
from docscan.zoo.layers import channel_shuffle, max_pool_ceil  # noqa: E402

# --------------------------------------------------------------------------------------
# Independent derivations (plain arithmetic from the paper's / seed's tables).

def _bn(c):        # gamma, beta, moving mean, moving variance
    return 4 * c


def shufflenet_params(groups: int, classes: int = 1000) -> int:
    """ShuffleNet 1x from the paper's Table 1 (stage widths per g, units 4/8/4, conv1 24).

    Unit: 1x1 GConv in->out/4 (not grouped in stage 2's first unit) + BN, 3x3 DW + BN,
    1x1 GConv out/4 -> (out - in if stride 2 else out) + BN; FC with bias.
    """
    widths = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
              4: (272, 544, 1088), 8: (384, 768, 1536)}[groups]
    total = 3 * 3 * 3 * 24 + _bn(24)
    cin = 24
    for s, (out, units) in enumerate(zip(widths, (4, 8, 4))):
        for u in range(units):
            mid = out // 4
            g1 = 1 if (s, u) == (0, 0) else groups
            branch = out - cin if u == 0 else out
            total += cin * mid // g1 + _bn(mid) + 9 * mid + _bn(mid) + mid * branch // groups + _bn(branch)
            cin = out
    return total + cin * classes + classes


def hed_mobilenet_v2_params() -> int:
    """The seed's mobilenet_v2_style_hed, block by block (hed-mobilenetv2-document-scanning.md).

    conv: 3x3 conv, no bias, BN. inverted residual (always expands, even at t=1):
    1x1 cin->cin*t + BN, 3x3 DW + BN, 1x1 -> cout + BN, and at stride 1 with cin != cout a
    1x1 shortcut conv + BN. dsn: 1x1 conv to 1 (no bias) + BN, deconv kernel 2f with
    bias for f > 1; fuse: 1x1 conv over 5 maps with bias.
    """
    def conv(cin, cout):
        return 9 * cin * cout + _bn(cout)

    def ir(cin, cout, stride, t=6):
        e = cin * t
        p = cin * e + _bn(e) + 9 * e + _bn(e) + e * cout + _bn(cout)
        if stride == 1 and cin != cout:
            p += cin * cout + _bn(cout)
        return p

    body = conv(3, 3) + conv(3, 6) + conv(6, 12) + ir(12, 6, 1, t=1)
    body += ir(6, 12, 2) + ir(12, 12, 1)
    body += ir(12, 24, 2) + 2 * ir(24, 24, 1)
    body += ir(24, 48, 2) + 3 * ir(48, 48, 1)
    body += ir(48, 64, 1) + 2 * ir(64, 64, 1)
    taps = [(6, 1), (6, 2), (12, 4), (24, 8), (64, 16)]   # (channels, upsample factor)
    dsn = sum(c + _bn(1) + ((2 * f) ** 2 + 1 if f > 1 else 0) for c, f in taps)
    return body + dsn + 5 + 1


def aligned_xception_params() -> int:
    """The seed's AlignedXception (lightweight-cnns-pytorch.txt), module by module.

    SeparableConv2d(cin, cout) = 3x3 depthwise + BN(cin) + 1x1 pointwise, and every Block
    puts a BN(cout) after it; a Block has a 1x1 skip conv + BN when channels or stride change.
    """
    def sep(cin, cout):
        return 9 * cin + _bn(cin) + cin * cout + _bn(cout)

    def block(cin, widths):
        p, c = 0, cin
        for w in widths:
            p, c = p + sep(c, w), w
        return p + (cin * c + _bn(c))   # every entry/exit block here has a skip conv

    total = 27 * 32 + _bn(32) + 9 * 32 * 64 + _bn(64)
    total += block(64, (128, 128, 128)) + block(128, (256, 256, 256)) + block(256, (728, 728, 728))
    total += 16 * 3 * sep(728, 728)                       # block4 .. block19, identity shortcuts
    total += block(728, (728, 1024, 1024))                # block20
    return total + sep(1024, 1536) + sep(1536, 1536) + sep(1536, 2048)


# --------------------------------------------------------------------------------------
# (architecture, knobs, exact parameters, reference MACs or None, where the figures come from)
FAITHFULNESS = [
    ("mobilenet_v1", {}, 4_253_864, 569e6, "keras.applications.MobileNet; paper Table 8: 569M"),
    ("mobilenet_v2", {}, 3_538_984, 300e6, "keras.applications.MobileNetV2; paper Table 4: 300M"),
    ("xception", {}, 22_910_480, None, "keras.applications.Xception (paper Table 3: 22,855,952 trainable)"),
    ("squeezenet_1_0", {}, 1_248_424, 0.82e9, "torchvision squeezenet1_0: 1,248,424 params, 0.82 GFLOPS"),
    ("squeezenet_1_1", {}, 1_235_496, 0.35e9, "torchvision squeezenet1_1: 1,235,496 params, 0.35 GFLOPS"),
    ("shufflenet_g3", {}, shufflenet_params(3), 140e6, "ShuffleNet paper: '1x' = 140 MFLOPs level"),
    ("hed_vgg_bn", {}, 1_104_118, None, "seed: VGG-style HED 4.4M float32 (1,104,118 * 4 bytes)"),
    ("hed_mobilenet_v2", {}, hed_mobilenet_v2_params(), None, "seed's mobilenet_v2_style_hed code"),
    ("xception_aligned", {}, aligned_xception_params(), None, "seed's AlignedXception code"),
]


@pytest.mark.parametrize("name, knobs, params, macs, source", FAITHFULNESS, ids=[f[0] for f in FAITHFULNESS])
def test_parameters_and_macs_match_references(name, knobs, params, macs, source):
    c = count(build(name, **knobs))
    assert c.params == params, source
    if macs is not None:
        assert abs(c.macs - macs) / macs < 0.02, f"{c.macs} vs {macs} ({source})"


def test_derived_counts_are_the_expected_numbers():
    # The derivations above, evaluated once, so a change in them shows up in review.
    assert shufflenet_params(3) == 1_890_208
    assert hed_mobilenet_v2_params() == 293_973
    assert aligned_xception_params() == 38_052_512


@pytest.mark.parametrize("groups, table_mflops", [(1, 143), (2, 140), (3, 137), (4, 133), (8, 137)])
def test_shufflenet_groups_match_table1(groups, table_mflops):
    """Paper Table 1, 'Complexity' row for ShuffleNet 1x and g = 1, 2, 3, 4, 8."""
    c = count(build(f"shufflenet_g{groups}"))
    assert c.params == shufflenet_params(groups)
    assert abs(c.macs - table_mflops * 1e6) / (table_mflops * 1e6) < 0.02


@pytest.mark.parametrize("groups, million", [(3, 1.9), (8, 2.4)])
def test_shufflenet_trainable_params_match_authors_release(groups, million):
    # megvii-model/ShuffleNet-Series, ShuffleNetV1 README: 1.0x g=3 1.9M, g=8 2.4M parameters
    c = count(build(f"shufflenet_g{groups}"))
    assert round(c.trainable_params / 1e6, 1) == million


@pytest.mark.parametrize("ours, theirs, knobs", [
    ("mobilenet_v1", "MobileNet", {}),
    ("mobilenet_v1", "MobileNet", {"alpha": 0.5}),
    ("mobilenet_v2", "MobileNetV2", {}),
    ("mobilenet_v2", "MobileNetV2", {"alpha": 0.35}),
    ("mobilenet_v2", "MobileNetV2", {"alpha": 1.4}),
    ("xception", "Xception", {}),
])
def test_same_params_and_macs_as_keras_applications(ours, theirs, knobs):
    ref = getattr(keras.applications, theirs)(weights=None, **knobs)
    mine = build(ours, **knobs)
    c_ref, c_mine = count(ref), count(mine)
    assert c_mine.params == c_ref.params == ref.count_params()
    assert c_mine.trainable_params == c_ref.trainable_params
    assert c_mine.macs == c_ref.macs


@pytest.mark.parametrize("alpha, mmacs", [(0.75, 325), (0.5, 149), (0.25, 41)])
def test_mobilenet_v1_width_multiplier_matches_paper_table6(alpha, mmacs):
    c = count(build("mobilenet_v1", alpha=alpha))
    assert abs(c.macs - mmacs * 1e6) / (mmacs * 1e6) < 0.02


def test_hed_mobilenet_v2_float32_size():
    # The seed says 1.6 MB; parameters * 4 bytes give 1.18 MB (see the closing note
    # for what else the seed's frozen .pb file carries).
    c = count(build("hed_mobilenet_v2"))
    assert c.float32_bytes == 293_973 * 4
    assert count(build("hed_vgg_bn")).float32_bytes / 1e6 == pytest.approx(4.4, abs=0.05)


@pytest.mark.parametrize("arch", ["hed_mobilenet_v2", "hed_vgg_bn"])
def test_region_head_adds_one_full_size_output_and_keeps_the_seed_layers(arch):
    import numpy as np

    plain = build(arch, input_shape=(64, 64, 3))
    with_region = build(arch, input_shape=(64, 64, 3), region_head=True)
    assert list(with_region.output_names) == list(plain.output_names) + ["region"]
    assert [tuple(o.shape) for o in with_region.outputs] == [(None, 64, 64, 1)] * 7
    plain_layers = {layer.name for layer in plain.layers}
    added = [layer.name for layer in with_region.layers if layer.name not in plain_layers]
    assert added and all(name.startswith("region") for name in added)
    extra = with_region.count_params() - plain.count_params()
    assert 0 < extra < 0.05 * plain.count_params()
    out = with_region(np.zeros((1, 64, 64, 3), np.float32))
    assert np.isfinite(np.asarray(out[-1])).all()


# --------------------------------------------------------------------------------------
# Shapes: small inputs, tiny forward passes.

@pytest.mark.parametrize("name, knobs, size, out", [
    ("mobilenet_v1", {"alpha": 0.25, "classes": 7}, 64, (7,)),
    ("mobilenet_v2", {"alpha": 0.35, "classes": 7}, 64, (7,)),
    ("squeezenet_1_0", {"classes": 7}, 64, (7,)),
    ("squeezenet_1_1", {"classes": 7}, 64, (7,)),
    ("shufflenet_g8", {"scale": 0.25, "classes": 7}, 64, None),   # refused: see test below
    ("shufflenet_g3", {"scale": 0.5, "classes": 7}, 64, (7,)),
    ("shufflenet_g1", {"include_top": False}, 64, (2, 2, 576)),
    ("xception", {"classes": 7}, 71, (7,)),
    ("xception_aligned", {"output_stride": 16}, 64, (4, 4, 2048)),
    ("xception_aligned", {"output_stride": 8}, 64, (8, 8, 2048)),
])
def test_small_forward_pass(name, knobs, size, out):
    if out is None:
        with pytest.raises(DocscanError):
            build(name, input_shape=(size, size, 3), **knobs)
        return
    model = build(name, input_shape=(size, size, 3), **knobs)
    x = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32)
    y = np.asarray(model(x, training=False))
    assert y.shape == (1, *out)
    assert np.isfinite(y).all()
    if knobs.get("include_top", True) and name != "xception_aligned":
        assert y.sum() == pytest.approx(1.0, abs=1e-4)   # softmax head


def test_default_output_shapes_without_running():
    assert build("xception_aligned").output.shape[1:] == (32, 32, 2048)   # seed: 512 -> [2048, 32, 32]
    assert build("mobilenet_v2", include_top=False).output.shape[1:] == (7, 7, 1280)
    assert build("mobilenet_v1", include_top=False).output.shape[1:] == (7, 7, 1024)
    assert build("xception", include_top=False).output.shape[1:] == (10, 10, 2048)
    # torchvision SqueezeNet's feature maps at 224 (ceil-mode pools): 1.0 and 1.1 both end at 13x13
    for v in ("1_0", "1_1"):
        assert build(f"squeezenet_{v}", include_top=False).output.shape[1:] == (13, 13, 512)


def test_mobilenet_v2_output_stride_trades_stride_for_dilation():
    base = build("mobilenet_v2", input_shape=(64, 64, 3), include_top=False)
    os8 = build("mobilenet_v2", input_shape=(64, 64, 3), include_top=False, output_stride=8)
    assert base.output.shape[1:3] == (2, 2)
    assert os8.output.shape[1:3] == (8, 8)
    assert os8.count_params() == base.count_params()
    rates = [layer.dilation_rate[0] for layer in os8.layers if isinstance(layer, keras.layers.DepthwiseConv2D)]
    # slim: 16/24/32-channel blocks undilated; the first 64-channel block drops its stride
    # at rate 1, the rest run at rate 2; the first 160-channel block drops its stride at
    # rate 2, everything after it runs at rate 4.
    assert rates == [1] * 7 + [2] * 7 + [4] * 3
    x = np.zeros((1, 64, 64, 3), np.float32)
    assert np.asarray(os8(x)).shape == (1, 8, 8, 1280)


def test_channel_shuffle_is_the_papers_transpose():
    x_in = keras.Input((1, 1, 6))
    model = keras.Model(x_in, channel_shuffle(x_in, 3, name="shuffle"))
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 1, 6)
    # 3 groups of 2 channels [0 1][2 3][4 5] -> one channel from each group in turn
    assert np.asarray(model(x)).ravel().tolist() == [0, 2, 4, 1, 3, 5]


@pytest.mark.parametrize("n", [54, 55, 109])
def test_ceil_mode_max_pool_size(n):
    x_in = keras.Input((n, n, 1))
    y = max_pool_ceil(x_in, 3, 2, name="pool")
    assert y.shape[1] == -(-(n - 3) // 2) + 1   # PyTorch ceil_mode formula


def test_ceil_mode_pool_values_equal_minus_inf_padding():
    x_in = keras.Input((4, 4, 1))
    model = keras.Model(x_in, max_pool_ceil(x_in, 3, 2, name="pool"))
    x = np.random.default_rng(1).random((1, 4, 4, 1)).astype(np.float32)
    y = np.asarray(model(x))[0, :, :, 0]
    assert y.shape == (2, 2)
    assert y[1, 1] == x[0, 2:, 2:, 0].max()   # partial window: only real pixels


# --------------------------------------------------------------------------------------
# Bad knobs: one DocscanError each, naming the problem.

@pytest.mark.parametrize("name, kwargs, words", [
    ("mobilenet_v1", {"alpha": 0}, "alpha must be > 0"),
    ("mobilenet_v2", {"alpha": -1.0}, "alpha must be > 0"),
    ("shufflenet_g3", {"scale": 0}, "scale must be > 0"),
    ("mobilenet_v1", {"input_shape": (16, 16, 3)}, "too small"),
    ("mobilenet_v2", {"input_shape": (31, 64, 3)}, "too small"),
    ("squeezenet_1_0", {"input_shape": (20, 20, 3)}, "too small"),
    ("xception", {"input_shape": (70, 70, 3)}, "too small"),
    ("xception_aligned", {"input_shape": (8, 8, 3)}, "too small"),
    ("shufflenet_g3", {"input_shape": (16, 16, 3)}, "too small"),
    ("shufflenet_g3", {"groups": 5}, "groups must be one of"),
    ("shufflenet_g8", {"scale": 0.5}, "does not divide"),
    ("shufflenet_g3", {"scale": 0.3}, "does not divide"),
    ("squeezenet_1_0", {"version": "1.2"}, "unknown version"),
    ("mobilenet_v2", {"output_stride": 12}, "output_stride"),
    ("xception_aligned", {"output_stride": 4}, "output_stride"),
    ("mobilenet_v1", {"classes": 0}, "classes"),
    ("mobilenet_v1", {"depth": 3}, "bad option"),
    ("mobilenet_v1", {"input_shape": (224, 224)}, "input_shape"),
])
def test_bad_knobs_raise_one_line_errors(name, kwargs, words):
    with pytest.raises(DocscanError) as err:
        build(name, **kwargs)
    message = str(err.value)
    assert words in message
    assert "\n" not in message


def test_unknown_architecture():
    with pytest.raises(DocscanError, match="unknown architecture 'resnet50'"):
        build("resnet50")


def test_every_architecture_is_registered_with_a_family_and_source():
    expected = {"hed_vgg_bn", "hed_vgg", "hed_mobilenet_v2", "mobilenet_v1", "mobilenet_v2", "squeezenet_1_0",
                "squeezenet_1_1", "shufflenet_g1", "shufflenet_g2", "shufflenet_g3", "shufflenet_g4",
                "shufflenet_g8", "xception", "xception_aligned"}
    assert expected <= set(ARCHITECTURES)
    for arch in ARCHITECTURES.values():
        assert arch.family and arch.source
