"""Emulated ARM devices (``emu:armv7``, ``emu:aarch64``): the device runner inside a
Debian ARM rootfs (``bench/rootfs.py``), under qemu-user.

Two ways in, chosen automatically (override with DOCSCAN_EMU_MODE=chroot|qemu):

* ``chroot`` (when root): binfmt_misc hands ARM binaries to qemu; models are copied into
  a scratch folder inside the rootfs and removed afterwards. The host's /proc and /sys are
  not mounted, which also keeps runtimes from reading the host's (x86) cpuinfo (ai-edge-litert
  2.3 segfaults under qemu when it can).
* ``qemu`` (anyone): ``qemu-arm-static -L ROOTFS ROOTFS/usr/bin/python3 ...``. qemu looks up
  absolute paths in ROOTFS first, but symlinks are resolved by the host kernel: Debian's
  libblas.so.3 is an absolute symlink through /etc/alternatives, so numpy only loads when
  LD_LIBRARY_PATH names the rootfs's blas/lapack folders.

LiteRT's own per-op profiler (``--per-op-method profiler|auto``) on emu:aarch64: PyPI's
ai-edge-litert wheel for manylinux_2_27_aarch64 (cp311) is downloaded once and its
``libLiteRt.so`` kept in ``cache_dir("litert-VERSION-aarch64")`` (the rootfs is not touched);
each profiled run links it into the run's scratch folder beside ``device_runner.py`` and
``litert_profiler.py``, which drives it through ctypes (no numpy, no pybind module needed).
LiteRT's cpuinfo needs the CPU lists in /sys and an ARM /proc/cpuinfo (without them XNNPACK
fails to start; the host's x86 ones crash it), so the run gets a one-CPU Cortex-A76
/proc/cpuinfo and /sys/devices/system/cpu lists, bind-mounted over the rootfs's empty /proc
and /sys in a private mount namespace (``unshare``) that ends with the run. Hence chroot
mode only. armv7 has no ai-edge-litert build at all (tflite-runtime 2.14 only): no profiler.

The guest's view of the CPU (every emulated run: bench runs, profiled runs, instruction
counts): a phone's. Without it tflite-runtime's cpuinfo fails in chroot mode (no /sys lists:
"Error in cpuinfo: failed to parse ... present"), and the default XNNPACK delegate never
starts (fp32 ran built-in kernels); in qemu mode the guest read the x86 host's /proc/cpuinfo
(XNNPACK started but saw no ARM core, so picked untuned kernels). Now each run gets
``GUEST_CORE``'s /proc/cpuinfo (``Core.cpuinfo`` of ``estimate/cores.py``: the one home of
that text; armv7 sees the compat view a 32-bit process gets on an arm64 phone) with one
processor per thread, and /sys/devices/system/cpu/{possible,present,online} to match:
deterministic, whatever the host. chroot mode bind-mounts them over the rootfs's empty /proc
and /sys in a private mount namespace (``unshare``); qemu mode gives ``qemu -L`` an overlay
prefix (``estimate.trace.overlay_root``) whose proc/cpuinfo and sys lists qemu finds first.
Each run's result says which kernels ran (``device_runner.xnnpack_status``): the default
delegate of tflite-runtime 2.14 takes fp32 models only (int8 stays on ruy), and the armv7
wheel has no XNNPACK at all, as on a phone with that runtime.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from docscan.bench import device_runner, litert_profiler
from docscan.bench.devices import Job, RunSettings, Timings
from docscan.bench.devices.runner import RunnerDevice, profiler_limits, timings_of
from docscan.bench.rootfs import Isa, ensure_binfmt, ensure_rootfs, get_isa, is_complete, read_marker, rootfs_path
from docscan.errors import DocscanError
from docscan.machine import host_cpu
from docscan.paths import cache_dir
from docscan.progress import Progress, silent

RUNNER = Path(device_runner.__file__)
PROFILER = Path(litert_profiler.__file__)
LITERT_VERSION = "2.3.0"
LITERT_PLATFORM = "manylinux_2_27_aarch64"     # pip 23 matches --platform tags exactly
LITERT_RUNTIME = f"ai-edge-litert {LITERT_VERSION} (CompiledModel C API, {LITERT_PLATFORM} wheel)"
NO_ARMV7_PROFILER = ("emu:armv7 has only tflite-runtime 2.14 (ai-edge-litert publishes no 32-bit ARM build, "
                     "and LiteRT's profiler is not reachable from tflite-runtime's Python API)")
GUEST_CORE = "cortex-a76"      # what the guest's /proc/cpuinfo names (a phone's big core; RPi 5)


def guest_cpuinfo(isa_name: str, cpus: int = 1) -> str:
    """The /proc/cpuinfo every emulated guest reads (see the module doc)."""
    from docscan.bench.estimate.cores import get_core
    return get_core(GUEST_CORE).cpuinfo(get_isa(isa_name).name, processors=max(1, cpus))


def guest_cpu_label(cpus: int = 1) -> str:
    """'1x Cortex-A76 (MIDR 0x414fd0b1)': the CPU the guest is shown, for descriptions."""
    from docscan.bench.estimate.trace import cpuinfo_midr
    n = max(1, cpus)
    family, _, model = GUEST_CORE.partition("-")
    return f"{n}x {family.capitalize()}-{model.upper()} ({cpuinfo_midr(guest_cpuinfo('aarch64', 1))})"


def write_cpu_view(folder: Path, isa_name: str, cpus: int = 1) -> tuple[Path, Path]:
    """folder/proc/cpuinfo and folder/sys/devices/system/cpu/{possible,present,online}; (proc, sys)."""
    n = max(1, cpus)
    cpu = folder / "sys" / "devices" / "system" / "cpu"
    cpu.mkdir(parents=True, exist_ok=True)
    for name in ("possible", "present", "online"):
        (cpu / name).write_text("0\n" if n == 1 else f"0-{n - 1}\n")
    (folder / "proc").mkdir(exist_ok=True)
    (folder / "proc" / "cpuinfo").write_text(guest_cpuinfo(isa_name, n))
    return folder / "proc", folder / "sys"


def qemu_prefix(root: Path, folder: Path, isa_name: str, cpus: int = 1) -> Path:
    """A ``qemu -L`` prefix: the rootfs (symlinked) with the guest's CPU view in proc/ and sys/."""
    from docscan.bench.estimate.trace import overlay_root
    prefix = overlay_root(root, folder, guest_cpuinfo(isa_name, cpus))
    if (prefix / "sys").is_symlink():
        (prefix / "sys").unlink()        # our own lists, not the rootfs's (empty) folder
    write_cpu_view(prefix, isa_name, cpus)
    return prefix


