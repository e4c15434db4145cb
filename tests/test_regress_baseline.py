"""Baseline files: round trip, and every way a baseline can not fit is a clear error (no timing)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from regress_helpers import demo_models  # noqa: F401  (fixture)

from docscan.cli import main
from docscan.errors import DocscanError
from docscan.regress import baseline as bl
from docscan.regress.gate import check, decide_walltime, op_diff, wall_threshold


def _entry(device="host", mode="instructions", threads=1, value=1000):
    setup = bl.Setup(device=device, mode=mode, runtime="ai-edge-litert 2.3.0", threads=threads, machine="m")
    return bl.Entry(setup, {"unit": "instructions", "per_inference": value, "repeats": [value]})


def test_round_trip_and_update_keeps_other_devices(tmp_path, demo_models):
    path = tmp_path / "b.json"
    mid = bl.ModelId.of(demo_models["base"])
    assert mid.ops == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "CONV_2D", "CONV_2D"]
    bl.update(path, mid, _entry("host"))
    bl.update(path, mid, _entry("emu:armv7"))
    base = bl.load(path)
    assert base.schema == bl.SCHEMA == json.loads(path.read_text())["schema"]
    assert sorted(base.entries) == ["emu:armv7|instructions", "host|instructions"]
    assert base.entry("host", "instructions").stats["per_inference"] == 1000
    assert not list(tmp_path.glob(".*tmp")), "atomic write left a temp file"
    # another model: its entries replace the old model's, with a note saying so
    _, notes = bl.update(path, bl.ModelId.of(demo_models["bn_unfolded"]), _entry("host"))
    assert "dropped 2 old entries" in notes[0]
    assert list(bl.load(path).entries) == ["host|instructions"]


@pytest.mark.parametrize("content, expect", [
    ("{not json", "corrupt baseline (not JSON"),
    (json.dumps({"schema": "docscan.baseline/0", "model": {}, "entries": {}}), "baseline schema 'docscan.baseline/0'"),
    (json.dumps({"schema": bl.SCHEMA, "model": {"file": "x"}, "entries": {}}), "corrupt baseline"),
    (json.dumps({"schema": bl.SCHEMA, "model": {"file": "x", "sha256": "0", "ops": []},
                 "entries": {"host|walltime": {"setup": {"device": "emu:armv7", "mode": "walltime", "runtime": "r"},
                                               "stats": {}}}}), "entry 'host|walltime' is inconsistent"),
    (json.dumps({"runs": []}), "not a docscan baseline"),
])
def test_bad_baselines_say_what_and_how_to_refresh(tmp_path, content, expect):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(DocscanError) as err:
        bl.load(path)
    assert expect in str(err.value) and "--update-baseline" in str(err.value) and str(path) in str(err.value)


def test_missing_baseline_and_missing_device_entry(tmp_path, demo_models):
    with pytest.raises(DocscanError, match="no such baseline; create it with --update-baseline"):
        bl.load(tmp_path / "nope.json")
    path = tmp_path / "b.json"
    bl.update(path, bl.ModelId.of(demo_models["base"]), _entry("host"))
    with pytest.raises(DocscanError, match=r"no walltime baseline for device emu:aarch64 \(it has: host"):
        bl.load(path).entry("emu:aarch64", "walltime", str(path))


def test_other_model_is_refused_naming_the_op_change(tmp_path, demo_models):
    path = tmp_path / "b.json"
    bl.update(path, bl.ModelId.of(demo_models["base"]), _entry("host"))
    with pytest.raises(DocscanError) as err:
        check(demo_models["bn_unfolded"], path, "host", deterministic=True)
    msg = str(err.value)
    assert "made for another model" in msg and "+1 ADD, +1 MUL (5 -> 7 ops)" in msg
    assert "--update-baseline" in msg and "--allow-op-change" in msg
    # same op list, other weights: compares, with a note (tested without measuring)
    notes = bl.check_model(bl.load(path), bl.ModelId.of(demo_models["bigger_kernel"]))
    assert "same op list" in notes[0]


def test_other_setup_is_refused(tmp_path):
    entry = _entry(threads=1)
    with pytest.raises(DocscanError, match="measured differently.*threads 1 vs 4"):
        bl.check_setup(entry, bl.Setup("host", "instructions", "ai-edge-litert 2.3.0", threads=4), "b.json")
    with pytest.raises(DocscanError, match="runtime 'ai-edge-litert 2.3.0' vs 'tflite-runtime 2.14.0'"):
        bl.check_setup(entry, bl.Setup("host", "instructions", "tflite-runtime 2.14.0"), "b.json")
    notes = bl.check_setup(entry, bl.Setup("host", "instructions", "ai-edge-litert 2.3.0", machine="other"))
    assert "baseline machine 'm'" in notes[0]


def test_corrupt_model_is_a_clear_error(tmp_path, demo_models):
    bad = tmp_path / "bad.tflite"
    data = demo_models["base"].read_bytes()
    bad.write_bytes(data[:8] + b"\xff" * 64)
    with pytest.raises(DocscanError, match="bad.tflite: corrupt or truncated TFLite model"):
        bl.ModelId.of(bad)


def test_wall_threshold_adapts_to_spread():
    quiet = {"norm": 1.0, "norm_rel_se": 0.002, "median_ms": 1.0, "min_ms": 0.9}
    noisy = {"norm": 1.08, "norm_rel_se": 0.03, "median_ms": 1.08, "min_ms": 0.95}
    assert wall_threshold(quiet, quiet, 0.05) == 0.05           # floor
    assert wall_threshold(quiet, noisy, 0.05) > 0.10            # noisy machine: a bigger change needed
    assert decide_walltime(quiet, {**quiet, "norm": 1.08}, 0.05)["over"]
    assert not decide_walltime(quiet, noisy, 0.05)["over"]      # +8 % inside the noise: no alarm


def test_op_diff_marks_added_slower_faster():
    base = [{"key": "0:CONV_2D", "op_type": "CONV_2D", "value": 10.0}, {"key": "1:ADD", "op_type": "ADD", "value": 1.0}]
    new = [{"key": "0:CONV_2D", "op_type": "CONV_2D", "value": 12.0}, {"key": "1:ADD", "op_type": "ADD", "value": 0.5},
           {"key": "2:MUL", "op_type": "MUL", "value": 3.0}]
    rows = {r["key"]: r for r in op_diff(base, new)}
    assert rows["0:CONV_2D"]["change"] == "slower" and rows["0:CONV_2D"]["pct"] == pytest.approx(20.0)
    assert rows["1:ADD"]["change"] == "faster" and rows["2:MUL"]["change"] == "added"
    assert [r["key"] for r in op_diff(base, new)][0] == "2:MUL"   # largest change first


def test_cli_bad_input_is_one_line_exit_2(tmp_path, demo_models):
    path = tmp_path / "b.json"
    path.write_text('{"schema": "docscan.baseline/9"}')
    before = path.read_text()
    r = CliRunner().invoke(main, ["bench", str(demo_models["base"]), "--baseline", str(path), "--check",
                                  "--deterministic"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "docscan.baseline/9" in r.output
    assert path.read_text() == before
    r = CliRunner().invoke(main, ["bench", str(demo_models["base"]), "--check"])
    assert r.exit_code == 2 and "need --baseline FILE" in r.output
    r = CliRunner().invoke(main, ["bench", str(demo_models["base"]), "--baseline", str(path)])
    assert r.exit_code == 2 and "exactly one of --check or --update-baseline" in r.output
    r = CliRunner().invoke(main, ["bench", str(demo_models["base"]), str(demo_models["wider"]),
                                  "--baseline", str(path), "--check"])
    assert r.exit_code == 2 and "exactly one MODEL" in r.output
    shutil.copy(demo_models["base"], tmp_path / "m.tflite")
    good = tmp_path / "good.json"
    bl.update(good, bl.ModelId.of(demo_models["base"]), _entry("adb:X"))
    r = CliRunner().invoke(main, ["bench", str(tmp_path / "m.tflite"), "--baseline", str(good), "--check",
                                  "-d", "adb:X", "--deterministic"])
    assert r.exit_code == 2 and "deterministic mode runs on host, emu:armv7 and emu:aarch64 only" in r.output


def test_walltime_gate_runs_end_to_end(tmp_path, demo_models):
    """The wall-time path for real (tiny): interleaved rounds, yardstick, per-op diff, PNG.
    Whether it passes is timing, so only the verdict's shape is asserted here; the
    false-alarm rate is measured by benchmarks/regress_false_alarms.py."""
    from docscan.regress.gate import update
    from docscan.regress.verdict import write_png
    from docscan.regress.yardstick import SIZES

    path = tmp_path / "w.json"
    entry, _ = update(demo_models["base"], path, "host", rounds=3, runs=2, warmup=1)
    assert entry.stats["yardstick_size"] in SIZES and entry.stats["rounds"] == 6 and entry.stats["n"] == 12
    assert {o["op_type"] for o in entry.ops} == {"CONV_2D", "DEPTHWISE_CONV_2D"}
    v = check(demo_models["base"], path, "host", rounds=3, runs=2, warmup=1)
    assert v.mode == "walltime" and v.threshold >= 0.05 and len(v.attempts) in (1, 2)
    assert {r["key"] for r in v.op_diff} == {o["key"] for o in entry.ops}
    assert write_png(v, tmp_path / "v.png").stat().st_size > 5_000
    data = json.loads(path.read_text())
    data["entries"]["host|walltime"]["stats"]["yardstick_sha256"] = "0" * 16
    path.write_text(json.dumps(data))
    with pytest.raises(DocscanError, match="another yardstick"):
        check(demo_models["base"], path, "host", rounds=3, runs=2, warmup=1)


def test_update_never_overwrites_a_file_that_is_not_a_baseline(tmp_path, demo_models):
    model_copy = tmp_path / "model.tflite"
    model_copy.write_bytes(demo_models["base"].read_bytes())
    with pytest.raises(DocscanError, match="is not a docscan baseline; refusing to overwrite"):
        bl.update(model_copy, bl.ModelId.of(demo_models["base"]), _entry("host"))
    assert model_copy.read_bytes() == demo_models["base"].read_bytes()
