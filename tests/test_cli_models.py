"""`docscan models`: the table, --json, --layers and bad names, through the real CLI."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from click.testing import CliRunner  # noqa: E402

from docscan.cli import main  # noqa: E402


def _run(*args):
    return CliRunner().invoke(main, ["models", *args])


def test_table_lists_every_architecture():
    from docscan.zoo import ARCHITECTURES

    result = _run()
    assert result.exit_code == 0, result.output
    for name in ARCHITECTURES:
        assert name in result.output
    # measured counts, formatted, on the rows they belong to
    rows = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│")}
    assert "4,253,864" in rows["mobilenet_v1"] and "568.74M" in rows["mobilenet_v1"]
    assert "3,538,984" in rows["mobilenet_v2"] and "14.16" in rows["mobilenet_v2"]
    assert "1,104,118" in rows["hed_vgg_bn"] and "4.42" in rows["hed_vgg_bn"]
    assert "256x256x3" in rows["hed_mobilenet_v2"]
    assert "299x299x3" in rows["xception"]


def test_json_for_named_models():
    result = _run("--json", "mobilenet_v1", "squeezenet_1_1", "hed_mobilenet_v2")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == ["mobilenet_v1", "squeezenet_1_1", "hed_mobilenet_v2"]
    v1, sq, hed = rows
    assert v1["params"] == 4_253_864 and v1["trainable_params"] == 4_231_976
    assert v1["non_trainable_params"] == 4_253_864 - 4_231_976
    assert v1["float32_bytes"] == 4 * 4_253_864 and v1["input_shape"] == [224, 224, 3]
    assert abs(v1["macs"] - 569e6) / 569e6 < 0.02
    assert sq["params"] == 1_235_496 and sq["family"] == "squeezenet"
    assert hed["outputs"] == [[256, 256, 1]] * 6
    assert hed["float32_mb"] == round(293_973 * 4 / 1e6, 3)
    assert all(r["source"] and "layers" not in r for r in rows)


def test_json_layers_add_up_to_the_totals():
    result = _run("--json", "--layers", "shufflenet_g3")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert sum(layer["params"] for layer in row["layers"]) == row["params"]
    assert sum(layer["macs"] for layer in row["layers"]) == row["macs"]
    kinds = {layer["kind"] for layer in row["layers"]}
    assert {"Conv2D", "DepthwiseConv2D", "BatchNormalization", "Dense"} <= kinds


def test_layers_table():
    result = _run("--layers", "squeezenet_1_1")
    assert result.exit_code == 0, result.output
    assert "fire9_expand3x3" in result.output and "total" in result.output


def test_unknown_name_is_a_one_line_error():
    result = _run("resnet50")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error: unknown architecture 'resnet50'")
    assert "Traceback" not in result.output
