"""The committed latency baselines (benchmarks/baselines/*.baseline.json): write them, check them.

    python3 benchmarks/regress_baselines.py update [--only NAME] [--device D ...] [--walltime]
    python3 benchmarks/regress_baselines.py check  [--shipped] [--device D ...]

Models: the shipped model(s) ``models/hed_default*.tflite`` and a few zoo networks
converted at small input sizes with ``docscan convert`` (cached in the cache folder's
regress-models, ~/.cache/docscan unless $DOCSCAN_CACHE). Zoo weights are random at
conversion, so a re-converted zoo model has another SHA-256 but the same op list: the gate compares it, with a note
(instruction counts do not depend on dense weights' values).

Devices: host (callgrind), emu:armv7 and emu:aarch64 (qemu insn plugin), all in
deterministic mode; ``--walltime`` also writes host wall-time entries (machine-specific:
the file names the machine). ``check --shipped`` is `make regress-check`: the shipped
models against their committed baselines,
on every device that has an entry and is available here; exit 1 on a regression.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from docscan.errors import DocscanError  # noqa: E402
from docscan.paths import cache_dir  # noqa: E402
from docscan.regress import baseline as bl  # noqa: E402
from docscan.regress import gate  # noqa: E402

BASELINES = REPO / "benchmarks" / "baselines"
DEVICES = ("host", "emu:armv7", "emu:aarch64")
# name -> how to get the model (zoo networks beside the shipped one, checked without --shipped).
ZOO = {
    "hed_mobilenet_v2_128": {"zoo": "hed_mobilenet_v2", "input_size": "128x128", "variant": "fp32"},
    "hed_vgg_bn_96": {"zoo": "hed_vgg_bn", "input_size": "96x96", "variant": "fp32"},
    "mobilenet_v1_96": {"zoo": "mobilenet_v1", "input_size": "96x96", "variant": "fp32"},
}


def shipped() -> dict[str, dict]:
    return {p.name.removesuffix(".tflite").replace(".", "_"): {"path": str(p.relative_to(REPO))}
            for p in sorted((REPO / "models").glob("hed_default*.tflite"))}


def model_file(name: str, source: dict) -> Path:
    if "path" in source:
        return REPO / source["path"]
    out = cache_dir("regress-models", name)
    target = out / f"{source['zoo']}.{source['variant']}.tflite"
    if not target.is_file():
        print(f"converting {source['zoo']} at {source['input_size']} ({source['variant']}) ...", flush=True)
        proc = subprocess.run([sys.executable, "-m", "docscan.cli", "convert", source["zoo"], "--input-size",
                               source["input_size"], "--variant", source["variant"], "--parity-samples", "1",
                               "-o", str(out)], capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if not target.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            raise DocscanError(f"docscan convert {source['zoo']}: failed ({tail[0][:200]})")
    return target


def device_available(device: str) -> str:
    """'' when usable here, else why not."""
    import shutil
    if device == "host":
        return "" if shutil.which("valgrind") else "valgrind not installed"
    from docscan.bench.rootfs import get_isa, is_complete, rootfs_path
    isa = get_isa(device[4:])
    if shutil.which(isa.qemu.removesuffix("-static")) is None:
        return "Debian's dynamic qemu-user is not installed"
    if not is_complete(rootfs_path(isa)):
        return f"no {device} rootfs yet (built by `docscan bench -d {device}`)"
    return ""


def do_update(a) -> int:
    models = {**shipped(), **ZOO}
    if a.only:
        models = {k: v for k, v in models.items() if k in a.only}
    for name, source in models.items():
        path = model_file(name, source)
        base = BASELINES / f"{name}.baseline.json"
        for device in a.device or DEVICES:
            why = device_available(device)
            if why:
                print(f"{name} {device}: skipped ({why})")
                continue
            t0 = time.time()
            entry, notes = gate.update(path, base, device, deterministic=True,
                                       source=source)
            print(f"{name} {device}: {entry.stats['per_inference']:,} instructions/inference "
                  f"(repeats {entry.stats['repeats']}) in {time.time() - t0:.0f} s", *notes, flush=True)
            if a.walltime and device == "host":
                entry, _ = gate.update(path, base, device, per_op=False)
                print(f"{name} host wall time: median {entry.stats['median_ms']:.3f} ms", flush=True)
    return 0


def do_check(a) -> int:
    from docscan.commands.bench_gate import print_verdict

    models = shipped()
    if not models or not all((BASELINES / f"{n}.baseline.json").is_file() for n in models):
        print("error: models/hed_default*.tflite without a committed baseline in benchmarks/baselines/: "
              "run `python3 benchmarks/regress_baselines.py update --only NAME`", file=sys.stderr)
        return 2
    if not a.shipped:
        models = {**models, **ZOO}
    failed = checked = not_compared = 0
    if "host" in (a.device or DEVICES) and not device_available("host"):
        # One valgrind start-up for all host counts (the gate's first count reads this cache).
        from docscan.regress.instructions import count_host_many
        count_host_many([model_file(n, bl.load(BASELINES / f"{n}.baseline.json").source or s)
                         for n, s in models.items()])
    for name, source in models.items():
        base_path = BASELINES / f"{name}.baseline.json"
        base = bl.load(base_path)
        path = model_file(name, base.source or source)
        for device in a.device or DEVICES:
            if bl.entry_key(device, "instructions") not in base.entries:
                continue
            why = device_available(device)
            if why:
                print(f"{name} on {device}: skipped ({why})")
                continue
            v = gate.check(path, base_path, device, deterministic=True)
            print_verdict(v, top=15, table=not v.passed)
            failed += not v.passed
            checked += v.compared
            not_compared += not v.compared
    if not checked:
        print("regress-check: FAILED (no baseline entry could be checked on this machine)")
        return 1
    extra = f", {not_compared} not compared (CPU features differ from the baseline's)" if not_compared else ""
    print(f"regress-check: {'FAILED' if failed else 'ok'} ({checked} checks{extra})")
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("update")
    u.add_argument("--only", action="append")
    u.add_argument("--device", action="append", choices=DEVICES)
    u.add_argument("--walltime", action="store_true")
    c = sub.add_parser("check")
    c.add_argument("--shipped", action="store_true", help="only the shipped models")
    c.add_argument("--device", action="append", choices=DEVICES)
    a = ap.parse_args()
    try:
        return do_update(a) if a.cmd == "update" else do_check(a)
    except DocscanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