def chroot_argv(root: Path, tmp: Path, isa_name: str, cpus: int, argv: list[str]) -> list[str]:
    """``argv`` (a chroot into ``root``) run in a private mount namespace whose /proc and /sys
    show the guest's CPU view (written under ``tmp``, a folder inside the rootfs)."""
    proc, sysfs = write_cpu_view(tmp / "cpu-view", isa_name, cpus)
    unshare = shutil.which("unshare")
    if unshare is None:
        raise DocscanError("unshare is not installed (apt package util-linux); chroot-mode emulated runs need it "
                           "to show the guest an ARM /proc/cpuinfo (or set DOCSCAN_EMU_MODE=qemu)")
    script = 'mount --bind "$1" "$3/sys" && mount --bind "$2" "$3/proc" && shift 3 && exec "$@"'
    return [unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh",
            str(sysfs), str(proc), str(root), *argv]


def parse(spec: str, config: dict) -> Emulated | None:
    if not spec.startswith("emu:"):
        return None
    isa = get_isa(spec[4:]).name
    return Emulated(f"emu:{isa}", "emulated", isa, emulated=True)


@dataclass(frozen=True)
class Emulated(RunnerDevice):
    note = "EMULATED: qemu-user translates ARM (and NEON) to x86; times are not phone times"

    def prepare(self, progress: Progress = silent) -> None:
        """Build the rootfs if it is missing (minutes, once): before any timing starts."""
        if not is_complete(rootfs_path(get_isa(self.isa))):
            ensure_rootfs(self.isa, progress=progress)

    def run_models(self, jobs: list[Job], settings: RunSettings, progress: Progress = silent) -> Timings:
        result = run_jobs(self.isa, jobs, threads=settings.threads, xnnpack=settings.xnnpack, seed=settings.seed,
                          progress=progress)
        return timings_of(result, describe(self.isa, settings.threads))

    def profiler_unavailable(self, settings: RunSettings) -> str:
        if self.isa != "aarch64":
            return NO_ARMV7_PROFILER
        if mode() != "chroot":
            return ("on emu:aarch64 it needs chroot mode (root): LiteRT must see a faked ARM /proc/cpuinfo, "
                    "which qemu mode cannot give it")
        if shutil.which("unshare") is None:
            return "unshare (util-linux) is not installed"
        return profiler_limits(settings)

    def prepare_profiler(self, progress: Progress = silent) -> None:
        ensure_litert(progress)

    def count_instructions(self, model: Path, *, threads: int = 1, xnnpack: bool = True, use_cache: bool = True,
                           progress: Progress = silent):
        from docscan.regress.instructions import count_emulated

        return count_emulated(model, self.isa, threads=threads, xnnpack=xnnpack, invokes=2, progress=progress)

    def describe(self) -> str:
        return describe(self.isa)


