"""The whole detect pipeline on the emulated ARM devices: guest instructions per stage, per frame.

The seed's 2.8 FPS on a 32-bit phone was the whole app, not the network. This runs
docscan's own detect code (``pipeline_guest.py``: decode, resize + contrast, model, quad
finder, corner refinement, warp) inside the emulated armv7 and aarch64 root filesystems,
with Debian's OpenCV (``opencv_layer``) and tflite-runtime, under qemu with docscan's block
plugin (``estimate/blocks.c``), and counts the guest instructions each stage executes.

Method: one guest process per device. The stages' functions are wrapped by probes that make
a marker system call on entry and exit; the plugin closes an instruction-count segment at
every marker, so one run gives every stage of every frame, exactly (no subtraction of
separate runs, whose start-up differs by ~0.02 %). A warm-up frame runs first (lazy
set-up: XNNPACK weight packing, caches), then ``frames`` measured frames of the same input.
Counts are deterministic: the same code and input give the same count per stage, to the
instruction, run after run, on both ISAs (qemu runs under ``setarch -R``, see ``trace.no_aslr``);
"other" (the glue between probes) varies by a few dozen instructions. Run both ISAs on one
``snapshot_source`` of the code when the checkout may change meanwhile.

These are instruction counts under qemu-user (*emulated*): not phone time (no caches,
memory bandwidth or pipeline), but how much work each stage is on each ISA, which is what
the 32-vs-64-bit question needs. The model stage includes docscan's int8 lookup tables
around ``invoke``; ``count_emulated`` (bare ``invoke``) is reported beside it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from docscan.errors import DocscanError
from docscan.paths import REPO, cache_dir
from docscan.progress import Progress, silent

GUEST = Path(__file__).with_name("pipeline_guest.py")
PIPELINES = ("camera", "preview")
# Table order; "other" is the Python between probed calls (timings, corner bookkeeping).
STAGES = ("decode", "resize+contrast", "model", "quad finder", "quad finder: approxPolyN polyfill",
          "corner refinement", "full decode for the scan", "warp", "other")
LABEL = "EMULATED: guest instructions under qemu-user, not phone time"
SCAN_STAGES = ("full decode for the scan", "warp")   # only when a flat scan is asked for


@dataclass
class PipelineCount:
    """One pipeline on one emulated device: instructions per stage, per measured frame."""

    device: str                       # emu:armv7 | emu:aarch64
    pipeline: str                     # camera (a photo file) | preview (an RGB frame in memory)
    photo: str
    frame_shape: list[int]            # the image the pipeline saw (decoded photo or preview frame)
    stages: dict[str, list[int]]      # stage -> instructions in each measured frame
    corners: list | None              # the last frame's corners (pixels of frame_shape / the photo)
    confidence: float
    model: str
    tool: str
    runtime: str
    opencv: str
    compat: list[str] = field(default_factory=list)   # what the guest patched to run docscan's code
    missing_probes: list[str] = field(default_factory=list)
    model_count: int | None = None    # count_emulated: instructions per bare invoke, same device
    label: str = LABEL

    @property
    def frames(self) -> int:
        return len(next(iter(self.stages.values()), []))

    def per_frame(self, stage: str) -> float:
        values = self.stages.get(stage, [])
        return sum(values) / len(values) if values else 0.0

    @property
    def total(self) -> float:
        return sum(self.per_frame(s) for s in self.stages)

    @property
    def corners_only(self) -> float:
        """Photo -> corners: the frame without the flat scan's stages."""
        return self.total - sum(self.per_frame(s) for s in SCAN_STAGES)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["per_frame"] = {s: self.per_frame(s) for s in self.stages}
        d["total_per_frame"] = self.total
        d["corners_only_per_frame"] = self.corners_only
        d["dominant_stage"] = self.dominant()
        d["dominant_stage_corners_only"] = self.dominant(scan=False)
        return d

    def dominant(self, scan: bool = True) -> str:
        """The stage with the most instructions (``scan=False``: among photo -> corners)."""
        stages = [s for s in self.stages if scan or s not in SCAN_STAGES]
        return max(stages, key=self.per_frame) if stages else ""


def check_photo(photo) -> Path:
    """The photo as a readable image, or DocscanError naming it (before any emulation)."""
    from docscan.detect.image_io import load_image

    path = Path(photo)
    load_image(path)    # raises "PATH: no such file" / "not a readable image" / "cut short"
    return path.resolve()


def snapshot_source(dest) -> Path:
    """A copy of the docscan package's Python files under ``dest`` (returned: the folder to
    pass as ``source``): runs that must see the same code (a re-run, both ISAs of one
    report) use it while the checkout may change under them."""
    dest = Path(dest)
    package = REPO / "docscan"
    for src in (*package.rglob("*.py"), *package.rglob("*.c")):     # (.c: the quad finder's C source)
        if "__pycache__" not in src.parts:
            target = dest / "docscan" / src.relative_to(package)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    return dest


