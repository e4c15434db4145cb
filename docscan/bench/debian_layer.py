"""Debian packages for the emulated ARM devices, as layers beside the rootfs.

Some benchmarks need more in the guest than the base rootfs has: the pipeline benchmark
(``bench/pipeline_stages.py``) runs docscan's detect code there, which needs Debian's
``python3-opencv``; the XNNPACK estimates (``bench/estimate/xnnpack_models.py``) need
Debian's ``libxnnpack0``. ``python3-opencv`` links every OpenCV module, so its closure is
~400 packages (VTK, Qt, ffmpeg, GStreamer, MPI): put in the rootfs recipe, mmdebstrap would
configure all of them under qemu for every user of ``emu:*`` (the base rootfs already takes
~5-18 min), and changing ``rootfs.RECIPE`` would throw away every cached rootfs. So each
package is a separate layer, built only when it is asked for:

* the host's apt, with a private config, resolves the package for the guest's architecture
  against the rootfs's own dpkg status (what the base already has is not fetched again)
  and downloads the .debs;
* ``dpkg-deb -x`` unpacks them into ``<name>-<arch>/`` beside the rootfs. No maintainer
  script runs (nothing is emulated, so this takes as long as the download); shared
  libraries need none, and the few ``/etc/alternatives`` links they would make are
  replaced by listing the library folders in ``LD_LIBRARY_PATH`` (``library_dirs``).

The base rootfs is never modified (other runs may be using it). A layer carries a marker
written last naming the base rootfs it was resolved against; a rebuilt base makes it stale.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docscan.bench.rootfs import SUITE, Isa, _lock, ensure_rootfs, get_isa, mirror_url, python_site, read_marker
from docscan.errors import DocscanError
from docscan.paths import cache_dir
from docscan.progress import Progress, silent

MARKER = ".docscan-layer.json"


@dataclass(frozen=True)
class Layer:
    """One Debian package (and what it needs) unpacked for the guests."""

    name: str                          # the cache folder's stem: <name>-<debian arch>
    package: str
    version_of: str                    # the .deb whose version the marker records
    check: Callable[[Path], str]       # the unpacked layer -> "" or what is missing

    @property
    def recipe(self) -> str:
        # Bump the leading number when the way layers are made changes: older layers are
        # rebuilt instead of trusted.
        return f"1:{SUITE}:{self.package}:extract"

    def path(self, isa: Isa) -> Path:
        return cache_dir() / f"{self.name}-{isa.debian_arch}"


def _base_id(root: Path) -> str:
    marker = read_marker(root) or {}
    return f"{marker.get('recipe')}@{marker.get('built')}"


def read_layer_marker(spec: Layer, layer: Path, root: Path) -> dict | None:
    try:
        marker = json.loads((layer / MARKER).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(marker, dict) and marker.get("recipe") == spec.recipe and marker.get("base") == _base_id(root)
    return marker if ok else None


def ensure_layer(spec: Layer, name: str, *, progress: Progress = silent) -> tuple[Path, Path]:
    """(rootfs, layer) of ``spec`` for ISA ``name``: both built first if missing (minutes, once)."""
    isa = get_isa(name)
    root = ensure_rootfs(isa.name, progress=progress)
    layer = spec.path(isa)
    if read_layer_marker(spec, layer, root):
        return root, layer
    with _lock(layer.with_name(layer.name + ".lock")):
        if read_layer_marker(spec, layer, root):
            return root, layer
        _build(spec, isa, root, layer, progress)
    return root, layer


def _build(spec: Layer, isa: Isa, root: Path, layer: Path, progress: Progress) -> None:
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DocscanError(f"{tool}: not found; the emu:{isa.name} {spec.package} layer needs Debian's apt and dpkg")
    started = time.monotonic()
    title = f"emu:{isa.name} layer (Debian {SUITE} {isa.debian_arch} {spec.package})"
    with tempfile.TemporaryDirectory(prefix=layer.name + ".partial-", dir=layer.parent) as tmp:
        tmp = Path(tmp)
        debs = _download(spec.package, isa, root, tmp, lambda text: progress(f"{title}: {text}"))
        target = tmp / "layer"
        target.mkdir()
        for i, deb in enumerate(debs):
            progress(f"{title}: unpacking", i, len(debs))
            proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise DocscanError(f"{deb.name}: dpkg-deb -x failed: {proc.stderr.strip()[:200]}")
        missing = spec.check(target)
        if missing:
            raise DocscanError(f"emu:{isa.name}: {spec.package} unpacked but {missing}")
        (target / MARKER).write_text(json.dumps({
            "recipe": spec.recipe, "base": _base_id(root), "isa": isa.name, "packages": len(debs),
            "version": _deb_version(debs, spec.version_of), "build_seconds": round(time.monotonic() - started, 1),
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2))
        if layer.exists():
            shutil.rmtree(layer)
        os.replace(target, layer)
    progress(f"{title}: done")


def _deb_version(debs: list[Path], prefix: str) -> str:
    for deb in debs:
        if deb.name.startswith(prefix):
            return deb.name.split("_")[1].replace("%3a", ":")
    return "?"


def _download(package: str, isa: Isa, root: Path, tmp: Path, say) -> list[Path]:
    """The .debs ``package`` needs beyond what ``root`` has, for the guest's architecture."""
    apt = tmp / "apt"
    for sub in ("lists/partial", "archives/partial", "parts", "prefs"):
        (apt / sub).mkdir(parents=True)
    (apt / "sources.list").write_text(f"deb {mirror_url()} {SUITE} main\n"
                                      f"deb {mirror_url()} {SUITE}-updates main\n")
    opts = [f"-oAPT::Architecture={isa.debian_arch}", f"-oAPT::Architectures::={isa.debian_arch}",
            f"-oDir::Etc::SourceList={apt / 'sources.list'}", f"-oDir::Etc::SourceParts={apt / 'parts'}",
            f"-oDir::Etc::PreferencesParts={apt / 'prefs'}", f"-oDir::Etc::Preferences={apt / 'prefs' / 'none'}",
            f"-oDir::State::Lists={apt / 'lists'}", f"-oDir::Cache={apt}", f"-oDir::Cache::Archives={apt / 'archives'}",
            f"-oDir::State::status={root / 'var/lib/dpkg/status'}", "-oDebug::NoLocking=1",
            "-oAPT::Install-Recommends=0", "-oAPT::Get::Assume-Yes=1", "-qq"]
    say("apt-get update")
    _apt([*opts, "update"], "apt-get update")
    say("downloading packages")
    _apt([*opts, "install", "--download-only", package], f"apt-get install --download-only {package}")
    debs = sorted((apt / "archives").glob("*.deb"))
    if not debs:
        raise DocscanError(f"emu:{isa.name}: apt downloaded nothing for {package}")
    # The layer only adds: a newer copy of a base package (an upgrade apt chose) would shadow
    # the base's for every library the guest loads.
    installed = set(re.findall(r"^Package: (\S+)", (root / "var/lib/dpkg/status").read_text(errors="replace"), re.M))
    upgrades = sorted(d.name.split("_")[0] for d in debs if d.name.split("_")[0] in installed)
    if upgrades:
        raise DocscanError(f"emu:{isa.name}: {package} would upgrade the rootfs's {', '.join(upgrades[:5])}; "
                           "rebuild the rootfs (remove it from the cache) and try again")
    return debs


