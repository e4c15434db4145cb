"""Benchmark a .tflite model on an Android phone over adb with the official ``benchmark_model``.

Flow: find ``adb`` -> pick the device (``adb devices -l``) -> read its ABIs (``getprop``) ->
choose the user's ``benchmark_model`` build for that ABI -> push model, binary and
``android_bench/run_benchmark.sh`` to a fresh ``/data/local/tmp/docscan-XXXX`` -> run with
``--enable_op_profiling=true`` -> parse the log -> remove the directory (also on failure).

``adb shell`` joins its arguments with spaces into ONE remote ``sh -c`` command line, so
every word we send is ``shlex.quote``-d: a model called ``it's $(rm -rf x).tflite`` is a
file name, never a command. ``adb push`` / ``adb pull`` paths go through adb's sync
protocol, not a shell, so they are passed verbatim.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from docscan.bench.benchmark_model import parse_log, parse_text
from docscan.bench.schema import ModelRun
from docscan.errors import DocscanError
from docscan.paths import ANDROID_BENCH_DIR
from docscan.progress import Progress, silent

ABIS = ("armeabi-v7a", "arm64-v8a")
ISA_OF_ABI = {"armeabi-v7a": "armv7", "arm64-v8a": "aarch64"}
# Config keys (TFLite's bazel config names) and aliases -> Android ABI.
ABI_KEYS = {
    "android_arm": "armeabi-v7a", "armeabi-v7a": "armeabi-v7a", "armv7": "armeabi-v7a", "arm": "armeabi-v7a",
    "android_aarch64": "arm64-v8a", "android_arm64": "arm64-v8a", "arm64-v8a": "arm64-v8a",
    "aarch64": "arm64-v8a", "arm64": "arm64-v8a",
}
CONFIG_KEY_OF_ABI = {"armeabi-v7a": "android_arm", "arm64-v8a": "android_aarch64"}
REMOTE_BASE = "/data/local/tmp"
RUNNER = ANDROID_BENCH_DIR / "run_benchmark.sh"
EXIT_MARK = "DOCSCAN_EXIT="


# ---------------------------------------------------------------- binaries config

def default_config_path() -> Path:
    if os.environ.get("DOCSCAN_ANDROID_CONFIG"):
        return Path(os.environ["DOCSCAN_ANDROID_CONFIG"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "docscan" / "android.toml"


def _abi_of_key(key: str, where: str) -> str:
    abi = ABI_KEYS.get(key.strip().lower())
    if abi is None:
        raise DocscanError(f"{where}: unknown ABI {key!r} (use armeabi-v7a / android_arm or "
                           "arm64-v8a / android_aarch64)")
    return abi


def load_binaries(config_path: str | Path | None = None,
                  overrides: Iterable[str] | Mapping[str, str | Path] | None = None) -> dict[str, Path]:
    """ABI -> benchmark_model path, from a TOML/JSON config and ``--benchmark-binary ABI=PATH``.

    The config (default ``~/.config/docscan/android.toml``, or ``$DOCSCAN_ANDROID_CONFIG``) holds
    ``android_arm = "..."`` and ``android_aarch64 = "..."``, at top level or in a
    ``[benchmark_model]`` table; relative paths are relative to the config file. A missing
    default config is fine (empty); a missing named config is an error. Overrides win.
    """
    binaries: dict[str, Path] = {}
    explicit = config_path is not None
    path = Path(config_path).expanduser() if explicit else default_config_path()
    if path.is_file():
        try:
            raw = path.read_bytes()
            data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise DocscanError(f"{path}: cannot read android config ({exc})") from None
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise DocscanError(f"{path}: malformed android config ({exc})") from None
        if not isinstance(data, dict):
            raise DocscanError(f"{path}: android config must be a table of android_arm / android_aarch64 paths")
        table = data.get("benchmark_model", data)
        if not isinstance(table, dict):
            raise DocscanError(f"{path}: [benchmark_model] must be a table")
        for key, value in table.items():
            if key.lower() not in ABI_KEYS:
                continue  # other settings may share the file
            if not isinstance(value, str) or not value:
                raise DocscanError(f"{path}: {key} must be a path string")
            p = Path(value).expanduser()
            binaries[ABI_KEYS[key.lower()]] = p if p.is_absolute() else (path.parent / p)
    elif explicit:
        raise DocscanError(f"{path}: android config not found")

    binaries.update(override_map(overrides or ()))
    return binaries


def override_map(overrides: Iterable[str] | Mapping[str, str | Path]) -> dict[str, Path]:
    """``["arm64-v8a=PATH", ...]`` (the repeated ``--benchmark-binary`` flag) or a mapping -> ABI -> path."""
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = []
        for item in overrides:
            if "=" not in str(item):
                raise DocscanError(f"benchmark_model binary {item!r}: expected ABI=PATH "
                                   "(e.g. arm64-v8a=./benchmark_model)")
            items.append(tuple(str(item).split("=", 1)))
    out = {}
    for key, value in items:
        if not str(value):
            raise DocscanError(f"benchmark_model binary for {key}: empty path")
        out[_abi_of_key(str(key), "benchmark_model binary")] = Path(value).expanduser()
    return out


def binary_for_abi(binaries: Mapping[str, Path], abi: str) -> Path:
    path = binaries.get(abi)
    if path is None:
        raise DocscanError(
            f"no benchmark_model binary for {abi}: pass --benchmark-binary {abi}=PATH or set "
            f"{CONFIG_KEY_OF_ABI.get(abi, abi)} in {default_config_path()} (see android_bench/README.md)")
    path = Path(path)
    if not path.is_file():
        raise DocscanError(f"{path}: benchmark_model binary for {abi} not found "
                           f"(--benchmark-binary {abi}=PATH or {CONFIG_KEY_OF_ABI.get(abi, abi)} in the config)")
    return path


# ---------------------------------------------------------------- adb plumbing

def find_adb(adb: str = "adb") -> str:
    found = shutil.which(adb)
    if found is None:
        raise DocscanError(f"{adb}: adb not found; install Debian's 'adb' package (apt-get install adb) "
                           "or pass the path to adb")
    return found


def _run(cmd: list[str], timeout: float, what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DocscanError(f"{what}: adb did not answer within {timeout:.0f} s") from None
    except OSError as exc:
        raise DocscanError(f"{cmd[0]}: cannot run adb ({exc.strerror})") from None


@dataclass
class Device:
    serial: str
    state: str
    info: dict = field(default_factory=dict)   # usb:, product:, model:, device:, transport_id:


def list_devices(adb: str) -> list[Device]:
    res = _run([adb, "devices", "-l"], 60, "adb devices")
    if res.returncode != 0:
        raise DocscanError(f"adb devices: failed ({(res.stderr or res.stdout).strip().splitlines()[-1:]})")
    devices = []
    for line in res.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith(("List of devices", "*", "adb server")):
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        info = dict(p.split(":", 1) for p in parts[2:] if ":" in p)
        devices.append(Device(parts[0], parts[1], info))
    return devices


_STATE_ADVICE = {
    "unauthorized": "unlock the phone and accept the 'Allow USB debugging' prompt (RSA key), then retry",
    "offline": "reconnect the cable, or run 'adb kill-server' and retry",
    "no permissions": "this user may not open the USB device: add a udev rule for it (plugdev group)",
    "authorizing": "accept the USB debugging prompt on the phone, then retry",
}


def select_device(adb: str, serial: str | None = None) -> Device:
    devices = list_devices(adb)
    if not devices:
        raise DocscanError("adb: no device connected ('adb devices -l' lists none); plug the phone in "
                           "and enable USB debugging")
    if serial is None:
        if len(devices) > 1:
            names = ", ".join(d.serial for d in devices)
            raise DocscanError(f"adb: several devices connected ({names}); name one as adb:SERIAL")
        dev = devices[0]
    else:
        dev = next((d for d in devices if d.serial == serial), None)
        if dev is None:
            names = ", ".join(f"{d.serial} ({d.state})" for d in devices)
            raise DocscanError(f"adb:{serial}: no such device (connected: {names})")
    if dev.state != "device":
        advice = _STATE_ADVICE.get(dev.state, "it must be in state 'device'")
        raise DocscanError(f"adb:{dev.serial}: device {dev.state}; {advice}")
    return dev


class Adb:
    """One device: every call names it with ``-s SERIAL``."""

    def __init__(self, adb: str, serial: str):
        self.adb, self.serial = adb, serial

    def _cmd(self, *args: str) -> list[str]:
        return [self.adb, "-s", self.serial, *args]

    def shell(self, words: Iterable[str] | str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a remote command: ``words`` are quoted one by one (a str is sent as is: callers
        that build a compound command quote each word themselves)."""
        command = words if isinstance(words, str) else " ".join(shlex.quote(str(w)) for w in words)
        return _run(self._cmd("shell", command), timeout, f"adb:{self.serial}")

    def shell_ok(self, words, timeout: float = 120, what: str = "adb shell") -> str:
        res = self.shell(words, timeout)
        if res.returncode != 0:
            raise self.failure(what, res)
        return res.stdout

    def push(self, local: Path, remote: str, timeout: float = 600) -> None:
        res = _run(self._cmd("push", str(local), remote), timeout, f"adb:{self.serial}")
        if res.returncode != 0:
            raise self.failure(f"push {local.name}", res)

    def pull(self, remote: str, local: Path, timeout: float = 600) -> None:
        res = _run(self._cmd("pull", remote, str(local)), timeout, f"adb:{self.serial}")
        if res.returncode != 0:
            raise self.failure(f"pull {remote}", res)

    def state(self) -> str:
        try:
            res = subprocess.run(self._cmd("get-state"), capture_output=True, text=True, timeout=20)
        except (subprocess.TimeoutExpired, OSError):
            return "unknown"
        return res.stdout.strip() if res.returncode == 0 else "gone"

    def failure(self, what: str, res: subprocess.CompletedProcess) -> DocscanError:
        detail = (res.stderr or res.stdout or "").strip().splitlines()
        detail_s = detail[-1] if detail else f"exit status {res.returncode}"
        if self.state() != "device":
            return DocscanError(f"adb:{self.serial}: device disconnected during {what} ({detail_s}); "
                                "no result saved")
        return DocscanError(f"adb:{self.serial}: {what} failed ({detail_s})")

    def props(self) -> dict[str, str]:
        out = self.shell_ok(["getprop"], what="getprop")
        return dict(re.findall(r"^\[([^\]]+)\]: \[([^\]]*)\]", out, re.M))