def litert_folder() -> Path:
    return cache_dir(f"litert-{LITERT_VERSION}-aarch64")


def ensure_litert(progress: Progress = silent) -> Path:
    """``libLiteRt.so`` of PyPI's ai-edge-litert aarch64 wheel, downloaded on the host once and cached."""
    folder = litert_folder()
    lib = folder / "libLiteRt.so"
    if lib.is_file():
        return lib
    progress(f"emu:aarch64: downloading ai-edge-litert {LITERT_VERSION} ({LITERT_PLATFORM})", None, None)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=folder.name + ".partial-") as tmp:
        tmp = Path(tmp)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", f"ai-edge-litert=={LITERT_VERSION}",
                               "--platform", LITERT_PLATFORM, "--python-version", "311", "--only-binary=:all:",
                               "--no-deps", "--disable-pip-version-check", "-d", str(tmp / "dl")],
                              capture_output=True, text=True)
        wheels = list((tmp / "dl").glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise DocscanError(f"emu:aarch64: cannot download ai-edge-litert {LITERT_VERSION} for {LITERT_PLATFORM} "
                               f"from PyPI (the LiteRT profiler needs it): {last[:200]}")
        out = tmp / "litert"
        out.mkdir()
        try:
            with zipfile.ZipFile(wheels[0]) as zf:
                (out / "libLiteRt.so").write_bytes(zf.read("ai_edge_litert/libLiteRt.so"))
                meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
                (out / "METADATA").write_bytes(zf.read(meta))
        except (zipfile.BadZipFile, KeyError, StopIteration):
            raise DocscanError(f"{wheels[0].name}: no libLiteRt.so in the ai-edge-litert wheel") from None
        (out / "SOURCE").write_text(wheels[0].name + "\n")
        try:
            os.replace(out, folder)
        except OSError:
            if not lib.is_file():       # another process got there first, or a real failure
                raise
    return lib


def _place(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)      # same file system as the cache: no copy
    except OSError:
        shutil.copyfile(src, dest)


def mode() -> str:
    forced = os.environ.get("DOCSCAN_EMU_MODE")
    if forced:
        if forced not in ("chroot", "qemu"):
            raise DocscanError(f"DOCSCAN_EMU_MODE={forced}: choose chroot or qemu")
        return forced
    return "chroot" if os.geteuid() == 0 else "qemu"


def run_jobs(isa_name: str, jobs: list[Job], *, threads: int = 1, xnnpack: bool = True, seed: int = 0,
             return_outputs: bool = False, progress: Progress = silent, timeout: float | None = None) -> dict:
    """Time ``jobs`` in one interpreter process on the emulated device; the runner's JSON.

    ``progress(label, done, total)`` follows the runner's progress lines.
    """
    isa = get_isa(isa_name)
    root = ensure_rootfs(isa.name)
    how = mode()
    profiled = any(j.profile or j.litert for j in jobs)
    if profiled and (isa.name != "aarch64" or how != "chroot"):
        raise DocscanError(f"emu:{isa.name}: the LiteRT profiler runs on emu:aarch64 in chroot mode only")
    if how == "chroot":
        ensure_binfmt(isa)          # a reboot forgets the registration; the cache survives it
        _sweep(root / "tmp")
    with tempfile.TemporaryDirectory(prefix="docscan-emu-", dir=_scratch_parent(root, how)) as tmp:
        tmp = Path(tmp)
        models = []
        for i, job in enumerate(jobs):
            if how == "chroot":
                dest = tmp / f"m{i}.tflite"
                shutil.copyfile(job.path, dest)
                guest = "/" + str(dest.relative_to(root))
            else:
                guest = str(Path(job.path).resolve())
            models.append({"path": guest, "label": job.label, "runs": job.runs, "warmup": job.warmup,
                           **({"profile": True} if job.profile else {}), **({"litert": True} if job.litert else {})})
        spec = {"models": models, "threads": threads, "xnnpack": xnnpack, "seed": seed,
                "return_outputs": return_outputs}
        shutil.copyfile(RUNNER, tmp / "device_runner.py")
        if how == "chroot":
            guest_tmp = "/" + str(tmp.relative_to(root))
            argv = [shutil.which("chroot") or "/usr/sbin/chroot", str(root), "/usr/bin/python3", f"{guest_tmp}/device_runner.py",
                    f"{guest_tmp}/spec.json"]
            env = _clean_env()
            if profiled:
                spec["litert"] = {"lib": f"{guest_tmp}/libLiteRt.so", "runtime": LITERT_RUNTIME}
                _place(ensure_litert(), tmp / "libLiteRt.so")
                shutil.copyfile(PROFILER, tmp / "litert_profiler.py")
            argv = chroot_argv(root, tmp, isa.name, threads, argv)
        else:
            prefix = qemu_prefix(root, tmp / "root", isa.name, threads)
            argv = [_qemu(isa), "-L", str(prefix), str(root / "usr/bin/python3"),
                    str(tmp / "device_runner.py"), str(tmp / "spec.json")]
            lib = root / "usr" / "lib" / isa.triplet
            env = {**_clean_env(), "LD_LIBRARY_PATH": f"{lib / 'blas'}:{lib / 'lapack'}"}
        (tmp / "spec.json").write_text(json.dumps(spec))
        return _run(argv, env, isa, progress, timeout)


def _sweep(folder: Path, max_age_s: float = 6 * 3600) -> None:
    # Scratch folders of runs that were killed; a live run's folder is never this old.
    import time
    for old in folder.glob("docscan-emu-*"):
        try:
            if time.time() - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def _scratch_parent(root: Path, how: str) -> Path | None:
    if how == "chroot":
        parent = root / "tmp"
        parent.mkdir(exist_ok=True)
        return parent
    return None


def _qemu(isa: Isa) -> str:
    exe = shutil.which(isa.qemu)
    if exe is None:
        raise DocscanError(f"{isa.qemu}: not installed (apt package qemu-user-static)")
    return exe


def _clean_env() -> dict:
    # Nothing of the host's Python set-up may leak into the guest interpreter.
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": "/tmp", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(argv, env, isa: Isa, progress, timeout) -> dict:
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    except OSError as exc:
        raise DocscanError(f"emu:{isa.name}: cannot start {argv[0]} ({exc.strerror})") from None
    err_lines: list[str] = []
    chunks: list[str] = []
    # stdout (the result JSON, large with return_outputs) is drained by a thread while
    # stderr carries progress, so neither pipe can fill up and stall the guest.
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    try:
        for line in proc.stderr:
            if line.startswith("PROGRESS "):
                parts = line.split(" ", 3)
                if len(parts) == 4:
                    progress(parts[3].rstrip("\n"), int(parts[1]), int(parts[2]))
            else:
                err_lines.append(line.rstrip())
        code = proc.wait(timeout=timeout)
        reader.join()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    out = "".join(chunks)
    begin, end = out.find(device_runner.BEGIN), out.find(device_runner.END)
    if code != 0 or begin < 0 or end < 0:
        tail = next((ln for ln in reversed(err_lines) if ln.strip()), f"exit status {code}")
        raise DocscanError(f"emu:{isa.name}: the device runner failed: {tail[:300]}")
    return json.loads(out[begin + len(device_runner.BEGIN):end])


def describe(isa_name: str, threads: int = 1) -> str:
    isa = get_isa(isa_name)
    marker = read_marker(rootfs_path(isa)) or {}
    return (f"qemu-user {isa.name} (Debian {marker.get('suite', '?')} {isa.debian_arch}, "
            f"{mode()} mode, guest /proc/cpuinfo {guest_cpu_label(threads)}) on {host_cpu()} - EMULATED")
