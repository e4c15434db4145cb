"""benchmark_model log parser: every real fixture in ../shared/fixtures/benchmark_model/ parses,
with numbers checked against the files themselves; CSV mode and bad logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_dir

from docscan.bench.benchmark_model import parse_file, parse_log, parse_stat, parse_text
from docscan.bench.schema import BenchReport, ModelRun
from docscan.errors import DocscanError

FIXTURES = shared_dir() / "fixtures" / "benchmark_model"


@pytest.fixture(scope="module")
def fx() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"benchmark_model fixtures not found at {FIXTURES} (set DOCSCAN_SHARED)")
    return FIXTURES


def by_type(run: ModelRun) -> dict:
    return {t.op_type: t for t in run.by_op_type()}


def share(run: ModelRun, op_type: str) -> float:
    total = sum(o.ms for o in run.ops)
    return by_type(run)[op_type].ms / total


def test_every_fixture_is_covered(fx):
    # A new fixture must get its own test below: list them so nothing is parsed unchecked.
    assert sorted(p.name for p in fx.glob("*.txt")) == sorted([
        "litert-2024-nightly-linux-x86_64-xnnpack-op-profiling.txt",
        "litert-2024-nightly-linux-x86_64-xnnpack-summary.txt",
        "tflite-1.14-android-arm-op-profiling.txt",
        "tflite-2.4.0-android-arm64-nnapi-delegate-failure.txt",
        "tflite-2.4.0-android-arm64-nnapi-op-profiling.txt",
        "tflite-2.4.0-android-arm64-summary-cpu-fp32.txt",
        "tflite-2.4.0-android-arm64-summary-cpu-int8.txt",
        "tflite-2.4.0-android-arm64-summary-nnapi-gpu-fp32.txt",
        "tflite-2.8-linux-riscv64-qemu-op-profiling.txt",
        "tflite-2019-nnapi-run-order-only-trimmed.txt",
    ])


def test_tflite_114_android_arm_op_profiling(fx):
    run = parse_file(fx / "tflite-1.14-android-arm-op-profiling.txt")
    assert run.model == "mobilenet_v2_1.0_224_quant.tflite"
    assert run.threads == 1
    assert run.isa == "armv7" and run.device_kind == "phone"
    # "count=50 first=118810 curr=114219 min=88216 max=129193 avg=115062 std=7678"
    assert run.latency_ms == [pytest.approx(115.062)]
    t = run.extra["timing"]
    assert t["count"] == 50 and t["std_ms"] == pytest.approx(7.678)
    assert t["min_ms"] == pytest.approx(88.216) and t["max_ms"] == pytest.approx(129.193)
    assert run.warmup == 6 and run.extra["warmup_timing"]["avg_ms"] == pytest.approx(86.1843)
    # old "Average inference timings in us: Warmup: 86184.3, Init: 1892, no stats: 115062"
    assert run.extra["init_ms"] == pytest.approx(1.892)
    assert len(run.ops) == 65
    first = run.ops[0]
    assert (first.op_type, first.name, first.ms) == ("CONV_2D", "MobilenetV2/Conv/Relu6", pytest.approx(7.237))
    assert first.extra["start_ms"] == 0.0 and first.extra["pct"] == pytest.approx(6.297)
    assert run.ops[-1].op_type == "RESHAPE" and run.ops[-1].name == "output"
    types = by_type(run)
    assert types["CONV_2D"].count == 36 and types["DEPTHWISE_CONV_2D"].count == 17
    assert types["CONV_2D"].ms == pytest.approx(92.625, abs=0.05)  # summary table says 92.625
    assert share(run, "CONV_2D") == pytest.approx(0.80619, abs=1e-3)
    summary = {r["op_type"]: r for r in run.extra["by_node_type"]}
    assert summary["CONV_2D"] == {"op_type": "CONV_2D", "count": 36, "ms": 92.625, "pct": 80.619, "times_called": 36}
    assert run.extra["profiler_total"]["avg_ms"] == pytest.approx(114.924)
    assert run.extra["flags"]["enable_op_profiling"] == "1"
    assert run.extra["flags"]["graph"] == "/data/local/tmp/mobilenet_v2_1.0_224_quant.tflite"


def test_tflite_24_nnapi_op_profiling_with_init_profile(fx):
    run = parse_file(fx / "tflite-2.4.0-android-arm64-nnapi-op-profiling.txt")
    # trimmed: the profiler's own "Timings (microseconds): count=50 ... avg=158715" is all there is
    assert run.median_ms == pytest.approx(158.715)
    assert run.extra["timing"]["source"].startswith("op profiler total")
    assert run.isa == "aarch64" and run.device_kind == "phone"
    assert len(run.ops) == 11
    types = by_type(run)
    assert types["TfLiteNnapiDelegate"].count == 3
    assert types["TfLiteNnapiDelegate"].ms == pytest.approx(149.483, abs=0.01)
    assert share(run, "TfLiteNnapiDelegate") == pytest.approx(0.94187, abs=1e-3)
    assert types["STRIDED_SLICE"].count == 6
    nn = [o for o in run.ops if o.op_type == "TfLiteNnapiDelegate"]
    assert nn[0].index == 231 and nn[0].extra["delegated"]
    assert nn[0].name == "model/tf.nn.silu_16/mul, model/tf.nn.silu_26/mul, model/tf.nn.silu_35/mul"
    assert run.ops[0].index == 0 and run.ops[0].name == "model/tf.strided_slice/StridedSlice"
    # the initialization profile is kept apart, not mixed into the per-inference ops
    init = {r["op_type"]: r["ms"] for r in run.extra["init_profile"]}
    assert init["ModifyGraphWithDelegate"] == pytest.approx(413.346)
    assert init["AllocateTensors"] == pytest.approx(158.023 * 2)


@pytest.mark.parametrize("name, avg, init, first, warm, overall_mb", [
    ("tflite-2.4.0-android-arm64-summary-cpu-fp32.txt", 249.684, 16.242, 360.262, 304.586, 138.809),
    ("tflite-2.4.0-android-arm64-summary-cpu-int8.txt", 95.7883, 1.779, 152.949, 110.690, 36.9883),
    ("tflite-2.4.0-android-arm64-summary-nnapi-gpu-fp32.txt", 156.669, 404.292, 188.086, 175.313, 61.0078),
])
def test_tflite_24_summaries(fx, name, avg, init, first, warm, overall_mb):
    run = parse_file(fx / name)
    assert run.latency_ms == [pytest.approx(avg)]
    assert run.extra["timing"]["count"] == 50
    assert run.extra["init_ms"] == pytest.approx(init)
    assert run.extra["first_inference_ms"] == pytest.approx(first)
    assert run.extra["warmup_avg_ms"] == pytest.approx(warm)
    assert run.extra["memory_mb"]["kind"] == "peak"
    assert run.extra["memory_mb"]["overall_mb"] == pytest.approx(overall_mb)
    assert run.ops == [] and run.per_op_method == ""
    assert run.isa == "aarch64"


def test_delegate_failure_is_a_clear_error(fx):
    path = fx / "tflite-2.4.0-android-arm64-nnapi-delegate-failure.txt"
    with pytest.raises(DocscanError) as err:
        parse_file(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "no benchmark timings" in msg
    assert "Failed to apply NNAPI delegate" in msg
    parsed = parse_text(path.read_text())
    assert parsed.failed
    assert any("Node number 248 (TfLiteNnapiDelegate) failed to prepare" in e for e in parsed.errors)
    assert parsed.flags["use_nnapi"] == "1" and parsed.flags["nnapi_accelerator_name"] == "qti-default"


def test_riscv64_qemu_log_is_labelled_emulated(fx):
    run = parse_file(fx / "tflite-2.8-linux-riscv64-qemu-op-profiling.txt")
    assert run.isa == "riscv64" and run.extra["isa_source"] == "file name"
    assert run.device_kind == "emulated" and run.emulated
    assert any("emulated" in n for n in run.notes)
    assert run.threads == 4 and run.model == "mobilenet_v1_1.0_224.tflite"
    # "avg=2.95034e+06": scientific notation in the Stat line
    assert run.median_ms == pytest.approx(2950.34)
    assert run.warmup == 1 and run.extra["warmup_timing"]["avg_ms"] == pytest.approx(3512.391)  # count=1 curr=
    assert run.extra["memory_mb"] == {"kind": "delta", "init_mb": 4.21094, "overall_mb": 46.0859}
    assert len(run.ops) == 31
    assert run.ops[10].name == "MobilenetV1/MobilenetV1/Conv2d_5_pointwise/Relu6" and run.ops[10].index == 10
    assert run.ops[10].ms == pytest.approx(277.374)
    types = by_type(run)
    assert types["CONV_2D"].count == 15 and types["CONV_2D"].ms == pytest.approx(2651.853, abs=0.05)
    assert share(run, "CONV_2D") == pytest.approx(0.89897, abs=1e-3)
    assert [r["op_type"] for r in run.extra["init_profile"]] == ["AllocateTensors"]
    # arguments win over guesses
    run2 = parse_file(fx / "tflite-2.8-linux-riscv64-qemu-op-profiling.txt", isa="rv64gc", device_kind="host")
    assert (run2.isa, run2.device_kind) == ("rv64gc", "host")


def test_litert_xnnpack_op_profiling(fx):
    run = parse_file(fx / "litert-2024-nightly-linux-x86_64-xnnpack-op-profiling.txt")
    assert run.isa == "x86_64" and run.device_kind == "host"
    assert run.model == "1.tflite" and run.threads == -1
    assert run.median_ms == pytest.approx(15.5176) and run.extra["timing"]["count"] == 64
    assert run.warmup == 32
    assert run.extra["init_ms"] == pytest.approx(32.163)
    assert "Created TensorFlow Lite XNNPACK delegate for CPU." in run.extra["delegates"]
    assert len(run.ops) == 171
    # XNNPACK rows: "avg ms" is per call; 13 calls per run -> 0.051 * 13 ms per inference
    dw = run.ops[2]
    assert dw.op_type == "Convolution (NHWC, QC8) DWConv"
    assert dw.name == "Delegate/Convolution (NHWC, QC8) DWConv" and dw.index is None
    assert dw.extra["delegate_index"] == 1 and dw.extra["times_called"] == 13
    assert dw.ms == pytest.approx(0.051 * 13)
    post = [o for o in run.ops if o.op_type == "TFLite_Detection_PostProcess"]
    assert len(post) == 1 and post[0].ms == pytest.approx(3.653) and post[0].index == 266
    types = by_type(run)
    assert types["Convolution (NHWC, QC8) GEMM"].count == 62
    # per-call averages are printed to 3 decimals, so per-type sums drift a little from the summary
    assert types["Convolution (NHWC, QC8) GEMM"].ms == pytest.approx(5.236, rel=0.01)
    assert share(run, "Convolution (NHWC, QC8) GEMM") == pytest.approx(0.34361, abs=3e-3)
    assert run.by_op_type()[0].op_type == "Convolution (NHWC, QC8) GEMM"
    summary = {r["op_type"]: r for r in run.extra["by_node_type"]}
    assert summary["Add (ND, QS8)"]["times_called"] == 42 and summary["Add (ND, QS8)"]["count"] == 18
    assert sum(o.ms for o in run.ops) == pytest.approx(run.extra["profiler_total"]["avg_ms"], rel=0.01)


def test_litert_summary_only(fx):
    run = parse_file(fx / "litert-2024-nightly-linux-x86_64-xnnpack-summary.txt")
    assert run.median_ms == pytest.approx(14.2909)
    t = dict(run.extra["timing"])
    assert t.pop("source") == "regular runs (count= line)"
    assert t == pytest.approx({"count": 70, "first_ms": 14.941, "curr_ms": 14.066, "min_ms": 13.728,
                               "max_ms": 16.145, "avg_ms": 14.2909, "std_ms": 0.452})
    assert run.warmup == 35
    assert run.extra["memory_mb"]["overall_mb"] == pytest.approx(34.5234)
    assert run.ops == []


def test_trimmed_run_order_only(fx):
    run = parse_file(fx / "tflite-2019-nnapi-run-order-only-trimmed.txt")
    assert len(run.ops) == 8
    # no timing lines at all: latency is the per-op sum, and the run says so
    assert run.median_ms == pytest.approx(52.063)
    assert any("sum of the per-op averages" in n for n in run.notes)
    assert run.isa == "unknown" and run.device_kind == "phone"   # NNAPI: an Android device
    types = by_type(run)
    assert types["RESIZE_BILINEAR"].count == 3 and types["RESIZE_BILINEAR"].ms == pytest.approx(23.195)
    assert share(run, "RESIZE_BILINEAR") == pytest.approx(0.4455, abs=1e-3)
    assert run.ops[0].name == "MobilenetV2/expanded_conv_16/project/add_fold, aspp0/Relu"
    assert run.ops[0].index == 71


def test_runs_survive_the_json_schema(fx, tmp_path):
    from docscan.bench.schema import load_report, save_report

    runs = [parse_file(p) for p in sorted(fx.glob("*.txt")) if "failure" not in p.name]
    save_report(BenchReport(runs=runs, command="docscan bench --parse"), tmp_path / "r.json")
    back = load_report(tmp_path / "r.json").runs
    assert [r.median_ms for r in back] == [r.median_ms for r in runs]
    assert [len(r.ops) for r in back] == [len(r.ops) for r in runs]


# ---------------------------------------------------------------- synthetic formats

CSV_PROFILE = """\
Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
node type, start, first, avg_ms, %, cdf%, mem KB, times called, name
CONV_2D, 0.066, 87.754, 60.957, 60%, 60%, 0, 1, [model/conv, model/relu]:0
Convolution (NHWC, F32) IGEMM, 61, 20.5, 10.25, 20%, 80%, 0, 2, Delegate/Convolution (NHWC\t F32) IGEMM:0
SOFTMAX, 81, 2.1e+01, 2.0e+01, 20%, 100%, 0, 1, [probs]:3

