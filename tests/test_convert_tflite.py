"""Conversion: static shapes, the four variants, calibration, target runtime, every zoo family."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import layers  # noqa: E402

from docscan import zoo  # noqa: E402
from docscan.convert import calibration, inventory, parity, pipeline  # noqa: E402
from docscan.convert import tflite_convert as tc  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402

SIZE = (64, 64, 3)


@pytest.fixture(scope="module")
def calib_dir(tmp_path_factory):
    import cv2

    d = tmp_path_factory.mktemp("calib")
    rng = np.random.default_rng(0)
    for i in range(3):
        img = (rng.random((80, 96, 3)) * 255).astype(np.uint8)
        cv2.rectangle(img, (10, 10), (70, 60), (255, 255, 255), -1)    # a bright "page"
        cv2.imwrite(str(d / f"img{i}.png"), img)
    (d / "notes.txt").write_text("not an image")
    return d


@pytest.fixture(scope="module")
def small_hed():
    return zoo.build("hed_vgg_bn", SIZE, width=0.25)


def counts(data):
    return inventory.read_inventory(data).to_dict()["counts"]


def test_static_shapes_remove_the_transpose_conv_shape_ops(small_hed):
    import tensorflow as tf

    dynamic = counts(bytes(tf.lite.TFLiteConverter.from_keras_model(small_hed).convert()))
    assert {"SHAPE", "STRIDED_SLICE", "PACK"} <= set(dynamic)              # Keras 3 default path
    static = counts(tc.convert(small_hed, "fp32", SIZE))
    assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & set(static)
    assert static["TRANSPOSE_CONV"] == 4
    assert not {"MUL", "RSQRT", "SUB", "VAR_HANDLE", "READ_VARIABLE"} & set(static)


def test_variants_have_the_expected_tensor_types(small_hed, calib_dir):
    imgs = calibration.calibration_set(calib_dir, 3, SIZE[:2])
    dtypes = {}
    for v in tc.VARIANTS:
        for io in (("int8", "uint8") if v == "int8" else ("int8",)):
            data = tc.convert(small_hed, v, SIZE, calibration=lambda: imgs, io_dtype=io)
            inv = inventory.read_inventory(data)
            weights = {o.inputs[1].dtype for o in inv.ops if o.op == "CONV_2D"}
            dtypes[(v, io)] = (inv.inputs[0].dtype, inv.outputs[0].dtype, weights)
    assert dtypes[("fp32", "int8")] == ("FLOAT32", "FLOAT32", {"FLOAT32"})
    assert dtypes[("fp16", "int8")] == ("FLOAT32", "FLOAT32", {"FLOAT32"})     # via DEQUANTIZE of fp16
    assert dtypes[("dynamic-int8", "int8")][:2] == ("FLOAT32", "FLOAT32")
    assert "INT8" in dtypes[("dynamic-int8", "int8")][2]
    assert dtypes[("int8", "int8")] == ("INT8", "INT8", {"INT8"})
    assert dtypes[("int8", "uint8")] == ("UINT8", "UINT8", {"INT8"})


def test_other_input_size_keeps_the_graph_flat_for_the_passes(small_hed):
    ref, work, size, passes = pipeline.prepare(small_hed, pipeline.Options(input_size=(32, 48)))
    assert size == (32, 48, 3) and tuple(ref.inputs[0].shape) == (None, 32, 48, 3)
    assert len(passes["bn_folding"]["layers"]) == 18
    assert all(l["action"] == "folded_into_previous" for l in passes["bn_folding"]["layers"])
    x = np.random.default_rng(0).random((1, 32, 48, 3), dtype=np.float32)
    for a, b in zip(parity.run_keras(ref, x), parity.run_keras(work, x)):
        assert a.shape == (1, 32, 48, 1) and float(np.abs(a - b).max()) < 1e-4
    inp = keras.Input((16, 16, 3))
    flat = keras.Model(inp, layers.Dense(2)(layers.Flatten()(layers.Conv2D(2, 3)(inp))))
    with pytest.raises(DocscanError, match="cannot run at input 8x8"):
        pipeline.prepare(flat, pipeline.Options(input_size=(8, 8)))


def test_fp16_stores_half_precision_weights(small_hed):
    data = tc.convert(small_hed, "fp16", SIZE)
    inv = inventory.read_inventory(data)
    deq = [o for o in inv.ops if o.op == "DEQUANTIZE"]
    assert deq and all(o.inputs[0].dtype == "FLOAT16" for o in deq)


def test_calibration_sources(calib_dir, tmp_path):
    imgs = calibration.calibration_set(calib_dir, 10, (32, 48))
    assert len(imgs) == 3 and imgs[0].shape == (32, 48, 3) and imgs[0].dtype == np.float32
    assert 0.0 <= imgs[0].min() and imgs[0].max() <= 1.0
    with pytest.raises(DocscanError, match="does not exist"):
        calibration.calibration_set(tmp_path / "nope", 4, (32, 32))
    with pytest.raises(DocscanError, match="no images"):
        calibration.calibration_set(tmp_path, 4, (32, 32))
    try:
        import docscan.train.synth  # noqa: F401
    except ImportError:
        with pytest.raises(DocscanError, match="--calib-dir"):
            calibration.calibration_set(None, 2, (32, 32))
    else:
        synth = calibration.calibration_set(None, 2, (32, 32))
        assert len(synth) == 2 and synth[0].shape == (32, 32, 3)


def test_progress_wrapper_yields_every_image():
    imgs = [np.zeros((2, 2, 3), np.float32)] * 5
    gen = calibration.with_progress(imgs)
    assert len(list(gen())) == 5 and len(list(gen())) == 5        # re-iterable


@keras.saving.register_keras_serializable(package="docscan_tests")
class QRLayer(layers.Layer):
    """A layer the TFLite builtins cannot run (QR decomposition)."""

    def call(self, x):
        import tensorflow as tf

        q, _ = tf.linalg.qr(x[..., :4, :4, 0])
        return q


def qr_model():
    inp = keras.Input((8, 8, 3))
    return keras.Model(inp, QRLayer()(inp))


def test_unsupported_op_is_named():
    with pytest.raises(DocscanError, match="Qr"):
        tc.convert(qr_model(), "fp32", (8, 8, 3))


def test_target_runtime_rewrites_transpose_conv_or_names_blockers(tmp_path, calib_dir):
    model = zoo.build("hed_vgg_bn", SIZE, width=0.25)
    for layer in model.layers:          # a trained HED has deconv biases: TRANSPOSE_CONV v3 (TFLite 2.3)
        if layer.name.endswith("_deconv"):
            k, b = layer.get_weights()
            layer.set_weights([k, b + 0.1])
    # 2.2 lacks TRANSPOSE_CONV v3 but has DEPTH_TO_SPACE v1: rewritten, converts
    opts = pipeline.Options(variants=("fp32",), target_runtime="2.2", parity_random=1, parity_real=0)
    res = pipeline.convert_model(model, "hed", tmp_path / "ok", opts)
    rep = json.loads(res[0].paths["report"].read_text())
    assert rep["passes"]["transpose_conv"]["reason"] == "--target-runtime 2.2"
    assert "TRANSPOSE_CONV" not in rep["inventory"]["counts"] and rep["passes"]["target_runtime"]["ok"]
    assert rep["passed"]
    # 2.0 lacks DEPTH_TO_SPACE too: fails naming it, writes nothing
    opts = pipeline.Options(variants=("fp32",), target_runtime="2.0", parity_random=1, parity_real=0)
    with pytest.raises(DocscanError, match=r"target runtime 2.0 cannot run: fp32: DEPTH_TO_SPACE v1 \(needs 2.1.0"):
        pipeline.convert_model(model, "hed", tmp_path / "bad", opts)
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
    # full int8 needs DEPTH_TO_SPACE v2 (2.5): no rewrite helps at 2.2
    opts = pipeline.Options(variants=("int8",), calib_dir=str(calib_dir), calib_samples=2,
                            target_runtime="2.2", parity_random=1, parity_real=0)
    with pytest.raises(DocscanError, match=r"int8: DEPTH_TO_SPACE v2 \(needs 2.5.0"):
        pipeline.convert_model(model, "hed", tmp_path / "bad", opts)


# One network per zoo family, shrunk by its own knobs where it has them.
FAMILY_CASES = {
    "hed": ("hed_mobilenet_v2", SIZE, {"alpha": 0.5}),
    "mobilenet_v1": ("mobilenet_v1", SIZE, {"alpha": 0.25, "classes": 10}),
    "mobilenet_v2": ("mobilenet_v2", SIZE, {"alpha": 0.35, "classes": 10}),
    "squeezenet": ("squeezenet_1_1", SIZE, {"classes": 10}),
    "shufflenet": ("shufflenet_g3", SIZE, {"scale": 0.5, "classes": 10}),
    "xception": ("xception", (72, 72, 3), {"include_top": False}),
}


def test_family_cases_cover_every_registered_family():
    families = {a.family or n.split("_")[0] for n, a in zoo.ARCHITECTURES.items()}
    covered = {zoo.ARCHITECTURES[name].family or name.split("_")[0] for name, _, _ in FAMILY_CASES.values()}
    assert families <= covered, families - covered


@pytest.mark.parametrize("family", list(FAMILY_CASES))
def test_converts_every_family(family, tmp_path, calib_dir):
    name, size, knobs = FAMILY_CASES[family]
    model = zoo.build(name, size, **knobs)
    opts = pipeline.Options(variants=("fp32", "int8"), calib_dir=str(calib_dir), calib_samples=2,
                            parity_random=1, parity_real=0)
    res = pipeline.convert_model(model, name, tmp_path, opts)
    fp32, int8 = (json.loads(r.paths["report"].read_text()) for r in res)
    assert fp32["static_shapes"]["ok"] and int8["static_shapes"]["ok"]
    assert fp32["passed"], fp32["thresholds"]
    assert fp32["inventory"]["total_macs"] > 0
    assert int8["inventory"]["inputs"][0]["dtype"] == "INT8"
    # ~1/4 for wide layers; tiny test-size nets keep per-channel scales, int64 zero points and
    # int32 biases, which weigh as much as the int8 weights of a 1x1 conv over a few channels
    assert int8["size_vs_fp32"] < 0.6
    assert all(l["action"] != "affine" for l in fp32["passes"]["bn_folding"]["layers"])
    assert {p.name for p in tmp_path.iterdir()} == {f"{name}.{v}.{ext}" for v in ("fp32", "int8")
                                                     for ext in ("tflite", "report.json")}


def test_parity_thresholds_are_checked_per_variant():
    good = parity.SetParity("random", 1, "sigmoid(logits)", [parity.OutputParity("fused", 1e-3, 1e-4, 60.0, 1e-3, 0.97)])
    bad = parity.SetParity("real", 1, "sigmoid(logits)", [parity.OutputParity("fused", 2e-2, 1e-3, 40.0, 2e-2, 0.90)])
    assert all(c.held for c in parity.check("fp16", [good]))
    assert not parity.check("fp16", [good, bad])[0].held
    int8 = parity.check("int8", [good, bad])
    assert int8[0].metric == "edge_f" and int8[0].value == pytest.approx(0.90) and not int8[0].held
    # edge F-score is judged on real photos when present (noise images have few true edges)
    noisy = parity.SetParity("random", 1, "sigmoid(logits)", [parity.OutputParity("fused", 0.3, 1e-3, 40.0, 0.3, 0.90)])
    fine = parity.SetParity("real", 1, "sigmoid(logits)", [parity.OutputParity("fused", 0.1, 1e-3, 40.0, 0.1, 0.98)])
    assert parity.check("int8", [noisy, fine])[0].held
    assert not parity.check("int8", [noisy])[0].held


def test_edge_f_score():
    a = np.zeros((1, 8, 8, 1))
    a[0, 2, :] = 1
    assert parity.edge_f_score(a, a) == 1.0
    b = a.copy()
    b[0, 2, :4] = 0
    assert parity.edge_f_score(a, b) == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert parity.edge_f_score(np.zeros_like(a), np.zeros_like(a)) == 1.0