# ---------------------------------------------------------------- ABIs

@dataclass
class Abis:
    abilist: list[str]
    abilist32: list[str]
    abilist64: list[str]

    @property
    def primary(self) -> str:
        return self.abilist[0] if self.abilist else ""

    @property
    def runs_32bit(self) -> bool:
        return "armeabi-v7a" in self.abilist32 or "armeabi-v7a" in self.abilist


def abis_from_props(props: Mapping[str, str]) -> Abis:
    def split(key: str) -> list[str]:
        return [a.strip() for a in props.get(key, "").split(",") if a.strip()]

    abilist = split("ro.product.cpu.abilist") or split("ro.product.cpu.abi")  # Android < 5: abi only
    return Abis(abilist, split("ro.product.cpu.abilist32"), split("ro.product.cpu.abilist64"))


def choose_abi(abis: Abis, serial: str, requested: str | None = None) -> str:
    if not abis.abilist:
        raise DocscanError(f"adb:{serial}: getprop reports no CPU ABI (ro.product.cpu.abilist is empty)")
    if abis.primary.startswith("x86") or abis.primary.startswith("riscv") or abis.primary.startswith("mips"):
        # x86 emulator images may list ARM ABIs via binary translation: those timings are not ARM's.
        raise DocscanError(f"adb:{serial}: unsupported ABI {abis.primary} (an x86 Android emulator?); "
                           "docscan benchmarks ARM phones (armeabi-v7a, arm64-v8a)")
    if requested is not None:
        requested = _abi_of_key(requested, f"adb:{serial}")
        if requested not in abis.abilist:
            if requested == "armeabi-v7a":
                raise DocscanError(f"adb:{serial}: this phone cannot run 32-bit (armeabi-v7a) processes "
                                   f"(ro.product.cpu.abilist32 is empty; abilist: {','.join(abis.abilist)})")
            raise DocscanError(f"adb:{serial}: ABI {requested} not supported by this phone "
                               f"(abilist: {','.join(abis.abilist)})")
        return requested
    for abi in abis.abilist:
        if abi in ABIS:
            return abi
    raise DocscanError(f"adb:{serial}: unsupported ABI {abis.primary}; docscan needs armeabi-v7a or arm64-v8a")


