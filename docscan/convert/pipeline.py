"""The whole `docscan convert`: passes -> variants -> checks -> files, as one library call.

Everything is computed in memory first; files are written (atomically) only when every
variant converted and passed the target-runtime check, so a failure leaves nothing
behind. Parity thresholds that fail do not suppress the files (they are the evidence);
the result says which held and which were gated, and the CLI exits non-zero when a gated
one failed.

Deterministic: the same model and options give the same files and numbers every run (the
parity inputs and the synthetic calibration pages are seeded; a zoo source is built with
seeded weights by ``docscan.convert.loading``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from docscan.atomic import write_bytes, write_json
from docscan.convert import calibration, inventory, parity, runtime_versions
from docscan.convert import tflite_convert as tc
from docscan.errors import DocscanError
from docscan.machine import host_facts
from docscan.progress import Progress, silent

DYNAMIC_SHAPE_OPS = ("SHAPE", "STRIDED_SLICE", "PACK")


@dataclass
class Options:
    variants: tuple[str, ...] = ("fp32",)
    io_dtype: str = "int8"
    calib_dir: str | None = None
    calib_samples: int = 32
    input_size: tuple[int, int] | None = None
    fold_bn: bool = True
    rewrite_transpose_conv: bool = False
    sum_fuse: bool = False      # Concatenate(one-channel maps) -> 1x1 Conv2D as MUL + ADD (convert.fuse_sum)
    target_runtime: str | None = None
    parity_random: int = 4
    parity_real: int = 4
    trained: bool = True     # False: freshly initialised (zoo) weights; weight-sensitive checks only reported


@dataclass
class VariantResult:
    variant: str
    tflite: bytes
    inventory: inventory.Inventory
    parity_sets: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    report: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every gated check held (reported-only checks do not count)."""
        return not any(c.failed for c in self.checks)