def _apt(args: list[str], what: str) -> None:
    proc = subprocess.run(["apt-get", *args], capture_output=True, text=True,
                          env={**os.environ, "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"})
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DocscanError(f"{what}: failed ({tail[-1][:200] if tail else f'exit {proc.returncode}'}); "
                           "check the network or set DOCSCAN_DEBIAN_MIRROR")


def library_dirs(root: Path, layer: Path, isa: Isa) -> list[Path]:
    """Folders the guest's loader must search, in order: the base's blas and lapack (as the
    base's /etc/alternatives links choose them: numpy stays on the same BLAS as every other
    emulated run), then every layer folder holding a versioned shared library (``ld.so.conf``
    entries and alternatives links made by maintainer scripts that never ran; plugin folders
    hold no ``lib*.so.N`` and stay out)."""
    base = root / "usr" / "lib" / isa.triplet
    dirs = [base / "blas", base / "lapack"]
    found = set()
    for top in (layer / "usr" / "lib", layer / "lib"):
        if top.is_dir():
            found.update(p.parent for p in top.rglob("lib*.so.[0-9]*") if p.is_file() and not p.is_symlink())
    return dirs + sorted(found, key=lambda d: (len(d.parts), str(d)))


def guest_env(root: Path, layer: Path, isa: Isa) -> dict:
    """Environment for ``qemu -L root python3`` that sees the layer's Python modules and libraries."""
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": "/tmp", "PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2",
            # OpenCV's own thread pool would make the guest multi-threaded (and counts racy).
            "OPENCV_FOR_THREADS_NUM": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            # The root filesystems have no C compiler, and the host's (reachable through
            # qemu's path fallback) builds for the host: the quad finder's numpy path, unless
            # a cross-compiled build is handed in (pipeline_stages._native_env).
            "DOCSCAN_NATIVE": "0",
            "PYTHONPATH": str(python_site(layer)),
            "LD_LIBRARY_PATH": ":".join(str(d) for d in library_dirs(root, layer, isa))}
