"""docscan bench on the host: per-op cutting, reports, --compare, and bad input (no qemu needed)."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from bench_helpers import make_tiny_models  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from docscan.bench import perop, report  # noqa: E402
from docscan.bench.devices import parse_device  # noqa: E402
from docscan.bench.run import run_bench  # noqa: E402
from docscan.bench.schema import SCHEMA, load_report  # noqa: E402
from docscan.cli import main  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_models(tmp_path_factory.mktemp("models"))


def _interp(**kw):
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(**kw)
    it.allocate_tensors()
    return it


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_one_op_models_compute_what_the_op_computes_in_the_full_model(tiny, variant):
    data = tiny[variant].read_bytes()
    full = _interp(model_content=data, experimental_preserve_all_tensors=True)
    rng = np.random.RandomState(1)
    d = full.get_input_details()[0]
    x = (rng.rand(*d["shape"]) * 255 - 128).astype(d["dtype"]) if variant == "int8" else \
        rng.rand(*d["shape"]).astype(np.float32)
    full.set_tensor(d["index"], x)
    full.invoke()
    cuts = perop.cut_ops(data, variant)
    assert [c.op_type for c in cuts] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "TRANSPOSE_CONV"]
    # Feed each one-op model the full model's real input for that op: it must give the
    # full model's output for that op bit for bit (same weights, options, quantisation).
    by_name = {t["name"]: t["index"] for t in full.get_tensor_details()}
    for cut, op in zip(cuts, full._get_ops_details()):
        one = _interp(model_content=cut.data)
        ins = one.get_input_details()
        assert len(ins) == 1                          # weights and biases stay constants
        one.set_tensor(ins[0]["index"], full.get_tensor(by_name[ins[0]["name"]]))
        one.invoke()
        got = one.get_tensor(one.get_output_details()[0]["index"])
        np.testing.assert_array_equal(got, full.get_tensor(op["outputs"][0]))


def test_cut_ops_rejects_garbage():
    with pytest.raises(DocscanError, match="not a TFLite flatbuffer"):
        perop.cut_ops(b"\x00" * 64, "junk.tflite")


def test_host_bench_report_json_and_png(tiny, tmp_path):
    rep = run_bench([tiny["fp32"], tiny["int8"]], ["host"], runs=5, warmup=1, progress=False)
    assert [r.model for r in rep.runs] == ["tiny_fp32.tflite", "tiny_int8.tflite"]
    for r in rep.runs:
        assert r.device_kind == "host" and not r.emulated and len(r.latency_ms) == 5
        assert [o.op_type for o in r.ops] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "TRANSPOSE_CONV"]
        assert all(o.ms > 0 for o in r.ops)
        assert r.extra["per_op_sum_ms"] == pytest.approx(sum(o.ms for o in r.ops))
        assert r.runtime.startswith("ai-edge-litert")
    paths = report.save(rep, tmp_path / "out.json")
    assert [p.name for p in paths] == ["out.json", "out.png"]
    assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["schema"] == SCHEMA and "warning" not in saved       # nothing emulated here
    types = {row["op_type"]: row for row in saved["summary"]["tiny_fp32.tflite"]["op_types"]}
    assert types["CONV_2D"]["count"] == 2
    assert sum(row["share_pct"]["host"] for row in types.values()) == pytest.approx(100.0)
    again = load_report(tmp_path / "out.json")
    assert again.runs[0].ops[0].op_type == "CONV_2D"


def test_no_xnnpack_and_no_per_op(tiny):
    rep = run_bench([tiny["fp32"]], ["host"], runs=2, warmup=0, xnnpack=False, per_op=False, progress=False)
    assert rep.runs[0].ops == [] and rep.runs[0].extra["xnnpack"] is False


def test_device_strings():
    assert parse_device("emu:arm64").spec == "emu:aarch64"
    assert parse_device("adb:R58M 1").serial == "R58M 1"
    for bad in ("emu:riscv", "phone", "adb:", ""):
        with pytest.raises(DocscanError):
            parse_device(bad)


def _cli(args, cwd):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=cwd):
        res = runner.invoke(main, ["bench", *args])
        files = sorted(os.listdir("."))
    return res, files


@pytest.mark.parametrize("args,message", [
    (["{fp32}", "-d", "emu:mips"], "emu:mips: unknown emulated device"),
    (["{fp32}", "-d", "toaster"], "toaster: unknown device"),
    (["missing.tflite", "-d", "host"], "missing.tflite: no such model file"),
    (["{fp32}", "{fp32}.notthere", "-d", "host"], ".notthere: no such model file"),
    (["{junk}", "-d", "host"], "not a .tflite model"),
    (["{fp32}", "-d", "host", "-d", "host"], "given twice"),
    ([], "give MODEL files"),
    (["{fp32}", "-o", "out.json"], "-o takes a folder"),
])
def test_cli_bad_input_one_line_error_nothing_written(tiny, tmp_path, args, message):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"this is not a model")
    args = [a.format(fp32=tiny["fp32"], junk=junk) for a in args]
    res, files = _cli(args, tmp_path)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.output
    assert files == []


def test_cli_host_run_then_compare(tiny, tmp_path):
    res, _ = _cli([str(tiny["fp32"]), "-d", "host", "--runs", "3", "-o", str(tmp_path / "a"), "-q"], tmp_path)
    assert res.exit_code == 0, res.output
    assert "CONV_2D" in res.output and (tmp_path / "a" / "docscan-bench.png").exists()
    res, _ = _cli([str(tiny["int8"]), "-d", "host", "--runs", "3", "-o", str(tmp_path / "b"), "-q"], tmp_path)
    assert res.exit_code == 0, res.output
    for name in ("a", "b"):     # --compare labels each run by its file's name
        (tmp_path / name / "docscan-bench.json").rename(tmp_path / f"{name}.json")
    res, _ = _cli(["--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-o", str(tmp_path / "c"),
                   "--no-png"], tmp_path)
    assert res.exit_code == 0, res.output
    both = load_report(tmp_path / "c" / "docscan-bench.json")
    assert [r.extra["source_label"] for r in both.runs] == ["a.json", "b.json"]
    assert not (tmp_path / "c" / "docscan-bench.png").exists()


def test_compare_labels_files_of_one_name_by_their_folder(tmp_path):
    # What `-o phone` and `-o emu` leave: two docscan-bench.json files.
    run = {"model": "m.tflite", "device": "host", "device_kind": "host", "isa": "x86_64", "runtime": "r",
           "threads": 1, "latency_ms": [1.0]}
    for name in ("phone", "emu"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "docscan-bench.json").write_text(json.dumps({"schema": SCHEMA, "runs": [run]}))
    both = report.compare([tmp_path / "phone" / "docscan-bench.json", tmp_path / "emu" / "docscan-bench.json"])
    assert [r.extra["source_label"] for r in both.runs] == ["phone/docscan-bench.json", "emu/docscan-bench.json"]


def test_cli_compare_bad_file(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    (tmp_path / "y.json").write_text(json.dumps({"schema": "docscan.bench/0", "runs": []}))
    for name, msg in (("x.json", "cannot read benchmark JSON"), ("y.json", "schema")):
        res, files = _cli(["--compare", str(tmp_path / name), str(tmp_path / name), "-o", "c"], tmp_path)
        assert res.exit_code == 2 and msg in res.output and "c" not in files


def test_cli_parse_benchmark_model_log(tmp_path, shared):
    logs = sorted((shared / "fixtures" / "benchmark_model").glob("*"))
    logs = [p for p in logs if p.is_file() and p.suffix in (".txt", ".log")]
    if not logs:
        pytest.skip("no benchmark_model logs in ../shared/fixtures/benchmark_model")
    res, _ = _cli(["--parse", str(logs[0]), "-o", str(tmp_path / "p"), "--no-png"], tmp_path)
    assert res.exit_code == 0, res.output
    assert load_report(tmp_path / "p" / "docscan-bench.json").runs[0].latency_ms
