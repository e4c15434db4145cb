"""`docscan convert` end to end, and every kind of bad input it must refuse cleanly."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from docscan import zoo  # noqa: E402
from docscan.cli import main  # noqa: E402
from docscan.convert import parity  # noqa: E402


@keras.saving.register_keras_serializable(package="docscan_cli_tests")
class Eigen(keras.layers.Layer):
    """A layer no TFLite builtin can run (self-adjoint eigen decomposition)."""

    def call(self, x):
        import tensorflow as tf

        m = x[..., :4, :4, 0]
        vals, _ = tf.linalg.eigh(m + tf.linalg.matrix_transpose(m))
        return vals


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    m = zoo.build("hed_vgg_bn", (64, 64, 3), width=0.25)
    path = d / "tinyhed.keras"
    m.save(path)
    return path


def run(*args):
    return CliRunner().invoke(main, ["convert", *map(str, args)])


def error_line(result) -> str:
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert lines, result.output
    assert "Traceback" not in result.output
    return lines[-1]


def test_converts_a_keras_file(keras_file, tmp_path):
    out = tmp_path / "out"
    r = run(keras_file, "--variant", "fp32,fp16", "--parity-samples", "1", "-o", out)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "tinyhed.fp16.report.json", "tinyhed.fp16.tflite", "tinyhed.fp32.report.json", "tinyhed.fp32.tflite"]
    rep = json.loads((out / "tinyhed.fp16.report.json").read_text())
    assert rep["variant"] == "fp16" and rep["passed"]
    assert rep["size_vs_fp32"] == pytest.approx(0.5, abs=0.05)
    assert all(l["action"] == "folded_into_previous" for l in rep["passes"]["bn_folding"]["layers"])
    assert rep["passes"]["bn_folding"]["folded_vs_unfolded"]["random"]["within_float32_rounding"]
    assert {t["metric"] for t in rep["thresholds"]} == {"max_abs"}
    assert rep["parity"][0]["space"] == "sigmoid(logits)" and len(rep["parity"][0]["outputs"]) == 6
    assert "fp16" in r.stdout and "folded_into_previous" in r.stdout


def test_zoo_name_with_weights_and_input_size(tmp_path):
    m = zoo.build("hed_vgg", (32, 32, 3), width=0.25)
    weights = tmp_path / "w.weights.h5"
    m.save_weights(weights)
    r = CliRunner().invoke(main, ["convert", "hed_vgg", "--weights", str(weights), "--input-size", "32", "32",
                                  "--parity-samples", "1", "-o", str(tmp_path / "o")])
    # width 0.25 weights do not fit the full-width zoo network: a clean error, not a traceback
    assert r.exit_code == 2 and "w.weights.h5: cannot load weights" in error_line(r)
    r = CliRunner().invoke(main, ["convert", "hed_vgg", "--input-size", "32x32", "--no-fold-bn",
                                  "--rewrite-transpose-conv", "--sum-fuse", "--parity-samples", "1",
                                  "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "o" / "hed_vgg.fp32.report.json").read_text())
    assert rep["passes"]["input_size"] == [32, 32, 3]
    assert len(rep["passes"]["transpose_conv"]["rewritten"]) == 4
    assert [d["inputs"] for d in rep["passes"]["fuse_sum"]["rewritten"]] == [5]
    assert not {"TRANSPOSE_CONV", "CONCATENATION"} & set(rep["inventory"]["counts"])
    assert rep["passed"]


def test_savedmodel_directory(tmp_path):
    inp = keras.Input((16, 16, 3))
    m = keras.Model(inp, keras.layers.Conv2D(2, 3, padding="same")(inp))
    m.export(str(tmp_path / "sm"), verbose=False)
    r = run(tmp_path / "sm", "--parity-samples", "1", "-o", tmp_path / "o")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "o" / "sm.fp32.report.json").read_text())
    assert rep["passed"] and rep["inventory"]["counts"] == {"CONV_2D": 1}


def test_missing_file(tmp_path):
    r = run(tmp_path / "nope.keras", "-o", tmp_path / "o")
    assert r.exit_code == 2
    assert error_line(r) == f"error: {tmp_path / 'nope.keras'}: no such file"
    assert not (tmp_path / "o").exists()


def test_unknown_name_lists_architectures(tmp_path):
    r = run("no_such_net", "-o", tmp_path)
    assert r.exit_code == 2 and "hed_vgg_bn" in error_line(r)


@pytest.mark.parametrize("how", ["garbage", "truncated", "empty"])
def test_corrupt_or_truncated_keras(keras_file, tmp_path, how):
    bad = tmp_path / "bad.keras"
    data = keras_file.read_bytes()
    bad.write_bytes({"garbage": os.urandom(4096), "truncated": data[:len(data) // 2], "empty": b""}[how])
    r = run(bad, "-o", tmp_path / "o")
    assert r.exit_code == 2
    line = error_line(r)
    assert line.startswith(f"error: {bad}: ") and ("not a valid .keras" in line or "cannot load" in line)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_corrupt_or_truncated_tflite(keras_file, tmp_path, how):
    r = run(keras_file, "--parity-samples", "0", "-o", tmp_path)
    assert r.exit_code == 0, r.output
    good = (tmp_path / "tinyhed.fp32.tflite").read_bytes()
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(os.urandom(2048) if how == "garbage" else good[:len(good) // 3])
    r = CliRunner().invoke(main, ["inspect", str(bad)])
    assert r.exit_code == 2 and error_line(r).startswith(f"error: {bad}: ")
    r = run(bad, "-o", tmp_path / "o")                       # not a Keras model either
    assert r.exit_code == 2 and error_line(r).startswith(f"error: {bad}: ")
    assert not (tmp_path / "o").exists()


def test_layer_the_converter_cannot_handle(tmp_path):
    inp = keras.Input((8, 8, 3))
    m = keras.Model(inp, Eigen()(inp))
    path = tmp_path / "eig.keras"
    m.save(path)
    r = run(path, "--parity-samples", "1", "-o", tmp_path / "o")
    assert r.exit_code == 2
    line = error_line(r)
    assert "cannot handle" in line and "SelfAdjointEig" in line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_unwritable_output_directory(keras_file, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run(keras_file, "-o", blocker / "sub")
    assert r.exit_code == 2 and "not a directory" in error_line(r)
    if os.geteuid() != 0:            # root writes anywhere; the mode check needs a normal user
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        r = run(keras_file, "-o", ro)
        assert r.exit_code == 2 and "not writable" in error_line(r)
        assert list(ro.iterdir()) == []


@pytest.mark.parametrize("args,fragment", [
    (["--variant", "fp64"], "unknown variant 'fp64'"),
    (["--input-size", "6x"], "--input-size: expected H W or HxW"),
    (["--target-runtime", "two"], "not a version"),
    (["--calib-dir", "/nonexistent-dir", "--variant", "int8"], "calibration directory does not exist"),
])
def test_bad_options(keras_file, tmp_path, args, fragment):
    r = run(keras_file, *args, "-o", tmp_path / "o")
    assert r.exit_code == 2 and fragment in error_line(r)
    assert not (tmp_path / "o").exists()


def test_failed_threshold_exits_nonzero_but_keeps_the_evidence(keras_file, tmp_path, monkeypatch):
    monkeypatch.setitem(parity.THRESHOLDS, "fp32", {"edge": [("edge_f", ">=", 1.01)], "other": []})
    r = run(keras_file, "--parity-samples", "1", "-o", tmp_path)
    assert r.exit_code == 1
    assert "parity thresholds failed: fp32: edge_f" in error_line(r)
    rep = json.loads((tmp_path / "tinyhed.fp32.report.json").read_text())
    assert rep["passed"] is False and rep["thresholds"][0]["held"] is False
