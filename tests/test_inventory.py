"""The flatbuffer reader: agrees with the interpreter, counts MACs, survives garbage."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from docscan.cli import main  # noqa: E402
from docscan.convert import runtime_versions  # noqa: E402
from docscan.convert.inventory import inspect_file, read_inventory  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    import keras
    from keras import layers

    from docscan.convert import tflite_convert as tc

    inp = keras.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)      # 8x8x8
    y = layers.DepthwiseConv2D(3, padding="same")(x)                               # 8x8x8
    t = layers.Conv2DTranspose(4, 4, strides=2, padding="same")(y)                 # 16x16x4
    g = layers.Dense(5)(layers.GlobalAveragePooling2D()(y))
    m = keras.Model(inp, [t, g])
    data = tc.convert(m, "fp32", (16, 16, 3))
    path = tmp_path_factory.mktemp("inv") / "tiny.tflite"
    path.write_bytes(data)
    return path


def test_ops_match_the_interpreter(tiny_tflite):
    from ai_edge_litert.interpreter import Interpreter

    inv = inspect_file(tiny_tflite)
    from ai_edge_litert.interpreter import OpResolverType

    it = Interpreter(model_path=str(tiny_tflite),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    names = [d["op_name"] for d in it._get_ops_details()]
    assert [o.op for o in inv.ops] == names
    assert inv.size_bytes == tiny_tflite.stat().st_size
    assert inv.inputs[0].shape == [1, 16, 16, 3] and inv.inputs[0].dtype == "FLOAT32"


def test_macs_per_op(tiny_tflite):
    inv = inspect_file(tiny_tflite)
    macs = {o.op: o.macs for o in inv.ops if o.macs is not None}
    assert macs["CONV_2D"] == 8 * 8 * 8 * 3 * 3 * 3
    assert macs["DEPTHWISE_CONV_2D"] == 8 * 8 * 8 * 3 * 3
    assert macs["TRANSPOSE_CONV"] == 8 * 8 * 8 * 4 * 4 * 4        # each input pixel x kernel x Cout
    assert macs["FULLY_CONNECTED"] == 5 * 8
    assert inv.total_macs == sum(macs.values())


def test_runtime_versions_table_names_its_source_and_blocks_old_runtimes(tiny_tflite):
    doc = json.loads(runtime_versions.TABLE.read_text())
    assert "runtime_version.cc" in doc["source"] and len(doc["commit"]) == 40
    assert runtime_versions.min_runtime("CONV_2D", 1) == "1.5.0"
    assert runtime_versions.min_runtime("TRANSPOSE_CONV", 1) == "1.9.0"
    inv = inspect_file(tiny_tflite)
    blockers, _ = runtime_versions.blockers(inv.ops, "1.8")
    assert "TRANSPOSE_CONV" in {b.op for b in blockers}
    assert runtime_versions.blockers(inv.ops, "2.13")[0] == []
    with pytest.raises(DocscanError, match="not a version"):
        runtime_versions.parse_version("two")


def test_inspect_cli_table_and_json(tiny_tflite):
    r = CliRunner().invoke(main, ["inspect", str(tiny_tflite)])
    assert r.exit_code == 0, r.output
    assert "TRANSPOSE_CONV" in r.output and "min runtime" in r.output
    r = CliRunner().invoke(main, ["inspect", str(tiny_tflite), "--json"])
    d = json.loads(r.output)
    assert d["counts"]["CONV_2D"] == 1 and d["total_macs"] > 0
    r = CliRunner().invoke(main, ["inspect", str(tiny_tflite), "--target-runtime", "1.8"])
    assert r.exit_code == 2 and "TRANSPOSE_CONV" in r.output


def test_inspect_reads_tflite_files_not_made_by_docscan(tmp_path):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((2, 3), tf.float32)])
    def f(x):
        return tf.nn.softmax(tf.matmul(x, tf.ones((3, 4))) - 1.0)

    data = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()]).convert()
    inv = read_inventory(data, "foreign")
    assert {o.op for o in inv.ops} >= {"SOFTMAX"}


@pytest.mark.parametrize("blob", [b"", b"TFL3", b"\x00" * 64, b"PK\x03\x04" + b"\x00" * 60,
                                  b"\x08\x00\x00\x00TFL3" + b"\xff" * 40])
def test_garbage_is_a_docscan_error(blob, tmp_path):
    with pytest.raises(DocscanError):
        read_inventory(blob, "blob")
    p = tmp_path / "g.tflite"
    p.write_bytes(blob)
    r = CliRunner().invoke(main, ["inspect", str(p)])
    assert r.exit_code == 2 and r.output.startswith("error: ") and "Traceback" not in r.output


def test_fuzzed_bytes_never_crash(tiny_tflite):
    """300 mutated / truncated / spliced copies: each parses or raises DocscanError."""
    data = tiny_tflite.read_bytes()
    rng = np.random.default_rng(1234)
    outcomes = {"parsed": 0, "rejected": 0}
    for case in range(300):
        buf = bytearray(data)
        kind = case % 4
        if kind == 0:                                   # flip a few random bytes
            for pos in rng.integers(0, len(buf), size=int(rng.integers(1, 16))):
                buf[pos] = int(rng.integers(0, 256))
        elif kind == 1:                                 # truncate
            buf = buf[:int(rng.integers(0, len(buf)))]
        elif kind == 2:                                 # overwrite a span near the (table-rich) start
            start = int(rng.integers(0, min(len(buf), 4096)))
            n = int(rng.integers(1, 64))
            buf[start:start + n] = rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
        else:                                           # large offsets in the header region
            pos = int(rng.integers(0, min(len(buf) - 4, 512)))
            buf[pos:pos + 4] = int(rng.integers(0, 2**32)).to_bytes(4, "little")
        try:
            read_inventory(bytes(buf), f"case{case}")
            outcomes["parsed"] += 1
        except DocscanError as exc:
            assert str(exc).startswith(f"case{case}: ")
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 30            # the fuzzing really hits the error paths
    assert sum(outcomes.values()) == 300
