"""ImageNet weights for the stock MobileNetV2 HED: fetched from the npm registry, decoded, and
placed so that the body computes what Keras' MobileNetV2 computes."""

from __future__ import annotations

import glob
import tarfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from docscan.errors import DocscanError  # noqa: E402
from docscan.zoo import build, imagenet  # noqa: E402


@pytest.fixture(scope="module")
def weights():
    return imagenet.mobilenet_v2_weights(imagenet.fetch())


def _keras_mobilenet_v2(weights, size):
    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False, weights=None)
    for layer in base.layers:
        if layer.weights:
            layer.set_weights([weights[f"{layer.name}/{w.name.split('/')[-1]}".replace("depthwise/kernel",
                                                                                     "depthwise/depthwise_kernel")]
                               for w in layer.weights])
    return base


def _photo(shared, size):
    import cv2

    files = sorted(glob.glob(str(shared / "data" / "real-photos-dev2" / "*.jpg")))
    if not files:
        pytest.skip("no real-photos-dev2 in ../shared/data")
    rgb = cv2.cvtColor(cv2.imread(files[3]), cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def test_fetched_weights_are_a_working_imagenet_mobilenet_v2(weights, shared):
    # nsfwjs' own classifier on a photo of a page: "Neutral" (index 2) when every tensor is
    # decoded in the right place; scrambled or misread weights give no such answer.
    assert len(weights) == 266
    assert weights["Conv1/kernel"].shape == (3, 3, 3, 32)
    base = _keras_mobilenet_v2(weights, 224)
    x = keras.layers.AveragePooling2D(7)(base.output)
    x = keras.layers.Flatten()(x)
    for units, name in ((256, "dense_1"), (128, "dense_2")):
        x = keras.layers.Dense(units, activation="relu", name=name)(x)
    x = keras.layers.Dense(5, activation="softmax", name="dense_3")(x)
    model = keras.Model(base.input, x)
    for name in ("dense_1", "dense_2", "dense_3"):
        model.get_layer(name).set_weights([weights[f"{name}/kernel"], weights[f"{name}/bias"]])
    probs = model.predict((_photo(shared, 224) * 2 - 1)[None], verbose=0)[0]
    assert probs.argmax() == 2 and probs[2] > 0.8, probs


def test_seeded_body_computes_keras_mobilenet_v2_on_unit_range_input(weights, shared):
    size = 160
    model = build("hed_mobilenet_v2_stock", input_shape=(size, size, 3), region_head=True)
    seeded = imagenet.seed_body(model, weights)
    assert seeded == 2 + 4 + 6 * 10      # conv0, block1 (no expand), Keras block_1 .. block_10
    ref = _keras_mobilenet_v2(weights, size)
    image = _photo(shared, size)
    for theirs, ours, border in (("Conv1_relu", "conv0_relu6", 1), ("block_5_add", "block6_add", 4),
                                 ("block_10_project_BN", "block11_project_bn", 1)):
        a = keras.Model(ref.input, ref.get_layer(theirs).output).predict((image * 2 - 1)[None], verbose=0)[0]
        b = keras.Model(model.input, model.get_layer(ours).output).predict(image[None], verbose=0)[0]
        assert a.shape == b.shape
        inner = (slice(border, -border), slice(border, -border))
        if theirs == "block_10_project_BN":
            # 10x10 at 1/16: the frame's border reaches every position, so only correlation
            assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95
        else:
            assert np.abs(a[inner] - b[inner]).max() < 1e-3 * np.abs(a).max()


def test_layer_names_map_onto_the_stock_body():
    assert imagenet.docscan_layer("Conv1") == "conv0_conv"
    assert imagenet.docscan_layer("expanded_conv_project_BN") == "block1_project_bn"
    assert imagenet.docscan_layer("block_10_depthwise") == "block11_dw"
    assert imagenet.docscan_layer("block_11_expand") is None      # fine-tuned by nsfwjs: not ImageNet's
    assert imagenet.docscan_layer("dense_1") is None


def test_a_tarball_that_is_not_the_package_is_a_one_line_error(tmp_path):
    bad = tmp_path / "nsfwjs-4.4.0.tgz"
    with tarfile.open(bad, "w:gz") as tar:
        empty = tmp_path / "x.txt"
        empty.write_text("x")
        tar.add(empty, arcname="package/x.txt")
    with pytest.raises(DocscanError, match=r"nsfwjs-4.4.0.tgz: not the nsfwjs 4.4.0 package"):
        imagenet.mobilenet_v2_weights(bad)
    # a cached file that fails the checksum is fetched again, not trusted
    assert imagenet._integrity(imagenet.fetch(tmp_path).read_bytes()) == imagenet.SHA512
