"""Emulated ARM devices: Debian 12 root filesystems built on first use and cached.

``ensure_rootfs("armv7")`` returns a directory holding a Debian bookworm armhf minbase
root with python3, python3-numpy and PyPI's tflite-runtime 2.14.0 (the same TFLite
version exists for armv7l and aarch64, so the two ISAs are compared like for like).

A rootfs is only ever used when it carries a completion marker written last: the build
runs in ``rootfs-<arch>.partial-*`` beside the cache entry and is renamed into place at
the end, so a build killed half-way (no network, Ctrl-C, full disk) is thrown away, not
reused. A lock file keeps two processes from building the same rootfs at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from docscan.errors import DocscanError
from docscan.paths import cache_dir
from docscan.progress import Progress, silent

SUITE = "bookworm"
PACKAGES = ("python3", "python3-numpy")
TFLITE_RUNTIME = "2.14.0"
# Bump when the recipe changes: older caches are rebuilt instead of trusted.
RECIPE = f"1:{SUITE}:{','.join(PACKAGES)}:tflite-runtime=={TFLITE_RUNTIME}"
MARKER = ".docscan-rootfs.json"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class Isa:
    name: str            # what users type after emu:
    debian_arch: str
    qemu: str            # qemu-user-static binary
    binfmt: str          # binfmt_misc entry name
    triplet: str         # Debian multiarch library directory
    wheel_platform: str  # exact manylinux tag of the tflite-runtime wheel
    machine: str         # what platform.machine() says in the guest


ISAS = {
    "armv7": Isa("armv7", "armhf", "qemu-arm-static", "qemu-arm", "arm-linux-gnueabihf",
                 "manylinux_2_34_armv7l", "armv7l"),
    "aarch64": Isa("aarch64", "arm64", "qemu-aarch64-static", "qemu-aarch64", "aarch64-linux-gnu",
                   "manylinux_2_34_aarch64", "aarch64"),
}


def get_isa(name: str) -> Isa:
    aliases = {"armhf": "armv7", "arm": "armv7", "arm32": "armv7", "arm64": "aarch64"}
    key = aliases.get(name, name)
    if key not in ISAS:
        raise DocscanError(f"emu:{name}: unknown emulated device (known: emu:armv7, emu:aarch64)")
    return ISAS[key]


def rootfs_path(isa: Isa) -> Path:
    return cache_dir() / f"rootfs-{isa.debian_arch}"


def mirror_url() -> str:
    return os.environ.get("DOCSCAN_DEBIAN_MIRROR", DEFAULT_MIRROR)


def read_marker(root: Path) -> dict | None:
    try:
        marker = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("recipe") == RECIPE else None


def is_complete(root: Path) -> bool:
    return read_marker(root) is not None


def python_site(root: Path) -> Path:
    return root / "usr" / "lib" / "python3" / "dist-packages"


# --- binfmt_misc ------------------------------------------------------------------

def binfmt_ready(isa: Isa) -> bool:
    entry = Path("/proc/sys/fs/binfmt_misc") / isa.binfmt
    try:
        return entry.read_text().splitlines()[0].strip() == "enabled"
    except (OSError, IndexError):
        return False


def ensure_binfmt(isa: Isa) -> None:
    """mmdebstrap runs the foreign maintainer scripts through binfmt_misc + qemu.

    Debian's qemu-user-static ships the registration line; as root we mount binfmt_misc
    and register it ourselves where the container did not.
    """
    if binfmt_ready(isa):
        return
    conf = Path("/usr/lib/binfmt.d") / f"{isa.binfmt}.conf"
    if os.geteuid() != 0:
        raise DocscanError(f"emu:{isa.name}: binfmt_misc has no {isa.binfmt} entry and registering one "
                           "needs root (run `sudo update-binfmts --enable " + isa.binfmt + "`)")
    if not conf.exists():
        raise DocscanError(f"{conf}: missing; install qemu-user-static (bash scripts/system-deps.sh)")
    misc = Path("/proc/sys/fs/binfmt_misc")
    if not (misc / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(misc)], capture_output=True)
    try:
        (misc / "register").write_text(conf.read_text().strip())
    except OSError as exc:
        if not binfmt_ready(isa):
            raise DocscanError(f"emu:{isa.name}: cannot register {isa.binfmt} in binfmt_misc "
                               f"({exc.strerror})") from None


def check_tools(isa: Isa) -> None:
    for tool, pkg in ((isa.qemu, "qemu-user-static"), ("mmdebstrap", "mmdebstrap"), ("arch-test", "arch-test")):
        if shutil.which(tool) is None:
            raise DocscanError(f"{tool}: not installed (apt package {pkg}; run bash scripts/system-deps.sh)")


# --- build ------------------------------------------------------------------------

STAGES = [  # mmdebstrap's "I:" lines, in order, and how far along each one is
    ("downloading packages", 0.10), ("extracting archives", 0.40), ("installing essential", 0.50),
    ("installing remaining", 0.70), ("cleaning up", 0.90), ("success", 0.92),
]


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_rootfs(name: str, *, mirror: str | None = None, progress: Progress = silent) -> Path:
    """Return a complete rootfs for ISA ``name``, building it first if needed (minutes).

    ``progress`` follows the build in percent, the stage in its text.
    """
    isa = get_isa(name)
    root = rootfs_path(isa)
    if is_complete(root):
        return root
    with _lock(root.with_name(root.name + ".lock")):
        if is_complete(root):       # another process finished it while we waited
            return root
        title = f"building emu:{isa.name} rootfs (Debian {SUITE} {isa.debian_arch})"

        def step(frac: float, stage: str) -> None:
            progress(f"{title}: {stage}", round(100 * frac), 100)

        _build(isa, root, mirror or mirror_url(), step)
    return root


def _build(isa: Isa, root: Path, mirror: str, progress) -> None:
    check_tools(isa)
    ensure_binfmt(isa)
    parent = root.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(root.name + ".partial-*"):   # leftovers of killed builds
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=root.name + ".partial-", dir=parent))
    started = time.monotonic()
    try:
        target = work / "root"
        _mmdebstrap(isa, target, mirror, progress)
        progress(0.93, "tflite-runtime wheel")
        wheel = fetch_wheel(isa)
        install_wheel(wheel, python_site(target))
        seconds = round(time.monotonic() - started, 1)
        (target / MARKER).write_text(json.dumps({
            "recipe": RECIPE, "isa": isa.name, "debian_arch": isa.debian_arch, "suite": SUITE,
            "mirror": mirror, "tflite_runtime": TFLITE_RUNTIME, "wheel": wheel.name,
            "build_seconds": seconds, "built": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2))
        if root.exists() or root.is_symlink():        # an incomplete or outdated one
            old = Path(tempfile.mkdtemp(prefix=root.name + ".partial-old-", dir=parent))
            os.replace(root, old / "root")
        os.replace(target, root)
        progress(1.0, f"done in {seconds:.0f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for old in parent.glob(root.name + ".partial-old-*"):
            shutil.rmtree(old, ignore_errors=True)


def _mmdebstrap(isa: Isa, target: Path, mirror: str, progress) -> None:
    cmd = ["mmdebstrap", "--variant=minbase", f"--arch={isa.debian_arch}",
           "--include=" + ",".join(PACKAGES),
           # documentation and locales are a third of a minbase and nobody reads them here
           "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*",
           SUITE, str(target), mirror]
    progress(0.01, "mmdebstrap")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "LC_ALL": "C.UTF-8"})
    lines: list[str] = []
    for line in proc.stdout:
        line = line.rstrip()
        lines.append(line)
        for key, frac in STAGES:
            if line.startswith("I:") and key in line:
                progress(frac, key)
    code = proc.wait()
    if code != 0:
        raise DocscanError(f"emu:{isa.name}: building the Debian {isa.debian_arch} rootfs from {mirror} "
                           f"failed: {_reason(lines)}")


def _reason(lines: list[str]) -> str:
    text = "\n".join(lines)
    for hint in ("Could not connect", "Failed to fetch", "Temporary failure resolving", "Connection refused",
                 "Unable to connect", "Network is unreachable"):
        if hint in text:
            return f"network problem ({hint.lower()}); check the mirror or set DOCSCAN_DEBIAN_MIRROR"
    errors = [ln[2:].strip() for ln in lines if ln.startswith("E:")]
    return (errors[0] if errors else (lines[-1] if lines else "mmdebstrap exited non-zero"))[:300]


def fetch_wheel(isa: Isa) -> Path:
    """PyPI's tflite-runtime wheel for the ISA, downloaded on the host and cached."""
    dest = cache_dir("wheels")
    found = sorted(dest.glob(f"tflite_runtime-{TFLITE_RUNTIME}-cp311-cp311-{isa.wheel_platform}.whl"))
    if found:
        return found[0]
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", f"tflite-runtime=={TFLITE_RUNTIME}",
                               "--platform", isa.wheel_platform, "--python-version", "311",
                               "--only-binary=:all:", "--no-deps", "--disable-pip-version-check",
                               "-d", tmp], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise DocscanError(f"emu:{isa.name}: cannot download tflite-runtime {TFLITE_RUNTIME} for "
                               f"{isa.wheel_platform} from PyPI: {last[:200]}")
        final = dest / wheels[0].name
        os.replace(wheels[0], final)
    return final


def install_wheel(wheel: Path, site: Path) -> None:
    # A wheel is a zip laid out for site-packages; the rootfs has no pip, and needs none.
    site.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)
    except zipfile.BadZipFile:
        wheel.unlink(missing_ok=True)
        raise DocscanError(f"{wheel}: corrupt wheel (removed; run again to download it anew)") from None
    for so in site.glob("tflite_runtime/*.so"):
        so.chmod(0o755)


def status() -> list[dict]:
    """What is cached, per emulated device (for listings and tests)."""
    out = []
    for isa in ISAS.values():
        root = rootfs_path(isa)
        out.append({"device": f"emu:{isa.name}", "path": str(root), "complete": is_complete(root),
                    "marker": read_marker(root)})
    return out
