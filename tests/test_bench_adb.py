"""Phones over adb, without a phone: a fake ``adb`` that behaves like adbd where it matters.

The fake (a Python script first on PATH) keeps a JSON state of attached devices. Its
``shell`` joins its arguments with spaces and hands the line to a real ``/bin/sh -c``, as
adbd does, inside a fake device root where ``/data/local/tmp`` lives; ``push``/``pull``
copy files verbatim (adb's sync protocol has no shell). The pushed
``android_bench/run_benchmark.sh`` really runs, and so does the pushed stand-in
``benchmark_model`` (a sh script that checks its ``--graph`` file exists and prints a real
TFLite 1.14 log). A quoting bug therefore breaks these tests: a file name with spaces
would not be found, and ``$(touch pwned)`` would create a file.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_dir

from docscan.bench import adb as adbmod
from docscan.bench.adb import abis_from_props, choose_abi, load_binaries, run_on_phone, run_on_phone_both_abis
from docscan.errors import DocscanError

FIXTURES = shared_dir() / "fixtures" / "benchmark_model"
LOG_114 = FIXTURES / "tflite-1.14-android-arm-op-profiling.txt"
FAILURE_LOG = FIXTURES / "tflite-2.4.0-android-arm64-nnapi-delegate-failure.txt"
EVIL = "it's a \"model\"; $(touch pwned) `touch pwned2` & echo hi >pwned3.tflite"

CONTROL = 'a "model"; $(touch pwned) `touch pwned2` & echo hi >pwned3.tflite'

FAKE_ADB = r'''#!PYTHON
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path

STATE = Path(os.environ["FAKE_ADB_STATE"])
state = json.loads(STATE.read_text())
with open(STATE.parent / "adb-calls.jsonl", "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\n")

def save():
    STATE.write_text(json.dumps(state))

def die(msg, code=1):
    sys.stderr.write(msg + "\n")
    sys.exit(code)

args = sys.argv[1:]
serial = None
if args[:1] == ["-s"]:
    serial, args = args[1], args[2:]
devs = [d for d in state["devices"] if d["state"] != "gone"]
if args[:1] == ["devices"]:
    print("List of devices attached")
    for d in devs:
        extra = f" usb:1-1 product:{d['product']} model:{d['model']} device:x transport_id:1" if "-l" in args else ""
        print(f"{d['serial']}\t{d['state']}{extra}" if not extra else f"{d['serial']}    {d['state']}{extra}")
    print()
    sys.exit(0)
if serial is None:
    if not devs:
        die("adb: no devices/emulators found")
    if len(devs) > 1:
        die("adb: more than one device/emulator")
    dev = devs[0]
else:
    dev = next((d for d in devs if d["serial"] == serial), None)
    if dev is None:
        die(f"adb: device '{serial}' not found")
if args[:1] == ["get-state"]:
    if dev["state"] != "device":
        die(f"adb: device {dev['state']}")
    print(dev["state"]); sys.exit(0)
if dev["state"] == "unauthorized":
    die("adb: device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is not set")
if dev["state"] != "device":
    die(f"adb: device {dev['state']}")

root = Path(dev["root"])
def on_device(p):
    return str(root) + p if p.startswith("/") else p

cmd, rest = args[0], args[1:]
if cmd == "shell":
    line = " ".join(rest)                      # exactly what adbd gets: one command line
    line = line.replace("/data/local/tmp", str(root) + "/data/local/tmp")
    env = dict(os.environ, PATH=str(root / "system" / "bin") + ":" + os.environ["PATH"])
    p = subprocess.Popen(["/bin/sh", "-c", line], cwd=root, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    if dev.get("disconnect_on") and dev["disconnect_on"] in line:
        started = root / "started"
        for _ in range(200):
            if started.exists() or p.poll() is not None:
                break
            time.sleep(0.05)
        os.killpg(p.pid, signal.SIGKILL)      # the cable is pulled: the session dies
        p.wait()
        dev["state"] = "gone"; save()
        sys.exit(255)
    out, err = p.communicate()
    sys.stdout.write(out.replace(str(root), ""))
    sys.stderr.write(err.replace(str(root), ""))
    sys.exit(p.returncode)
if cmd == "push":
    local, remote = rest
    if not os.path.isfile(local):
        die(f"adb: error: cannot stat '{local}': No such file or directory")
    dst = Path(on_device(remote))
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(local, dst)
    print(f"{local}: 1 file pushed, 0 skipped.")
    sys.exit(0)
if cmd == "pull":
    remote, local = rest
    src = Path(on_device(remote))
    if not src.is_file():
        die(f"adb: error: failed to stat remote object '{remote}': No such file or directory")
    shutil.copy(src, local)
    sys.exit(0)
die(f"fake adb: unsupported command {args}")
'''

GETPROP = """#!/bin/sh
if [ $# -eq 0 ]; then cat "PROPS"; else sed -n "s/^\\[$1\\]: \\[\\(.*\\)\\]$/\\1/p" "PROPS"; fi
"""

# Stand-in benchmark_model: records its argv, checks the model is where --graph says, then
# prints the real 1.14 log's measurements (or a real failure log, or hangs for the disconnect).
BENCH = """#!/bin/sh
graph=; threads=
for a in "$@"; do
  case "$a" in
    --graph=*) graph=${a#--graph=} ;;
    --num_threads=*) threads=${a#--num_threads=} ;;
  esac
done
for a in "$@"; do printf '%s\\n' "$a"; done > "ARGV"
if [ ! -f "$graph" ]; then
  echo "ERROR: Could not open '$graph'."
  echo "Failed to mmap model $graph"
  exit 1
fi
MODE
echo "STARTING!"
echo "Num threads: [$threads]"
echo "Graph: [$graph]"
echo "Enable op profiling: [1]"
echo "Loaded model $graph"
cat "BODY"
"""


class FakePhone:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.state = tmp / "adb-state.json"
        self.devices: list[dict] = []
        fake = self.bin / "adb"
        fake.write_text(FAKE_ADB.replace("PYTHON", sys.executable))
        fake.chmod(0o755)
        body = tmp / "body.txt"
        lines = LOG_114.read_text().splitlines(keepends=True)
        start = next(i for i, s in enumerate(lines) if s.startswith("Loaded model"))
        body.write_text("".join(lines[start + 1:]))
        self.body = body
        self.argv = tmp / "argv.txt"
        self.save()

    def add(self, serial="PHONE1", state="device", abilist="arm64-v8a,armeabi-v7a,armeabi",
            abilist32="armeabi-v7a,armeabi", abilist64="arm64-v8a", model="Pixel 5", **extra) -> Path:
        root = self.tmp / f"device-{serial}"
        (root / "data" / "local" / "tmp").mkdir(parents=True)
        (root / "system" / "bin").mkdir(parents=True)
        props = {"ro.product.cpu.abilist": abilist, "ro.product.cpu.abilist32": abilist32,
                 "ro.product.cpu.abilist64": abilist64, "ro.product.model": model,
                 "ro.product.manufacturer": "Google", "ro.build.version.release": "13",
                 "ro.soc.model": "SM7250"}
        (root / "props.txt").write_text("".join(f"[{k}]: [{v}]\n" for k, v in props.items()))
        gp = root / "system" / "bin" / "getprop"
        gp.write_text(GETPROP.replace("PROPS", str(root / "props.txt")))
        gp.chmod(0o755)
        self.devices.append({"serial": serial, "state": state, "product": "redfin", "model": model.replace(" ", "_"),
                             "root": str(root), **extra})
        self.save()
        return root

    def save(self):
        self.state.write_text(json.dumps({"devices": self.devices}))

    def benchmark_binary(self, name="benchmark_model", mode="") -> Path:
        path = self.tmp / name
        path.write_text(BENCH.replace("ARGV", str(self.argv)).replace("BODY", str(self.body)).replace("MODE", mode))
        path.chmod(0o755)
        return path

    def calls(self) -> list[list[str]]:
        f = self.tmp / "adb-calls.jsonl"
        return [json.loads(s) for s in f.read_text().splitlines()] if f.exists() else []

    def adb(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / "adb"), *args], capture_output=True, text=True,
                              env=dict(os.environ, FAKE_ADB_STATE=str(self.state)))


@pytest.fixture
def phone(tmp_path, monkeypatch):
    if not LOG_114.is_file():
        pytest.skip(f"benchmark_model fixtures not found at {FIXTURES} (set DOCSCAN_SHARED)")
    fp = FakePhone(tmp_path)
    monkeypatch.setenv("PATH", f"{fp.bin}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_STATE", str(fp.state))
    monkeypatch.setenv("DOCSCAN_ANDROID_CONFIG", str(tmp_path / "no-config.toml"))
    return fp


@pytest.fixture
def model(tmp_path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    p = d / "hed mobilenet v2.tflite"
    p.write_bytes(b"TFL3 not a real model: the stand-in binary only checks it exists")
    return p


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "data" / "local" / "tmp").iterdir())


def pwned(tmp: Path) -> list[Path]:
    return [p for p in tmp.rglob("pwned*") if p.is_file()]


# ---------------------------------------------------------------- happy path and quoting

def test_run_on_phone_parses_the_log_and_cleans_up(phone, model):
    root = phone.add()
    binary = phone.benchmark_binary()
    run = run_on_phone(model, "PHONE1", {"arm64-v8a": binary}, threads=4, runs=20, warmup=2)
    assert run.device == "adb:PHONE1" and run.device_kind == "phone"
    assert run.abi == "arm64-v8a" and run.isa == "aarch64"
    assert run.model == "hed mobilenet v2.tflite" and run.threads == 4
    assert run.machine == "Google Pixel 5, SM7250, Android 13"
    assert run.median_ms == pytest.approx(115.062)          # from the real log the stand-in printed
    assert len(run.ops) == 65 and run.by_op_type()[0].op_type == "CONV_2D"
    assert run.extra["flags"]["graph"].endswith("/hed mobilenet v2.tflite")
    argv = phone.argv.read_text().splitlines()
    assert argv[0].startswith(f"--graph={root}/data/local/tmp/docscan-")
    assert argv[0].endswith("/hed mobilenet v2.tflite")
    assert argv[1:] == ["--num_threads=4", "--num_runs=20", "--warmup_runs=2", "--enable_op_profiling=true"]
    assert leftovers(root) == []                              # remote dir removed
    assert any(c[2:3] == ["shell"] and c[3].startswith("rm -rf /data/local/tmp/docscan-") for c in phone.calls())


def test_hostile_file_name_is_data_not_code(phone, tmp_path):
    root = phone.add()
    evil = tmp_path / "models" / EVIL
    evil.parent.mkdir()
    evil.write_bytes(b"x")
    binary = phone.benchmark_binary(name="bench mark 'model'")
    run = run_on_phone(evil, None, {"arm64-v8a": binary}, threads=2, use_xnnpack=False, cpu_mask="1")
    assert run.model == EVIL
    argv = phone.argv.read_text().splitlines()
    assert argv[0].endswith("/" + EVIL)                       # arrived as one intact argument
    assert argv[-1] == "--use_xnnpack=false"
    assert pwned(tmp_path) == [] and not (Path.cwd() / "pwned").exists()
    assert leftovers(root) == []
    assert "pinned with taskset 1" in run.notes


def test_the_fake_adb_really_runs_a_shell(phone, tmp_path):
    """Negative control: the same words joined WITHOUT shlex.quote do execute `$(touch pwned)`,
    so the quoting test above can fail."""
    root = phone.add()
    # (EVIL's lone apostrophe would make the unquoted line a syntax error, not an injection)
    words = ["touch", f"/data/local/tmp/{CONTROL}"]
    res = phone.adb("-s", "PHONE1", "shell", " ".join(words))
    assert res.returncode == 0
    assert pwned(tmp_path)
    for p in pwned(tmp_path):
        p.unlink()
    res = phone.adb("-s", "PHONE1", "shell", " ".join(shlex.quote(w) for w in words))
    assert res.returncode == 0 and pwned(tmp_path) == []
    assert (root / "data" / "local" / "tmp" / CONTROL).is_file()


def test_runner_script_standalone(tmp_path):
    """android_bench/run_benchmark.sh on its own: log written, markers, exit status passed on."""
    bench = tmp_path / "bm"
    bench.write_text("#!/bin/sh\necho \"args: $#\"; for a in \"$@\"; do echo \"[$a]\"; done; exit 3\n")
    log = tmp_path / "log file.txt"
    res = subprocess.run(["/bin/sh", str(adbmod.RUNNER), str(bench), str(log), "--graph=a b", "$(x)"],
                         capture_output=True, text=True)
    assert res.returncode == 3
    assert res.stdout.splitlines() == ["DOCSCAN_LOG_BEGIN", "args: 2", "[--graph=a b]", "[$(x)]",
                                       "DOCSCAN_LOG_END", "DOCSCAN_EXIT=3"]
    assert log.read_text() == "args: 2\n[--graph=a b]\n[$(x)]\n"


# ---------------------------------------------------------------- faults

def test_no_adb(tmp_path, monkeypatch, model):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(DocscanError, match="adb not found; install Debian's 'adb' package"):
        run_on_phone(model, None, {})


def test_no_device(phone, model):
    with pytest.raises(DocscanError, match="no device connected"):
        run_on_phone(model, None, {})


def test_unknown_serial_and_several_devices(phone, model):
    phone.add("A1")
    phone.add("B2")
    with pytest.raises(DocscanError, match="several devices connected \\(A1, B2\\)"):
        run_on_phone(model, None, {})
    with pytest.raises(DocscanError, match="adb:C3: no such device"):
        run_on_phone(model, "C3", {})


@pytest.mark.parametrize("state, advice", [("unauthorized", "accept the 'Allow USB debugging' prompt"),
                                           ("offline", "reconnect the cable")])
def test_unauthorized_and_offline(phone, model, state, advice):
    phone.add("P9", state=state)
    with pytest.raises(DocscanError, match=f"adb:P9: device {state}; .*{advice}"):
        run_on_phone(model, "P9", {})


def test_x86_emulator_is_refused(phone, model):
    # Google's x86_64 images list ARM ABIs too (binary translation): still refused.
    phone.add("emulator-5554", abilist="x86_64,x86,arm64-v8a,armeabi-v7a", abilist32="x86,armeabi-v7a",
              abilist64="x86_64,arm64-v8a")
    with pytest.raises(DocscanError, match="adb:emulator-5554: unsupported ABI x86_64 \\(an x86 Android emulator"):
        run_on_phone(model, "emulator-5554", {"arm64-v8a": phone.benchmark_binary()})


def test_missing_binary_for_abi(phone, model, tmp_path):
    phone.add()
    with pytest.raises(DocscanError, match="no benchmark_model binary for arm64-v8a: pass --benchmark-binary "
                                           "arm64-v8a=PATH or set android_aarch64"):
        run_on_phone(model, "PHONE1", {"armeabi-v7a": phone.benchmark_binary()})
    with pytest.raises(DocscanError, match="nope: benchmark_model binary for armeabi-v7a not found"):
        run_on_phone(model, "PHONE1", {"armeabi-v7a": tmp_path / "nope"}, abi="armeabi-v7a")


def test_64bit_only_phone_cannot_run_32bit(phone, model):
    phone.add("P64", abilist="arm64-v8a", abilist32="", abilist64="arm64-v8a")
    with pytest.raises(DocscanError, match="cannot run 32-bit \\(armeabi-v7a\\)"):
        run_on_phone(model, "P64", {"armeabi-v7a": phone.benchmark_binary()}, abi="armeabi-v7a")
    with pytest.raises(DocscanError, match="cannot compare 32- and 64-bit.*armeabi-v7a"):
        run_on_phone_both_abis(model, "P64", {"armeabi-v7a": phone.benchmark_binary()})


def test_disconnect_mid_run(phone, model):
    root = phone.add(disconnect_on="run_benchmark.sh")
    binary = phone.benchmark_binary(mode=f'touch "{root}/started"; sleep 30')
    with pytest.raises(DocscanError, match="adb:PHONE1: device disconnected during the benchmark run; no result saved"):
        run_on_phone(model, "PHONE1", {"arm64-v8a": binary})


def test_failure_on_phone_cleans_up(phone, model):
    root = phone.add()
    binary = phone.benchmark_binary(mode=f'cat "{FAILURE_LOG}"; exit 1')
    with pytest.raises(DocscanError, match="benchmark_model \\(arm64-v8a\\) failed with exit status 1: "
                                           ".*Failed to apply NNAPI delegate"):
        run_on_phone(model, "PHONE1", {"arm64-v8a": binary})
    assert leftovers(root) == []


def test_model_missing_on_device_side_fails_cleanly(phone, model, monkeypatch):
    # a binary that cannot find the graph (what a quoting bug would cause) is a failure, not a result
    root = phone.add()
    orig = adbmod.benchmark_flags
    monkeypatch.setattr(adbmod, "benchmark_flags", lambda m, *a, **k: orig(m + ".missing", *a, **k))
    with pytest.raises(DocscanError, match="exit status 1: .*Failed to mmap model"):
        run_on_phone(model, "PHONE1", {"arm64-v8a": phone.benchmark_binary()})
    assert leftovers(root) == []


def test_both_abis_on_one_phone(phone, model, tmp_path):
    root = phone.add()
    b32, b64 = phone.benchmark_binary("bm32"), phone.benchmark_binary("bm64")
    runs = run_on_phone_both_abis(model, "PHONE1", {"armeabi-v7a": b32, "arm64-v8a": b64}, threads=1)
    assert [(r.abi, r.isa) for r in runs] == [("armeabi-v7a", "armv7"), ("arm64-v8a", "aarch64")]
    assert [r.extra["binary"] for r in runs] == [str(b32), str(b64)]
    assert leftovers(root) == []


def test_save_log(phone, model, tmp_path):
    phone.add()
    out = tmp_path / "out" / "phone.log"
    run_on_phone(model, "PHONE1", {"arm64-v8a": phone.benchmark_binary()}, save_log=out)
    assert "Number of nodes executed: 65" in out.read_text()


# ---------------------------------------------------------------- config and ABIs

def test_load_binaries_toml_json_and_overrides(tmp_path, monkeypatch):
    cfg = tmp_path / "android.toml"
    cfg.write_text('[benchmark_model]\nandroid_arm = "arm/benchmark_model"\n'
                   'android_aarch64 = "/opt/tflite/aarch64 bm"\n')
    assert load_binaries(cfg) == {"armeabi-v7a": tmp_path / "arm" / "benchmark_model",
                                  "arm64-v8a": Path("/opt/tflite/aarch64 bm")}
    js = tmp_path / "android.json"
    js.write_text(json.dumps({"android_arm": "/a", "other_setting": 3}))
    got = load_binaries(js, overrides=["arm64-v8a=/b=c"])
    assert got == {"armeabi-v7a": Path("/a"), "arm64-v8a": Path("/b=c")}
    # the default config is read from $DOCSCAN_ANDROID_CONFIG and may be absent
    monkeypatch.setenv("DOCSCAN_ANDROID_CONFIG", str(cfg))
    assert load_binaries()["armeabi-v7a"] == tmp_path / "arm" / "benchmark_model"
    monkeypatch.setenv("DOCSCAN_ANDROID_CONFIG", str(tmp_path / "absent.toml"))
    assert load_binaries(overrides={"android_arm64": "/x"}) == {"arm64-v8a": Path("/x")}
    with pytest.raises(DocscanError, match="absent2.toml: android config not found"):
        load_binaries(tmp_path / "absent2.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("android_arm = [unclosed\n")
    with pytest.raises(DocscanError, match="bad.toml: malformed android config"):
        load_binaries(bad)
    with pytest.raises(DocscanError, match="expected ABI=PATH"):
        load_binaries(overrides=["arm64-v8a"])
    with pytest.raises(DocscanError, match="unknown ABI 'x86'"):
        load_binaries(overrides=["x86=/bin/true"])


def test_choose_abi():
    pixel = abis_from_props({"ro.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi",
                             "ro.product.cpu.abilist32": "armeabi-v7a,armeabi",
                             "ro.product.cpu.abilist64": "arm64-v8a"})
    assert choose_abi(pixel, "s") == "arm64-v8a" and pixel.runs_32bit
    assert choose_abi(pixel, "s", "android_arm") == "armeabi-v7a"
    old = abis_from_props({"ro.product.cpu.abi": "armeabi-v7a"})
    assert choose_abi(old, "s") == "armeabi-v7a"
    with pytest.raises(DocscanError, match="reports no CPU ABI"):
        choose_abi(abis_from_props({}), "s")
    with pytest.raises(DocscanError, match="unsupported ABI x86"):
        choose_abi(abis_from_props({"ro.product.cpu.abilist": "x86"}), "s")


# ---------------------------------------------------------------- through the CLI

def test_cli_phone_32_vs_64_side_by_side(phone, model, tmp_path):
    from click.testing import CliRunner

    from docscan.bench.schema import load_report
    from docscan.cli import main

    root = phone.add()
    b32, b64 = phone.benchmark_binary("bm32"), phone.benchmark_binary("bm64")
    # check_models wants a TFL3 flatbuffer header; the stand-in binary never reads the model.
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    out = tmp_path / "phone" / "docscan-bench.json"
    result = CliRunner().invoke(main, [
        "bench", str(model), "-d", "adb:PHONE1/armeabi-v7a", "-d", "adb:PHONE1/arm64-v8a",
        "--benchmark-binary", f"armeabi-v7a={b32}", "--benchmark-binary", f"arm64-v8a={b64}",
        "--runs", "5", "-q", "-o", str(out.parent), "--no-png"])
    assert result.exit_code == 0, result.output
    runs = load_report(out).runs
    assert [(r.device, r.abi) for r in runs] == [("adb:PHONE1/armeabi-v7a", "armeabi-v7a"),
                                                  ("adb:PHONE1/arm64-v8a", "arm64-v8a")]
    assert [r.extra["binary"] for r in runs] == [str(b32), str(b64)]
    assert leftovers(root) == []


def test_cli_phone_unknown_abi_is_one_line_error(phone, model):
    from click.testing import CliRunner

    from docscan.cli import main

    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 64)
    result = CliRunner().invoke(main, ["bench", str(model), "-d", "adb:PHONE1/x86", "-q"])
    assert result.exit_code == 2
    assert "unknown ABI 'x86'" in result.output and "Traceback" not in result.output