def describe_phone(props: Mapping[str, str]) -> str:
    maker = props.get("ro.product.manufacturer", "")
    model = props.get("ro.product.model", "")
    soc = props.get("ro.soc.model") or props.get("ro.board.platform") or props.get("ro.hardware", "")
    release = props.get("ro.build.version.release", "")
    parts = [" ".join(p for p in (maker, model) if p)]
    if soc:
        parts.append(soc)
    if release:
        parts.append(f"Android {release}")
    return ", ".join(p for p in parts if p) or "Android phone"


# ---------------------------------------------------------------- the run

def _resolve_binaries(binaries, overrides=None) -> dict[str, Path]:
    if isinstance(binaries, Mapping):
        resolved = {_abi_of_key(k, "binaries"): Path(v).expanduser() for k, v in binaries.items()}
        resolved.update(override_map(overrides or ()))
        return resolved
    return load_binaries(config_path=binaries, overrides=overrides)


def benchmark_flags(remote_model: str, threads: int, runs: int, warmup: int,
                    use_xnnpack: bool | None, extra_flags: Iterable[str] = ()) -> list[str]:
    flags = [f"--graph={remote_model}", f"--num_threads={threads}", f"--num_runs={runs}",
             f"--warmup_runs={warmup}", "--enable_op_profiling=true"]
    if use_xnnpack is not None:
        flags.append(f"--use_xnnpack={'true' if use_xnnpack else 'false'}")
    flags.extend(extra_flags)
    return flags


