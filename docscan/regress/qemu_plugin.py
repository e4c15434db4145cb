"""qemu's instruction-counting TCG plugin (tests/plugin/insn.c), built here on first use.

Debian ships no built plugin, and its static qemu rejects ``-plugin``; the dynamic
``qemu-user`` package accepts it. The plugin source and ``qemu-plugin.h`` come from
Debian's qemu source package of exactly the installed qemu-user version (the plugin API
version is checked when qemu loads it). The build happens in a temporary folder and only
a plugin that has just counted a real guest program is moved into the cache, with a stamp
naming the qemu version: a failed or half-done build is never mistaken for a good one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from docscan.errors import DocscanError
from docscan.paths import cache_dir
from docscan.progress import Progress, silent

STAMP = "plugin.json"
SOURCES = ("deb-src http://deb.debian.org/debian bookworm main\n"
           "deb-src http://deb.debian.org/debian bookworm-updates main\n"
           "deb-src http://deb.debian.org/debian-security bookworm-security main\n")


def plugin_dir() -> Path:
    """Where the built plugin and its stamp are cached."""
    return cache_dir("qemu-plugin")


def qemu_binary(isa_qemu_static: str) -> str:
    """The dynamic qemu-user binary for an ISA ('qemu-arm-static' -> 'qemu-arm')."""
    name = isa_qemu_static.removesuffix("-static")
    exe = shutil.which(name)
    if exe is None:
        raise DocscanError(f"{name}: not installed; the instruction-counting plugin needs Debian's dynamic "
                           "qemu-user package (apt-get install qemu-user libglib2.0-dev gcc)")
    return exe


def installed_version() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}|${source:Version}", "qemu-user"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise DocscanError("qemu-user: not installed (apt-get install qemu-user)") from None
    binary, source = out.split("|")
    return source or binary


def plugin_path() -> Path | None:
    """The cached plugin if it was built for the installed qemu-user, else None."""
    return built_plugin(plugin_dir(), "libinsn.so")


def built_plugin(folder: Path, lib_name: str, **stamp) -> Path | None:
    """``folder/lib_name`` if ``build_plugin`` made it for the installed qemu-user (and its
    stamp holds ``stamp``'s values), else None."""
    try:
        found = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return None
    lib = folder / lib_name
    if found.get("qemu") != installed_version() or not lib.is_file():
        return None
    if any(found.get(k) != v for k, v in stamp.items()):
        return None
    return lib


def ensure_plugin(smoke_root: Path | None = None, qemu_name: str = "qemu-aarch64-static",
                  progress: Progress = silent) -> Path:
    """Return the instruction-counting plugin, building it first if needed (seconds to minutes).

    ``smoke_root``: a guest root filesystem whose /bin/true the fresh plugin must count
    before it is cached.
    """
    found = plugin_path()
    if found:
        return found

    def smoke(qemu: str, lib: Path, work: Path) -> None:
        if smoke_root is None:
            return
        out = subprocess.run([qemu, "-plugin", str(lib), "-d", "plugin", "-L", str(smoke_root),
                              str(Path(smoke_root) / "bin" / "true")], capture_output=True, text=True)
        if "insns:" not in out.stdout + out.stderr:
            raise DocscanError(f"qemu insn plugin: built but counts nothing "
                               f"({(out.stderr or out.stdout).strip()[:200]})")

    return build_plugin(plugin_dir(), "libinsn.so", None, qemu_name, smoke, {},
                        "qemu's instruction-counting plugin", progress)


def build_plugin(folder: Path, lib_name: str, c_source: Path | None, qemu_name: str,
                 smoke: Callable[[str, Path, Path], None], stamp: dict, what: str,
                 progress: Progress = silent) -> Path:
    """Compile a qemu TCG plugin against the installed qemu's plugin API and install it in
    ``folder`` (atomically, with a stamp naming the qemu version): the one build for docscan's
    plugins. ``c_source`` None is qemu's own tests/plugin/insn.c; ``smoke(qemu, lib, work)``
    proves the fresh plugin works before it is trusted (raises DocscanError if not).
    """
    for tool in ("gcc", "pkg-config", "apt-get", "tar"):
        if shutil.which(tool) is None:
            raise DocscanError(f"{tool}: not found; building {what} needs gcc, pkg-config, "
                               "libglib2.0-dev and apt-get (scripts/system-deps.sh)")
    version = installed_version()
    qemu = qemu_binary(qemu_name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{folder.name}.partial-", dir=folder.parent) as tmp:
        tmp = Path(tmp)
        progress(f"building {what} for qemu {version} (downloads Debian's qemu source)")
        src = _fetch_source(tmp, version)
        c_file = c_source or src / "tests" / "plugin" / "insn.c"
        lib = tmp / "out" / lib_name
        lib.parent.mkdir()
        cflags = _run(["pkg-config", "--cflags", "glib-2.0"], "pkg-config glib-2.0 (apt package libglib2.0-dev)").split()
        _run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(lib), f"-I{src / 'include' / 'qemu'}", *cflags,
              str(c_file)], f"gcc {c_file.name}")
        smoke(qemu, lib, tmp)
        (tmp / "out" / STAMP).write_text(json.dumps({"qemu": version, "source": str(src.name), **stamp}))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp / "out", folder)
    return folder / lib_name


