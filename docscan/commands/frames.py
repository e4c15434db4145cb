"""`docscan frames VIDEO_OR_FOLDER... [-o OUTDIR] [--smooth A]`: page corners per preview frame."""

from __future__ import annotations

from pathlib import Path

import click

from docscan.commands.edge_model_options import model_option, model_or_default, outdir_option, threads_option, unique_stem
from docscan.errors import DocscanError


@click.command(name="frames")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_option
@outdir_option("frames-out", "<name>.frames.json (one per input)")
@click.option("--smooth", type=click.FloatRange(0.0, 0.99), default=0.5, show_default=True,
              help="Weight of the previous frame's corners while the page stays put (0: none).")
@threads_option
def command(inputs, model_path, outdir, smooth, threads):
    """Find the page in every frame of a video or a folder of images (as a live preview would)."""
    import numpy as np

    from docscan.atomic import write_json
    from docscan.detect.detector import Detector
    from docscan.detect.frame_source import iter_frames
    from docscan.detect.frames import FrameDetector

    detector = Detector(model_or_default(model_path), num_threads=threads)
    errors, used = [], set()
    for path in inputs:
        frames = FrameDetector(detector, smooth=smooth)
        records, times = [], []
        try:
            for name, frame in iter_frames(path):
                if isinstance(frame, DocscanError):
                    errors.append(str(frame))
                    click.echo(f"error: {frame}", err=True)
                    records.append({"frame": name, "error": str(frame)})
                    frames.reset()
                    continue
                r = frames.detect(frame, name=f"{path}:{name}")
                times.append(sum(r.timings.values()))
                records.append({
                    "frame": name, "width": frame.shape[1], "height": frame.shape[0], "found": r.found,
                    "confidence": round(r.confidence, 4),
                    "corners": None if r.corners is None else [[round(float(x), 2), round(float(y), 2)]
                                                               for x, y in r.corners]})
        except DocscanError as exc:
            errors.append(str(exc))
            click.echo(f"error: {exc}", err=True)
            continue
        stem = unique_stem(path, used)
        found = sum(1 for r in records if r.get("found"))
        write_json(outdir / f"{stem}.frames.json", {
            "input": str(path), "model": str(detector.model.path), "smooth": smooth, "frames": records,
            "found": found, "median_ms": round(float(np.median(times)), 3) if times else None})
        click.echo(f"{path}: {len(records)} frames, page in {found}"
                   + (f", median {np.median(times):.1f} ms per frame" if times else ""))
    click.echo(f"results in {outdir}/")
    if errors:
        raise DocscanError(errors[0] if len(errors) == 1 else f"{len(errors)} inputs failed: " + "; ".join(errors))
