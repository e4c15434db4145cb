"""HED training: the balanced loss, a short real run, checkpoints, resume, curve, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from docscan.cli import main
from docscan.errors import DocscanError
from docscan.train.hed import TrainConfig, lr_at, train
from docscan.train.losses import balanced_bce
from docscan.train.metrics import edge_fscore


def test_balanced_bce_matches_the_hed_formula():
    rng = np.random.default_rng(0)
    y = (rng.random((2, 8, 8, 1)) < 0.1).astype(np.float32)
    z = rng.normal(0, 2, (2, 8, 8, 1)).astype(np.float32)
    p = 1 / (1 + np.exp(-z))
    expected = []
    for yi, pi in zip(y, p):
        beta = 1 - yi.mean()
        expected.append(np.mean(-beta * yi * np.log(pi) - (1 - beta) * (1 - yi) * np.log(1 - pi)) * 2)
    assert float(balanced_bce(y, z)) == pytest.approx(np.mean(expected), rel=1e-4)
    # No edge at all: finite, plain BCE
    assert np.isfinite(float(balanced_bce(np.zeros_like(y), z)))
    # A perfect, confident prediction costs (almost) nothing; the inverse costs a lot.
    assert float(balanced_bce(y, (2 * y - 1) * 20)) < 1e-3 < float(balanced_bce(y, (1 - 2 * y) * 20))


def test_lr_schedule_warms_up_then_decays():
    cfg = TrainConfig(steps=100, warmup=10, lr=1e-3, lr_min=1e-5)
    assert lr_at(cfg, 0) < lr_at(cfg, 9) == pytest.approx(1e-3)
    assert lr_at(cfg, 50) < 1e-3 and lr_at(cfg, 100) == pytest.approx(1e-5)


def test_edge_fscore():
    t = np.zeros((1, 32, 32), np.uint8)
    t[0, 10, 5:25] = 1
    assert edge_fscore(t.astype(np.float32), t)["f"] == pytest.approx(1.0)
    assert edge_fscore(np.zeros((1, 32, 32), np.float32), t)["f"] == 0.0
    noisy = t.astype(np.float32).copy()
    noisy[0, 25, :] = 1    # a false edge halves precision
    s = edge_fscore(noisy, t)
    assert s["recall"] == pytest.approx(1.0) and s["precision"] < 0.6


def test_train_checkpoint_resume_and_curve(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--input-size", "64", "--steps", "6", "--batch", "2",
                                       "--ckpt-every", "3", "--threads", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    log = json.loads((out / "train_log.json").read_text())
    assert log["step"] == 6 and np.isfinite(log["final_loss"])
    losses = [h["loss"] for h in log["history"] if "loss" in h]
    assert losses and all(np.isfinite(losses))
    for name in ("model.keras", "best.keras", "train_curve.png", "ckpt/model.weights.h5",
                 "ckpt/optimizer.npz", "ckpt/state.json"):
        assert (out / name).is_file(), name
    assert (out / "train_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Without --resume an existing run is never overwritten.
    again = CliRunner().invoke(main, ["train", "--input-size", "64", "--steps", "6", "--out", str(out)])
    assert again.exit_code == 2 and "--resume" in again.output

    import keras

    from docscan import zoo
    from docscan.train.checkpoint import load_checkpoint as _load_checkpoint

    before = keras.models.load_model(out / "model.keras").get_weights()
    # The checkpoint restores exactly the weights saved at step 6, optimizer state included.
    fresh = zoo.build("hed_mobilenet_v2", input_shape=(64, 64, 3))
    opt = keras.optimizers.Adam()
    state = _load_checkpoint(fresh, opt, out / "ckpt")
    assert state["step"] == 6 and int(opt.iterations.numpy()) == 6
    assert all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), before))
    # A kill between the two renames of a checkpoint write leaves only ckpt.old: still resumable.
    (out / "ckpt").rename(out / "ckpt.old")
    cfg = TrainConfig(input_size=64, steps=8, batch=2, ckpt_every=3, log_every=1, threads=2, dev_eval=False)
    resumed = train(cfg, out, resume=True)
    assert resumed["step"] == 8
    steps = [h["step"] for h in resumed["history"] if "loss" in h]
    assert steps[-2:] == [7, 8] and 6 in steps          # history kept, continued at step 7
    after = keras.models.load_model(out / "model.keras").get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))

    with pytest.raises(DocscanError, match="input_size"):
        train(TrainConfig(input_size=96, steps=9, batch=2, dev_eval=False), out, resume=True)


def test_train_bad_options(tmp_path):
    r = CliRunner().invoke(main, ["train", "--input-size", "70", "--steps", "1", "--out", str(tmp_path / "a")])
    assert r.exit_code == 2 and "divisible by 16" in r.output
    r = CliRunner().invoke(main, ["train", "--steps", "0", "--out", str(tmp_path / "b")])
    assert r.exit_code == 2 and "--steps" in r.output
    r = CliRunner().invoke(main, ["train", "--resume", "--steps", "1", "--out", str(tmp_path / "c")])
    assert r.exit_code == 2 and "no checkpoint" in r.output
    r = CliRunner().invoke(main, ["train", "--arch", "nope", "--steps", "1", "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and "unknown architecture" in r.output
    r = CliRunner().invoke(main, ["train", "--resume", "--init-from", str(tmp_path / "m.keras"), "--steps", "1",
                                  "--out", str(tmp_path / "e")])
    assert r.exit_code == 2 and "--init-from starts a fresh run" in r.output


def test_region_head_fine_tune_from_a_trained_model(tmp_path):
    """--region-head --init-from: the shared layers start from the source model, the
    region output is trained on the page mask and the curve logs its loss."""
    import keras

    src_dir = tmp_path / "src"
    train(TrainConfig(input_size=64, steps=2, batch=2, ckpt_every=2, threads=2, dev_eval=False), src_dir)
    src = keras.models.load_model(src_dir / "model.keras")
    out = tmp_path / "region"
    result = CliRunner().invoke(main, ["train", "--region-head", "--init-from", str(src_dir / "model.keras"),
                                       "--input-size", "64", "--steps", "2", "--batch", "2", "--lr", "1e-9",
                                       "--ckpt-every", "2", "--threads", "2", "--no-dev-eval", "--out", str(out)])
    assert result.exit_code == 0, result.output
    model = keras.models.load_model(out / "model.keras")
    assert list(model.output_names)[-1] == "region" and len(model.outputs) == 7
    # at a learning rate of 1e-9 the copied layers still hold the source's weights
    w_src = src.get_layer("block5_project_conv").get_weights()[0]
    assert np.allclose(model.get_layer("block5_project_conv").get_weights()[0], w_src, atol=1e-6)
    log = json.loads((out / "train_log.json").read_text())
    region_losses = [h["region_loss"] for h in log["history"] if "region_loss" in h]
    assert region_losses and all(np.isfinite(region_losses)) and log["config"]["knobs"] == {"region_head": True}

    bad = CliRunner().invoke(main, ["train", "--init-from", str(tmp_path / "missing.keras"), "--steps", "1",
                                    "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "missing.keras" in bad.output


def test_imagenet_start_for_the_stock_body(tmp_path):
    """--imagenet: the stock body starts from ImageNet's weights and the full-size branch from
    the seed network named by --init-from (its block0/block1/dsn1); a bad pairing is refused."""
    import keras

    from docscan.zoo import imagenet

    src_dir = tmp_path / "src"
    train(TrainConfig(input_size=64, steps=2, batch=2, ckpt_every=2, threads=2, dev_eval=False), src_dir)
    src = keras.models.load_model(src_dir / "model.keras")
    out = tmp_path / "stock"
    result = CliRunner().invoke(main, ["train", "--arch", "hed_mobilenet_v2_stock", "--imagenet", "--region-head",
                                       "--init-from", str(src_dir / "model.keras"), "--input-size", "64",
                                       "--steps", "2", "--batch", "2", "--lr", "1e-9", "--ckpt-every", "2",
                                       "--threads", "2", "--no-dev-eval", "--out", str(out)])
    assert result.exit_code == 0, result.output
    model = keras.models.load_model(out / "model.keras")
    weights = imagenet.mobilenet_v2_weights(imagenet.fetch())
    assert np.allclose(model.get_layer("block7_expand_conv").get_weights()[0], weights["block_6_expand/kernel"],
                       atol=1e-6)
    assert np.allclose(model.get_layer("conv0_conv").get_weights()[0], 2 * weights["Conv1/kernel"], atol=1e-6)
    assert np.allclose(model.get_layer("full1_conv").get_weights()[0], src.get_layer("block1_conv").get_weights()[0],
                       atol=1e-6)
    assert json.loads((out / "train_log.json").read_text())["config"]["imagenet"] is True

    for args, words in ((["--imagenet", "--out", str(tmp_path / "a")], "only hed_mobilenet_v2_stock"),
                        (["--arch", "hed_mobilenet_v2_stock", "--imagenet", "--resume", "--out", str(tmp_path / "b")],
                         "--imagenet starts a fresh run")):
        bad = CliRunner().invoke(main, ["train", "--steps", "1", *args])
        assert bad.exit_code == 2 and words in bad.output, bad.output


def test_make_dataset_with_region_targets():
    from docscan.train.synth import make_dataset, make_sample

    x, y = next(iter(make_dataset(3, 2, (64, 64), with_region=True)))
    assert tuple(y.shape) == (2, 64, 64, 2)
    s = make_sample(3, 0, (64, 64))
    assert np.allclose(y[0, ..., 0], s.edges) and np.allclose(y[0, ..., 1], s.region)
    # the region is the filled page: it covers the quad's inside, not the far background
    assert 0.02 < float(s.region.mean()) < 0.98 and s.region.max() == 1.0