def _versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("tensorflow-cpu", "tensorflow", "keras", "ai-edge-litert"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def prepare(model, opts: Options, progress: Progress = silent):
    """(reference model at the fixed size, model to convert, pass report)."""
    from docscan.convert.bn_fold import fold_batchnorm
    from docscan.convert.fuse_sum import rewrite_fuse_sums
    from docscan.convert.graph import functional
    from docscan.convert.transpose_conv import rewrite_transpose_convs

    size = tc.resolve_size(model, opts.input_size)
    graph = functional(model)
    if graph is None:      # subclassed model: no graph to rewrite, the converter gets it as is
        if opts.rewrite_transpose_conv or opts.sum_fuse:
            raise DocscanError(f"{model.name}: graph rewrites (--rewrite-transpose-conv, --sum-fuse) need a "
                               "functional or Sequential model")
        progress("not a functional model: BatchNorm folding skipped (the converter folds what it can)")
        passes = {"input_size": list(size), "transpose_conv": {"rewritten": []}, "fuse_sum": {"rewritten": []},
                  "bn_folding": {"enabled": False, "layers": [], "note": "subclassed model: no Keras graph"}}
        return model, model, size, passes
    ref = tc.with_input_size(graph, size)
    work, passes = ref, {"input_size": list(size)}
    if opts.fold_bn:
        work, fates = fold_batchnorm(ref)
        passes["bn_folding"] = {"enabled": True, "layers": [f.to_dict() for f in fates]}
        progress(f"BatchNorm: {len(fates)} layer(s), " + ", ".join(
            f"{sum(f.action == a for f in fates)} {a}" for a in sorted({f.action for f in fates})))
    else:
        passes["bn_folding"] = {"enabled": False, "layers": []}
    passes["transpose_conv"] = {"rewritten": []}
    if opts.rewrite_transpose_conv:
        work, done = rewrite_transpose_convs(work)
        passes["transpose_conv"] = {"rewritten": [d.to_dict() for d in done], "reason": "--rewrite-transpose-conv"}
    passes["fuse_sum"] = {"rewritten": []}
    if opts.sum_fuse:
        work, done = rewrite_fuse_sums(work)
        passes["fuse_sum"] = {"rewritten": [d.to_dict() for d in done], "reason": "--sum-fuse"}
        progress(f"fuse sum: {len(done)} concatenation(s) + 1x1 conv rewritten as MUL + ADD")
    return ref, work, size, passes


def convert_model(model, name: str, outdir: str | Path, opts: Options, *, source: str = "",
                  progress: Progress = silent) -> list[VariantResult]:
    outdir = Path(outdir)
    _check_outdir(outdir)
    if opts.target_runtime:
        runtime_versions.parse_version(opts.target_runtime)
    ref, work, size, passes = prepare(model, opts, progress)
    hw = size[:2]

    sets = parity.parity_inputs(hw, size[2], opts.parity_random, opts.parity_real)
    if opts.fold_bn and passes["bn_folding"]["layers"] and sets:
        passes["bn_folding"]["folded_vs_unfolded"] = parity.fold_difference(ref, work, sets)
    refs = {label: parity.run_keras(ref, x) for label, x in sets.items()}
    names = tc.output_names(ref, len(next(iter(refs.values()))) if refs else None)

    calib = None
    if "int8" in opts.variants:
        images = calibration.calibration_set(opts.calib_dir, opts.calib_samples, hw)
        calib = calibration.with_progress(images, f"calibrating int8 on {len(images)} images", progress)
        passes["calibration"] = {"source": opts.calib_dir or "docscan.train.synth", "samples": len(images)}

    results = _convert_all(work, opts, size, calib, progress)
    if opts.target_runtime:
        results, work = _enforce_runtime(results, work, opts, size, calib, passes, progress)

    corner_fn = parity.corner_iou_fn()
    fp32_size = next((r.inventory.size_bytes for r in results if r.variant == "fp32"), None)
    for r in results:
        progress(f"parity {r.variant}")
        for label, x in sets.items():
            test = parity.run_tflite(r.tflite, x)
            # page corners only mean something on photos of pages
            r.parity_sets.append(parity.compare(refs[label], test, names, hw, label,
                                                corner_fn if label == "real" else None))
        r.checks = parity.check(r.variant, r.parity_sets, trained=opts.trained)
        r.report = _report(r, name, source, opts, passes, fp32_size)

    for r in results:   # all in memory and checked: now write
        stem = f"{name}.{r.variant}"
        r.paths = {"tflite": outdir / f"{stem}.tflite", "report": outdir / f"{stem}.report.json"}
        r.report["files"] = {k: str(p) for k, p in r.paths.items()}
        write_bytes(r.paths["tflite"], r.tflite)
        write_json(r.paths["report"], r.report)
    return results


def _check_outdir(outdir: Path):
    import os

    probe = outdir
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise DocscanError(f"{outdir}: output path is not a directory")
    if not os.access(probe, os.W_OK):
        raise DocscanError(f"{outdir}: output directory is not writable")


def _convert_all(work, opts, size, calib, progress):
    results = []
    for v in opts.variants:
        progress(f"converting {v}")
        data = tc.convert(work, v, size, calibration=calib, io_dtype=opts.io_dtype)
        results.append(VariantResult(v, data, inventory.read_inventory(data, f"{v} model")))
    return results


def _enforce_runtime(results, work, opts, size, calib, passes, progress):
    """Fail naming the ops the target runtime cannot run; rewrite TRANSPOSE_CONV first if that helps."""
    from docscan.convert.transpose_conv import rewrite_transpose_convs

    def all_blockers(rs):
        return {r.variant: runtime_versions.blockers(r.inventory.ops, opts.target_runtime) for r in rs}

    found = all_blockers(results)
    tconv_blocks = any(b.op == "TRANSPOSE_CONV" for bl, _ in found.values() for b in bl)
    if tconv_blocks and not passes["transpose_conv"]["rewritten"]:
        progress(f"runtime {opts.target_runtime} cannot run TRANSPOSE_CONV here: rewriting as CONV_2D + DEPTH_TO_SPACE")
        work, done = rewrite_transpose_convs(work)
        passes["transpose_conv"] = {"rewritten": [d.to_dict() for d in done],
                                    "reason": f"--target-runtime {opts.target_runtime}"}
        results = _convert_all(work, opts, size, calib, progress)
        found = all_blockers(results)
    bad = {v: bl for v, (bl, _) in found.items() if bl}
    if bad:
        parts = [f"{v}: " + ", ".join(str(b) for b in bl) for v, bl in bad.items()]
        raise DocscanError(f"target runtime {opts.target_runtime} cannot run: " + "; ".join(parts))
    passes["target_runtime"] = {"version": opts.target_runtime, "ok": True,
                                "unknown_requirements": sorted({u for _, un in found.values() for u in un})}
    return results, work


def _report(r: VariantResult, name, source, opts, passes, fp32_size) -> dict:
    inv = r.inventory.to_dict()
    dynamic = {op: n for op, n in inv["counts"].items() if op in DYNAMIC_SHAPE_OPS}
    return {
        "name": name,
        "source": source,
        "variant": r.variant,
        "io_dtype": opts.io_dtype if r.variant == "int8" else "float32",
        "size_bytes": r.inventory.size_bytes,
        "size_vs_fp32": None if not fp32_size else r.inventory.size_bytes / fp32_size,
        "static_shapes": {"ok": not dynamic, "dynamic_shape_ops": dynamic},
        "passes": passes,
        "inventory": {k: inv[k] for k in ("counts", "total_macs", "min_runtime", "weight_bytes", "inputs", "outputs")},
        "ops": [{"index": o["index"], "op": o["op"], "version": o["version"], "macs": o["macs"],
                 "min_runtime": o["min_runtime"],
                 "inputs": [[t["dtype"], t["shape"]] for t in o["inputs"]],
                 "outputs": [[t["dtype"], t["shape"]] for t in o["outputs"]]} for o in inv["ops"]],
        "parity": [parity.to_dict(s) for s in r.parity_sets],
        "weights": "trained" if opts.trained else "untrained (seeded initial weights)",
        "thresholds": [{"metric": c.metric, "op": c.op, "bound": c.bound, "value": c.value, "held": c.held,
                        "gated": c.gated, "not_gated_because": c.not_gated_because} for c in r.checks],
        "passed": r.passed,
        "parity_checked": bool(r.parity_sets),
        "host": host_facts(),
        "versions": _versions(),
    }