def count_pipeline(photo, isa_name: str, *, model=None, pipeline: str = "camera", frames: int = 2,
                   frame_size: tuple[int, int] = (1280, 720), compare_model: bool = True, source=None,
                   native: bool = True, progress: Progress = silent) -> PipelineCount:
    """Instructions per stage of docscan's detect pipeline on ``photo`` in emulated ``isa_name``.

    ``pipeline``: "camera" runs ``Detector.detect_camera_file(photo, scan=True)``; "preview"
    resizes the photo to ``frame_size`` (W, H) and runs ``FrameDetector.detect`` on it.
    ``compare_model``: also count the bare model with ``count_emulated`` (two more guest runs).
    ``source``: the folder holding the ``docscan`` package the guest imports (default: this
    checkout; ``snapshot_source`` makes a fixed copy). ``native``: the quad finder's C path
    where a cross compiler builds it (False: its numpy path); ``compat`` says which ran.
    """
    from docscan.bench.estimate.trace import MARK_FD, _source_hash, run_traced
    from docscan.bench.opencv_layer import ensure_opencv_layer, guest_env
    from docscan.bench.pipeline_guest import BEGIN, END
    from docscan.bench.rootfs import get_isa
    from docscan.detect.edge_model import default_model_path

    if pipeline not in PIPELINES:
        raise DocscanError(f"pipeline {pipeline!r}: choose {' or '.join(PIPELINES)}")
    if frames < 1:
        raise DocscanError(f"frames {frames}: at least 1")
    isa = get_isa(isa_name)
    photo = check_photo(photo)
    model = Path(model).resolve() if model is not None else default_model_path()
    if model.suffix != ".tflite" or not model.is_file():
        raise DocscanError(f"{model}: the pipeline on ARM needs a .tflite model file")
    root, layer = ensure_opencv_layer(isa.name, progress=progress)
    repo = Path(source).resolve() if source is not None else REPO
    spec = {"repo": str(repo), "model": str(model), "pipeline": pipeline, "photo": str(photo),
            "frame_size": list(frame_size), "frames": frames, "mark_fd": MARK_FD}
    env = {**guest_env(root, layer, isa), **(_native_env(isa, progress) if native else {})}
    proc = run_traced(isa, root, GUEST, spec, env, progress=progress,
                      what=f"emu:{isa.name}: {pipeline} pipeline on {photo.name}, {frames} frame(s) + warm-up, counting")
    result = proc.report(BEGIN, END, f"emu:{isa.name}: the pipeline under qemu failed")
    blocks, segments = proc.blocks, proc.segments
    sizes = {b: len(block.sizes) for b, block in blocks.items()}
    stages: dict[str, list[int]] = {}
    for seg_id, stage, frame in result["segments"]:
        if frame is None:
            continue
        seg = segments.get(seg_id)
        if seg is None:
            raise DocscanError(f"emu:{isa.name}: the block trace has no segment {seg_id} (plugin marker lost)")
        counts = stages.setdefault(stage, [0] * frames)
        counts[frame] += sum(n * sizes[b] for b, n in seg.items())
    ordered = {s: stages[s] for s in STAGES if s in stages}
    ordered.update({s: v for s, v in stages.items() if s not in ordered})
    last = result["frames"][-1]
    count = PipelineCount(
        f"emu:{isa.name}", pipeline, str(photo), last["shape"], ordered, last["corners"], last["confidence"],
        str(model), f"qemu-user {isa.name} + docscan blocks.c ({_source_hash()}), marker segments per stage",
        result["runtime"], f"Debian python3-opencv {result['opencv']}",
        result["polyfills"] + [f"quad finder arithmetic: {result.get('quad_path', 'numpy')}"],
        result["missing_probes"])
    if compare_model:
        from docscan.regress.instructions import count_emulated

        progress(f"emu:{isa.name}: the bare model (count_emulated)")
        count.model_count = count_emulated(model, isa.name, progress=progress).per_inference
    return count


def _native_env(isa, progress: Progress) -> dict:
    """The guest's quad finder in C, as on the host, where Debian's cross GCC for the ISA
    (``gcc-arm-linux-gnueabihf``, ``gcc-aarch64-linux-gnu``) builds it into docscan's cache
    (the guest reads host paths its root filesystem lacks); else its numpy path, which
    ``guest_env`` states."""
    from docscan.detect import native

    compiler = shutil.which(f"{isa.triplet}-gcc")
    if compiler is None:
        progress(f"emu:{isa.name}: no {isa.triplet}-gcc; the quad finder runs its numpy path")
        return {}
    try:
        native.build(isa.machine, compiler)
    except (OSError, subprocess.SubprocessError, RuntimeError) as e:
        progress(f"emu:{isa.name}: the quad finder runs its numpy path ({str(e).splitlines()[0]})")
        return {}
    return {"DOCSCAN_NATIVE": "1", "DOCSCAN_CACHE": str(cache_dir())}


