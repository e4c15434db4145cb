"""`docscan eval IMAGES_DIR LABELS.json`: IoU, corner error and failures against labelled photos."""

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
)
from docscan.errors import DocscanError


@click.command(name="eval")
@click.argument("images_dir", type=click.Path(path_type=Path))
@click.argument("labels", type=click.Path(path_type=Path))
@model_option
@click.option("--method", type=click.Choice(["hed", "classic"]), default="hed", show_default=True,
              help="hed: edge model + quad finder; classic: OpenCV Canny + largest 4-point contour.")
@outdir_option("eval-out", "report.json, conditions.json/.csv, images.csv, contact_sheet.png and overlays/")
@threads_option
@click.option("--no-overlays", is_flag=True, help="Only the contact sheet, no per-image overlay PNGs.")
@looks_option(None)
def command(images_dir, labels, model_path, method, outdir, threads, no_overlays, looks):
    """Per image and mean polygon IoU, share with IoU >= 0.9, corner error / diagonal, failures."""
    from rich.console import Console
    from rich.table import Table

    from docscan.commands.progress_display import ProgressDisplay
    from docscan.detect.evaluate import IOU_GOOD, evaluate, match_labels, write_report
    from docscan.machine import describe_host

    items, unlabelled = match_labels(images_dir, labels)
    if method == "classic":
        if model_path is not None:
            raise DocscanError("--model: not used by --method classic")
        if looks is not None:
            raise DocscanError("--looks: not used by --method classic")
        from docscan.detect.classic import ClassicDetector

        detector, model_name = ClassicDetector(), "classic-opencv"
    else:
        from docscan.detect.detector import Detector

        looks = STILL_LOOKS if looks is None else looks   # a shot still's answer, as `docscan detect` gives it
        detector = Detector(model_or_default(model_path), num_threads=threads, **looks_kwargs(looks))
        model_name = str(detector.model.path)
    console = Console(stderr=True)
    if unlabelled:
        console.print(f"{len(unlabelled)} image(s) in {images_dir} have no label; skipped", highlight=False)
    with ProgressDisplay(console=console, transient=True) as progress:
        results, thumbs = evaluate(detector, items, None if no_overlays else outdir / "overlays", progress=progress)
    meta = {"images_dir": str(images_dir), "labels": str(labels), "method": method, "model": model_name,
            "looks": looks or None,
            "host": describe_host(), "unlabelled": unlabelled}
    report = write_report(outdir, results, thumbs, meta)
    s = report["summary"]

    table = Table(title=f"docscan eval: {method} ({model_name})")
    second_look = bool(looks) and looks > 1
    columns = ("image", "IoU", "corner err / diag", "conf") + (("agree", "checked") if second_look else ())
    for col in columns:
        table.add_column(col, justify="left" if col == "image" else "right")
    for r in results:
        if r.error:
            table.add_row(r.name, "[red]error[/red]", *[""] * (len(columns) - 2))
            continue
        iou = f"{r.iou:.3f}" if r.found else "[red]not found[/red]"
        if r.found and r.iou < IOU_GOOD:
            iou = f"[yellow]{iou}[/yellow]"
        looked = (f"{r.agreement:.2f}", f"{r.checked_confidence:.2f}") if second_look else ()
        table.add_row(r.name, iou, "-" if r.corner_error is None else f"{r.corner_error:.4f}", f"{r.confidence:.2f}",
                      *looked)
    out = Console()
    out.print(table)
    fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
    out.print(f"mean IoU {fmt(s['mean_iou'], '.4f')}  |  IoU >= 0.9: {fmt(s['share_iou_ge_0.9'], '.1%')}  |  "
              f"mean corner error {fmt(s['mean_corner_error'], '.4f')} of the diagonal  |  "
              f"not found {len(s['not_found'])}  |  IoU < 0.9: {len(s['failures_iou_lt_0.9'])}", highlight=False)
    groups = report["by_condition"]
    if groups:
        out.print(_condition_table(groups))
    for name in ("confidence", "checked_confidence"):
        c = s[name]
        if c and c["n_wrong"] and c["n_right"]:
            out.print(f"{name}: AUROC {c['auroc']:.3f} (right IoU >= 0.9: {c['n_right']}, wrong: {c['n_wrong']})  |  "
                      f"at {c['threshold']:.3f}, keeping {c['kept_right']:.0%} of the right ones, "
                      f"{c['flagged_wrong']:.0%} of the wrong ones are flagged", highlight=False)
    tables = f", per condition: {outdir / 'conditions.csv'}" if groups else ""
    click.echo(f"report: {outdir / 'report.json'}, per image: {outdir / 'images.csv'}{tables}, "
               f"contact sheet: {outdir / 'contact_sheet.png'}")
    if s["unreadable"]:
        bad = [r.error for r in results if r.error]
        raise DocscanError(bad[0] if len(bad) == 1 else f"{len(bad)} images failed: " + "; ".join(bad))


def _condition_table(groups: dict):
    from rich.table import Table

    table = Table(title="by condition")
    for col in ("condition", "images", "mean IoU", "IoU >= 0.9", "min IoU", "not found"):
        table.add_column(col, justify="left" if col == "condition" else "right")
    fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
    for name, g in groups.items():
        table.add_row(name, str(g["evaluated"]) + ("" if g["evaluated"] == g["images"] else f" of {g['images']}"),
                      fmt(g["mean_iou"], ".4f"), fmt(g["share_iou_ge_0.9"], ".1%"), fmt(g["min_iou"], ".3f"),
                      str(g["not_found"]))
    return table