def _split_output(stdout: str) -> tuple[str | None, int | None]:
    """The log between the runner's markers and its exit status (None when cut short)."""
    status = None
    m = re.search(r"^" + EXIT_MARK + r"(\d+)\s*$", stdout, re.M)
    if m:
        status = int(m[1])
    b, e = stdout.find("DOCSCAN_LOG_BEGIN\n"), stdout.rfind("DOCSCAN_LOG_END")
    log = stdout[b + len("DOCSCAN_LOG_BEGIN\n"):e] if b >= 0 and e > b else None
    return log, status


def run_on_phone(model_path: str | Path, serial: str | None = None,
                 binaries: Mapping[str, str | Path] | str | Path | None = None, threads: int = 1,
                 runs: int = 50, warmup: int = 1, use_xnnpack: bool | None = None, abi: str | None = None,
                 adb: str = "adb", *, overrides: Iterable[str] | None = None, cpu_mask: str | None = None,
                 extra_flags: Iterable[str] = (), remote_base: str = REMOTE_BASE, timeout_s: float = 1800,
                 save_log: str | Path | None = None, progress: Progress = silent) -> ModelRun:
    """Run ``benchmark_model`` on a phone and return its parsed ``ModelRun`` (device ``adb:SERIAL``).

    ``binaries``: ABI -> path mapping, or a config file path, or None for the default config.
    ``abi``: force ``armeabi-v7a`` (32-bit on a 64-bit phone) or ``arm64-v8a``; default is the
    phone's primary ARM ABI. ``save_log``: also write the raw log there (atomically).
    """
    model = Path(model_path)
    if not model.is_file():
        raise DocscanError(f"{model}: model file not found")
    if not RUNNER.is_file():
        raise DocscanError(f"{RUNNER}: docscan's on-device runner is missing from the installation")
    adb_path = find_adb(adb)
    dev = select_device(adb_path, serial)
    phone = Adb(adb_path, dev.serial)
    props = phone.props()
    abis = abis_from_props(props)
    abi = choose_abi(abis, dev.serial, abi)
    binary = binary_for_abi(_resolve_binaries(binaries, overrides), abi)
    machine = describe_phone(props)

    remote_dir = f"{remote_base.rstrip('/')}/docscan-{uuid.uuid4().hex[:12]}"
    remote_model = f"{remote_dir}/{model.name}"
    remote_bin = f"{remote_dir}/benchmark_model"
    remote_runner = f"{remote_dir}/run_benchmark.sh"
    remote_log = f"{remote_dir}/benchmark.log"
    try:
        progress(f"adb:{dev.serial}: pushing {model.name} and benchmark_model ({abi}) to {remote_dir}")
        phone.shell_ok(["mkdir", "-p", remote_dir], what="mkdir")
        phone.push(binary.resolve(), remote_bin)
        phone.push(RUNNER, remote_runner)
        phone.push(model.resolve(), remote_model)
        phone.shell_ok(["chmod", "755", remote_bin], what="chmod")

        words = ["sh", remote_runner] + (["-t", cpu_mask] if cpu_mask else []) + [remote_bin, remote_log]
        words += benchmark_flags(remote_model, threads, runs, warmup, use_xnnpack, extra_flags)
        progress(f"adb:{dev.serial}: running benchmark_model ({runs} runs, {threads} threads, op profiling)")
        res = phone.shell(words, timeout=timeout_s)
        log, status = _split_output(res.stdout)
        if status is None or log is None:
            if phone.state() != "device":
                raise DocscanError(f"adb:{dev.serial}: device disconnected during the benchmark run; "
                                   "no result saved")
            detail = (res.stderr or res.stdout).strip().splitlines()[-1:] or [f"exit status {res.returncode}"]
            raise DocscanError(f"adb:{dev.serial}: benchmark run cut short ({detail[0]}); no result saved")
        if save_log is not None:
            from docscan.atomic import write_text
            write_text(save_log, log)
        if status != 0:
            errors = parse_text(log).errors
            why = "; ".join(errors[-3:]) if errors else (log.strip().splitlines() or ["no output"])[-1]
            raise DocscanError(f"adb:{dev.serial}: benchmark_model ({abi}) failed with exit status {status}: {why}")
        run = parse_log(log, source=f"adb:{dev.serial}:{remote_log}", device=f"adb:{dev.serial}",
                        device_kind="phone", isa=ISA_OF_ABI[abi], abi=abi, threads=threads, machine=machine,
                        model=model.name, runtime=f"benchmark_model ({abi} build)")
        run.extra.update({"binary": str(binary), "abilist": abis.abilist, "cpu_mask": cpu_mask or "",
                          "requested_runs": runs})
        if cpu_mask:
            run.notes.append(f"pinned with taskset {cpu_mask}")
        return run
    finally:
        _cleanup(phone, remote_dir, remote_base)