def _fetch_source(tmp: Path, version: str) -> Path:
    """Download Debian's qemu source for ``version`` with a private apt config; return the tree."""
    apt = tmp / "apt"
    (apt / "lists" / "partial").mkdir(parents=True)
    (apt / "cache" / "archives" / "partial").mkdir(parents=True)
    (apt / "parts").mkdir()
    (apt / "sources.list").write_text(SOURCES)
    opts = [f"-oDir::Etc::SourceList={apt / 'sources.list'}", f"-oDir::Etc::SourceParts={apt / 'parts'}",
            f"-oDir::State::Lists={apt / 'lists'}", f"-oDir::Cache={apt / 'cache'}", "-qq"]
    _run(["apt-get", *opts, "update"], "apt-get update (deb-src lists)")
    dl = tmp / "dl"
    dl.mkdir()
    _run(["apt-get", *opts, "source", "--download-only", f"qemu={version}"], f"apt-get source qemu={version}", cwd=dl)
    tarballs = sorted(dl.glob("qemu_*.orig.tar.*"))
    if not tarballs:
        raise DocscanError(f"apt-get source qemu={version}: no orig tarball downloaded")
    tree = tmp / "src"
    tree.mkdir()
    _run(["tar", "-xf", str(tarballs[0]), "-C", str(tree), "--wildcards", "--strip-components=1",
          "*/tests/plugin/insn.c", "*/include/qemu/qemu-plugin.h"], "tar (insn.c, qemu-plugin.h)")
    for debian in dl.glob("qemu_*.debian.tar.*"):
        # Debian's patches could touch the plugin API header; apply none, but record it.
        (tree / "DEBIAN_TARBALL").write_text(debian.name)
    if not (tree / "tests" / "plugin" / "insn.c").is_file():
        raise DocscanError(f"{tarballs[0].name}: tests/plugin/insn.c not found")
    return tree


def _run(argv, what: str, cwd=None) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    except OSError as exc:
        raise DocscanError(f"{what}: cannot run ({exc.strerror})") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DocscanError(f"{what}: failed ({tail[-1][:200] if tail else f'exit {proc.returncode}'})")
    return proc.stdout


def parse_count(text: str) -> int:
    """The total from insn.c's output ('insns: N', or per-vCPU 'cpu 0 insns: N' lines)."""
    totals = [int(m) for m in re.findall(r"^(?:total )?insns: (\d+)", text, re.M)]
    if totals:
        return totals[-1]
    per_cpu = [int(m) for m in re.findall(r"cpu \d+ insns: (\d+)", text)]
    if per_cpu:
        return sum(per_cpu)
    raise DocscanError("qemu insn plugin: no instruction count in its output")
