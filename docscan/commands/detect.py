"""`docscan detect IMAGE... [--model M] [-o OUTDIR]`: corners JSON, overlay and flat scan per photo.

Camera files are detected at a reduced decode (``Detector.detect_camera_file``) and decoded
in full only for the flat scan; ``--full-decode`` runs the earlier full-resolution way.
A shot still gets the better answer by default (``--looks 4``): the frame is seen again
mirrored (``docscan.detect.second_look``: the looks' agreement and a checked confidence come
with it), and the part of the photo around the page is cut out and seen again, mirrored too
(``docscan.detect.close_look``); ``--looks 2`` takes only the mirrored look, ``--looks 1``
answers as the live preview does (``docscan frames``), from one model run."""

from __future__ import annotations

from pathlib import Path

import click

from docscan.commands.edge_model_options import (
    STILL_LOOKS,
    looks_kwargs,
    looks_option,
    model_option,
    model_or_default,
    outdir_option,
    threads_option,
    unique_stem,
)
from docscan.errors import DocscanError


@click.command(name="detect")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_option
@outdir_option("detect-out", "<name>.json, <name>.overlay.png and <name>.scan.png")
@threads_option
@click.option("--no-refine", is_flag=True, help="Skip sub-pixel refinement on the photo.")
@click.option("--no-scan", is_flag=True, help="No flat scan (the photo is then never decoded in full).")
@click.option("--full-decode", is_flag=True,
              help="Decode every photo in full and detect on all its pixels (the slower way before reduced decoding).")
@looks_option(str(STILL_LOOKS))
def command(images, model_path, outdir, threads, no_refine, no_scan, full_decode, looks):
    """Find the page in each photo: 4 corners with a confidence, an overlay and the flat scan."""
    from rich.console import Console
    from rich.table import Table

    from docscan.atomic import write_bytes, write_json
    from docscan.detect.camera_file import CameraImage
    from docscan.detect.detector import Detector
    from docscan.detect.drawing import draw_overlay
    from docscan.detect.image_io import encode_png

    console = Console(stderr=True)
    detector = Detector(model_or_default(model_path), num_threads=threads, refine=not no_refine,
                        **looks_kwargs(looks))
    second_look = detector.second_look
    table = Table(title=f"docscan detect ({detector.model.path}); corners x,y clockwise; times in ms "
                        "(warp: with the full decode for the scan)")
    columns = ("image", "found", "conf") + (("agree", "checked") if second_look else ()) + (
        "corners", "load", "model") + (("looks",) if looks > 1 else ()) + ("quad", "warp")
    for col in columns:
        table.add_column(col, justify="left" if col.startswith(("image", "corners")) else "right",
                         overflow="fold")
    errors, used = [], set()
    for path in images:
        stem = unique_stem(path, used)
        try:
            if full_decode:
                image, det = detector.detect_file(path, warp=not no_scan)
                cam = CameraImage(image, 1, (image.shape[1], image.shape[0]))
            else:
                cam, det = detector.detect_camera_file(path, scan=not no_scan)
        except DocscanError as exc:
            errors.append(str(exc))
            console.print(f"[red]error:[/red] {exc}", highlight=False)
            table.add_row(path.name, "[red]error[/red]", *[""] * (len(columns) - 2))
            continue
        W, H = cam.full_size
        # drawn on the image detection ran on (1/scale of the photo)
        on_image = None if det.corners is None else (det.corners + 0.5) / cam.scale - 0.5
        record = {
            "image": str(path), "width": W, "height": H, "detected_at_scale": cam.scale,
            "model": str(detector.model.path),
            "looks": looks, "found": det.found, "confidence": round(float(det.confidence), 4),
            "corners": None if det.corners is None else [[round(float(x), 2), round(float(y), 2)] for x, y in det.corners],
            "reason": det.reason or None,
            "timings_ms": {k: round(v, 3) for k, v in det.timings.items()},
        }
        if det.second_look is not None:
            look = det.second_look
            record["second_look"] = {"agreement": round(look.agreement, 4),
                                     "checked_confidence": round(look.checked_confidence, 4), "ms": round(look.ms, 3)}
        if det.close_look is not None:
            record["close_look"] = {"taken": det.close_look.box is not None, "ms": round(det.close_look.ms, 3)}
        write_json(outdir / f"{stem}.json", record)
        write_bytes(outdir / f"{stem}.overlay.png", encode_png(draw_overlay(cam.image, det.edge_map, on_image,
                                                                    region_map=det.region_map)))
        if det.scan is not None:
            write_bytes(outdir / f"{stem}.scan.png", encode_png(det.scan))
        else:   # an earlier run's scan must not sit beside a record that says "not found"
            (outdir / f"{stem}.scan.png").unlink(missing_ok=True)
        corners = "-" if det.corners is None else " ".join(f"{x:.0f},{y:.0f}" for x, y in det.corners)
        t = det.timings
        looked = ((f"{record['second_look']['agreement']:.2f}", f"{record['second_look']['checked_confidence']:.2f}")
                  if second_look else ())
        table.add_row(path.name, "yes" if det.found else f"[yellow]{det.reason}[/yellow]", f"{det.confidence:.2f}",
                      *looked, corners, f"{t['load']:.1f}", f"{t['model']:.1f}",
                      *((f"{t['looks']:.1f}",) if looks > 1 else ()), f"{t['quad']:.1f}",
                      f"{t['warp'] + t.get('scan_load', 0.0):.1f}")
    Console().print(table)
    click.echo(f"results in {outdir}/")
    if errors:
        raise DocscanError(errors[0] if len(errors) == 1 else f"{len(errors)} images failed: " + "; ".join(errors))