def _cleanup(phone: Adb, remote_dir: str, remote_base: str) -> None:
    # Never let a bug turn this into "rm -rf /data/local/tmp": only our own fresh directory.
    if not remote_dir.startswith(remote_base.rstrip("/") + "/docscan-"):
        return
    try:
        phone.shell(["rm", "-rf", remote_dir], timeout=60)
    except DocscanError:
        pass  # device gone: the first error is the one worth reporting


def run_on_phone_both_abis(model_path: str | Path, serial: str | None = None,
                           binaries=None, **kwargs) -> list[ModelRun]:
    """The 32-vs-64 comparison on one phone: armeabi-v7a then arm64-v8a, same model and flags."""
    adb_path = find_adb(kwargs.get("adb", "adb"))
    dev = select_device(adb_path, serial)
    abis = abis_from_props(Adb(adb_path, dev.serial).props())
    choose_abi(abis, dev.serial)  # refuses emulators first
    missing = [a for a in ABIS if a not in abis.abilist]
    if missing:
        raise DocscanError(f"adb:{dev.serial}: cannot compare 32- and 64-bit: this phone does not run "
                           f"{', '.join(missing)} (abilist: {','.join(abis.abilist)})")
    kwargs.pop("abi", None)
    return [run_on_phone(model_path, dev.serial, binaries, abi=a, **kwargs) for a in ABIS]