============================== Summary by node type ==============================
node type, count, avg_ms, avg %, cdf %, mem KB, times called
CONV_2D, 1, 60.957, 60%, 60%, 0, 1
Convolution (NHWC, F32) IGEMM, 1, 20.5, 20%, 80%, 0, 2
SOFTMAX, 1, 20, 20%, 100%, 0, 1

Timings (microseconds): count=10 first=101000 curr=101400 min=100000 max=102000 avg=101457 std=500
Memory (bytes): count=0
3 nodes observed
"""


def test_csv_profile_with_unquoted_commas():
    run = parse_log(CSV_PROFILE, source="profile.csv")
    assert [o.op_type for o in run.ops] == ["CONV_2D", "Convolution (NHWC, F32) IGEMM", "SOFTMAX"]
    assert run.ops[0].name == "model/conv, model/relu" and run.ops[0].index == 0
    assert run.ops[1].ms == pytest.approx(20.5) and run.ops[1].extra["times_called"] == 2
    assert run.ops[2].ms == pytest.approx(20.0)
    assert "CSV" in run.per_op_method
    assert run.median_ms == pytest.approx(101.457)
    assert [r["op_type"] for r in run.extra["by_node_type"]][1] == "Convolution (NHWC, F32) IGEMM"


def test_newer_csv_header_without_start_and_merge():
    from docscan.bench.benchmark_model import merge_csv_profile

    csv = ("============================== Run Order ==============================\n"
           "node type,first,avg_ms,%,cdf%,mem KB,times called,name\n"
           "HardSwish (NC),0.016,0.0656,3.75436%,15.1949%,0,1,Delegate/HardSwish (NC):1\n"
           "Sum (ND) Reduce,0.016,0.0148,0.847021%,18.3769%,0,1,Delegate/Sum (ND) Reduce:3\n")
    stdout = "Num threads: [2]\ncount=5 first=900 curr=800 min=790 max=900 avg=820 std=4\n" \
             "Inference timings in us: Init: 100, First inference: 1000, Warmup (avg): 1000, Inference (avg): 820\n"
    run = merge_csv_profile(parse_log(stdout, "out.txt"), csv, "prof.csv")
    assert run.threads == 2 and run.median_ms == pytest.approx(0.82)
    assert [(o.op_type, o.ms) for o in run.ops] == [("HardSwish (NC)", 0.0656), ("Sum (ND) Reduce", 0.0148)]
    with pytest.raises(DocscanError, match="prof2.csv: no op profiling tables"):
        merge_csv_profile(run, "hello\n", "prof2.csv")


def test_absl_prefix_all_same_stat_and_failure_after_warmup():
    log = ("I0101 10:00:00.000000  123 benchmark_tflite_model.cc:900] Num threads: [3]\n"
           "I0101 10:00:00.000000  123 benchmark_model.cc:200] Running benchmark for at least 1 iterations\n"
           "I0101 10:00:00.000000  123 benchmark_model.cc:200] count=1 curr=5000\n"
           "I0101 10:00:00.000000  123 benchmark_model.cc:200] Running benchmark for at least 50 iterations\n"
           "I0101 10:00:00.000000  123 benchmark_model.cc:200] count=50 curr=4000(all same)\n")
    run = parse_log(log)
    assert run.threads == 3 and run.median_ms == pytest.approx(4.0) and run.warmup == 1
    cut = "Running benchmark for at least 1 iterations and at least 0.5 seconds\ncount=1 curr=5000\n" \
          "Running benchmark for at least 50 iterations\n"
    with pytest.raises(DocscanError, match="phone.log: .*warm-up"):
        parse_log(cut, source="phone.log")


def test_no_timings_and_unreadable_files(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\nthis is not a benchmark log\n")
    with pytest.raises(DocscanError, match=r"notes\.txt: no benchmark timings"):
        parse_file(bad)
    with pytest.raises(DocscanError, match="missing.txt: no such file"):
        parse_file(tmp_path / "missing.txt")
    with pytest.raises(DocscanError, match="is a directory"):
        parse_file(tmp_path)


def test_parse_stat():
    assert parse_stat("count=50 first=1 curr=2 min=1 max=3 avg=2.95034e+06 std=7") == {
        "count": 50, "first": 1, "curr": 2, "min": 1, "max": 3, "avg": 2950340.0, "std": 7}


def test_cli_parse(fx, tmp_path):
    import json

    from click.testing import CliRunner

    from docscan.cli import main

    out = tmp_path / "parsed" / "docscan-bench.json"
    res = CliRunner().invoke(main, ["bench", "--parse", str(fx / "tflite-1.14-android-arm-op-profiling.txt"),
                                    "-o", str(out.parent), "--no-png"])
    assert res.exit_code == 0, res.output
    run = json.loads(out.read_text())["runs"][0]
    assert run["median_ms"] == pytest.approx(115.062) and len(run["ops"]) == 65
    bad = CliRunner().invoke(main, ["bench", "--parse", str(fx / "tflite-2.4.0-android-arm64-nnapi-delegate-failure.txt"),
                                    "-o", str(tmp_path / "bad"), "--no-png"])
    assert bad.exit_code == 2 and "Failed to apply NNAPI delegate" in bad.output
    assert not (tmp_path / "bad" / "docscan-bench.json").exists()


def test_fallbacks_top_table_and_type_summary_only():
    top_only = ("============================== Top by Computation Time ==============================\n"
                "\t[node type]\t[start]\t[first]\t[avg ms]\t[%]\t[cdf%]\t[mem KB]\t[times called]\t[Name]\n"
                # the official README's sample prints times called = 0: count it as one call
                "\t CONV_2D\t0.000\t4.269\t4.269\t80.0%\t80.0%\t0.000\t0\t[MobilenetV1/Conv2d_0/Relu6]\n"
                "\t ADD\t4.3\t1.0\t1.0\t20.0%\t100.0%\t0.000\t0\t[add]\n\n"
                "count=50 first=5300 curr=5269 min=5200 max=5400 avg=5269 std=20\n")
    run = parse_log(top_only, "top.txt")
    assert [(o.op_type, o.ms) for o in run.ops] == [("CONV_2D", 4.269), ("ADD", 1.0)]
    assert any("top 2 ops" in n for n in run.notes)
    types_only = ("============================== Summary by node type ==============================\n"
                  "\t[Node type]\t[count]\t[avg ms]\t[avg %]\t[cdf %]\t[mem KB]\t[times called]\n"
                  "\t MUL\t10\t232.0\t65.7%\t65.7%\t0.000\t10\n"
                  "\t CONV_2D\t5\t121.0\t34.3%\t100%\t0.000\t5\n")
    run = parse_log(types_only, "types.txt")
    assert [(o.op_type, o.count, o.ms) for o in run.ops] == [("MUL", 10, 232.0), ("CONV_2D", 5, 121.0)]
    assert run.median_ms == pytest.approx(353.0)          # per-type sum, said so in the notes
    assert "per-type summary only" in run.per_op_method
