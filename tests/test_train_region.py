"""`docscan train-region`: a fresh region head on a frozen HED backbone, from cached taps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from docscan.cli import main
from docscan.errors import DocscanError
from docscan.train.metrics import region_iou, region_iou_of
from docscan.train.region_head import RegionHeadConfig, train_region_head


@pytest.fixture(scope="module")
def edges_only_hed(tmp_path_factory):
    from docscan.zoo import build

    path = tmp_path_factory.mktemp("src") / "hed.keras"
    build("hed_mobilenet_v2", input_shape=(64, 64, 3)).save(str(path))
    return path


def test_region_iou_of_thresholds_logits_and_targets():
    region = np.zeros((2, 4, 4), np.uint8)
    region[0, :2] = 255                    # half the frame
    logits = np.full((2, 4, 4, 1), -5.0, np.float32)
    logits[0, :1] = 5.0                    # a quarter: IoU 0.5
    assert region_iou_of(logits, region) == pytest.approx([0.5, 1.0])   # nothing and nothing: 1
    # the trainer's dev metric (probabilities, 0/1 page maps) is the same measure
    prob = 1 / (1 + np.exp(-logits[..., 0]))
    assert region_iou(prob, (region > 0).astype(np.float32)) == pytest.approx(0.75)


def test_head_trains_on_a_frozen_backbone_and_keeps_the_edges(edges_only_hed, tmp_path):
    import keras

    cfg = RegionHeadConfig(init_from=str(edges_only_hed), samples=48, val_samples=16, epochs=3, batch=16,
                           lr=5e-3, workers=1)
    out = tmp_path / "run"
    log = train_region_head(cfg, out)
    model = keras.models.load_model(out / "model.keras", compile=False)
    src = keras.models.load_model(edges_only_hed, compile=False)
    assert list(model.output_names) == list(src.output_names) + ["region"]
    x = np.random.default_rng(0).random((2, 64, 64, 3)).astype(np.float32)
    a, b = src(x), model(x)
    for i in range(6):                      # the backbone and edge heads are untouched
        assert np.array_equal(np.asarray(a[i]), np.asarray(b[i]))
    assert np.asarray(b[6]).shape == (2, 64, 64, 1)

    saved = json.loads((out / "train_log.json").read_text())
    assert [h["epoch"] for h in saved["history"]] == [1, 2, 3]
    losses = [h["loss"] for h in saved["history"]]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]   # it learns from the page masks
    assert saved["best_val_region_iou"] == max(h["val_region_iou"] for h in saved["history"]) == log["best_val_region_iou"]
    assert saved["config"]["samples"] == 48 and saved["head_params"] > 0
    assert (out / "train_curve.png").read_bytes()[:4] == b"\x89PNG"

    # the saved head is the best epoch's, as its IoU on the held-back samples says
    from docscan.train.region_taps import cache_taps

    val = cache_taps(src, cfg.seed, cfg.samples, cfg.val_samples, None, 1)
    logits = np.asarray(model(np.stack([_image(cfg.seed, i) for i in range(48, 64)]))[6])
    assert float(np.mean(region_iou_of(logits, val["region"]))) == pytest.approx(saved["best_val_region_iou"], abs=0.01)

    with pytest.raises(DocscanError, match="already holds a trained model"):
        train_region_head(cfg, out)


def _image(seed, index):
    from docscan.train.synth import make_sample

    return make_sample(seed, index, (64, 64)).image.astype(np.float32) / 255.0


def test_cli_errors_are_one_line(tmp_path, edges_only_hed):
    runner = CliRunner()
    r = runner.invoke(main, ["train-region", str(tmp_path / "missing.keras"), "--out", str(tmp_path / "a")])
    assert r.exit_code == 2 and "missing.keras: model not found" in r.output
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a model")
    r = runner.invoke(main, ["train-region", str(bad), "--out", str(tmp_path / "b")])
    assert r.exit_code == 2 and "bad.keras: cannot load it" in r.output and "Traceback" not in r.output
    r = runner.invoke(main, ["train-region", str(edges_only_hed), "--epochs", "0", "--out", str(tmp_path / "c")])
    assert r.exit_code == 2 and "epochs must be positive" in r.output
    (tmp_path / "file").write_text("")
    r = runner.invoke(main, ["train-region", str(edges_only_hed), "--out", str(tmp_path / "file")])
    assert r.exit_code == 2 and "is a file" in r.output
    with pytest.raises(DocscanError, match="file: exists and is not a directory"):
        train_region_head(RegionHeadConfig(init_from=str(edges_only_hed)), tmp_path / "file")

    from docscan.zoo import build

    classifier = tmp_path / "mnv1.keras"
    build("mobilenet_v1", input_shape=(64, 64, 3), alpha=0.25, classes=3).save(str(classifier))
    r = runner.invoke(main, ["train-region", str(classifier), "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and "not an HED" in r.output
    assert not (tmp_path / "d").exists() and not (tmp_path / "c").exists()