@dataclass
class PipelineReport:
    """Per-stage counts on several emulated devices, with the 32-vs-64-bit ratio."""

    counts: list[PipelineCount]

    def stages(self) -> list[str]:
        seen: list[str] = []
        for c in self.counts:
            seen.extend(s for s in c.stages if s not in seen)
        return [s for s in STAGES if s in seen] + [s for s in seen if s not in STAGES]

    def ratio(self, stage: str | None = None) -> float | None:
        """armv7 / aarch64 instructions for ``stage`` (None: the whole frame), when both ran."""
        by = {c.device: c for c in self.counts}
        a32, a64 = by.get("emu:armv7"), by.get("emu:aarch64")
        if a32 is None or a64 is None:
            return None
        n32, n64 = (a32.total, a64.total) if stage is None else (a32.per_frame(stage), a64.per_frame(stage))
        return n32 / n64 if n64 else None

    def to_dict(self) -> dict:
        return {"label": LABEL, "stages": self.stages(), "counts": [c.to_dict() for c in self.counts],
                "ratio_32_64": {s: self.ratio(s) for s in self.stages()} | {"total": self.ratio()}}


def run_pipeline(photo, devices: list[str], **kw) -> PipelineReport:
    """``count_pipeline`` on each emulated device spec (``emu:armv7``, ``emu:aarch64``), all on
    one snapshot of the code (unless ``source`` is given); a one-line DocscanError for any
    other device."""
    isas = []
    for spec in devices:
        if not spec.startswith("emu:"):
            raise DocscanError(f"{spec}: the pipeline's instruction counts need an emulated device "
                               "(-d emu:armv7 / -d emu:aarch64)")
        from docscan.bench.rootfs import get_isa
        isas.append(get_isa(spec[4:]).name)
    check_photo(photo)
    if kw.get("source") is not None:
        return PipelineReport([count_pipeline(photo, isa, **kw) for isa in isas])
    with tempfile.TemporaryDirectory(prefix="docscan-pipeline-src-") as tmp:
        # one copy of the code for every device: the 32/64 ratio compares the same pipeline
        source = snapshot_source(tmp)
        return PipelineReport([count_pipeline(photo, isa, source=source, **kw) for isa in isas])


def save(report: PipelineReport, json_path, png: bool = True) -> list[Path]:
    """Write the report's JSON (and a PNG chart beside it); the paths written."""
    from docscan.atomic import write_text

    json_path = Path(json_path)
    written = [write_text(json_path, json.dumps(report.to_dict(), indent=2) + "\n")]
    if png:
        written.append(save_png(report, json_path.with_suffix(".png")))
    return written


def save_png(report: PipelineReport, path) -> Path:
    """Stacked bars: instructions per frame by stage, one bar per device and pipeline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from docscan.atomic import atomic_path

    stages = report.stages()
    kinds = [k for k in PIPELINES if any(c.pipeline == k for c in report.counts)]
    # one panel per pipeline: a preview frame is a tenth of a 12 MP camera file
    fig, axes = plt.subplots(1, len(kinds), figsize=(2.5 + 2.6 * len(kinds), 4.8), squeeze=False)
    colours = dict(zip(stages, plt.cm.tab10.colors + plt.cm.Set2.colors))
    for ax, kind in zip(axes[0], kinds):
        counts = [c for c in report.counts if c.pipeline == kind]
        names = [c.device for c in counts]
        bottom = [0.0] * len(names)
        for s in stages:
            vals = [c.per_frame(s) / 1e6 for c in counts]
            ax.bar(names, vals, bottom=bottom, label=s, color=colours[s])
            bottom = [b + v for b, v in zip(bottom, vals)]
        for x, c in enumerate(counts):
            if c.model_count:
                ax.plot([x - 0.4, x + 0.4], [c.model_count / 1e6] * 2, "k--", lw=1)
        h, w = counts[0].frame_shape[:2]
        ax.set_title(f"{kind} ({w}x{h})\n{Path(counts[0].photo).name[:40]}", fontsize=8)
    axes[0][0].set_ylabel("million guest instructions per frame")
    fig.suptitle("docscan detect pipeline per stage - EMULATED (qemu instruction counts, not phone time); "
                 "dashed: the bare model", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="center right")
    fig.subplots_adjust(right=0.72)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)
