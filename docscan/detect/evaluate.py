"""Detection accuracy against labelled photos: IoU, corner error, failures, contact sheet.

Labels: ``{file name: {"corners": [[x, y] x 4], "width"?, "height"?, "condition"?, ...}}``
in pixels of the full image (when width/height are given and the image on disk has another
size, the corners are scaled to it). With a ``condition`` (low-contrast, notebook, ...) the
report also groups the results by it (``docscan.detect.conditions``); every report says how
well the confidence separates right from wrong detections (``docscan.detect.confidence``).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from docscan.atomic import write_bytes, write_json, write_text
from docscan.detect import conditions
from docscan.detect.confidence import IOU_GOOD, separation
from docscan.detect.drawing import draw_overlay
from docscan.detect.geometry import corner_error, polygon_iou
from docscan.detect.image_io import encode_png, load_image
from docscan.errors import DocscanError
from docscan.images import IMAGE_SUFFIXES
from docscan.progress import Progress, silent

__all__ = ["IOU_GOOD", "EvalItem", "Labelled", "contact_sheet", "evaluate", "load_labelled", "match_labels",
           "read_labels", "summarize", "write_report"]


@dataclass
class Labelled:
    name: str
    path: Path
    corners: np.ndarray          # (4, 2) float64
    size: tuple[int, int] | None  # (width, height) the corners refer to, when known
    condition: str | None = None  # the label's "condition", when it has one


@dataclass
class EvalItem:
    name: str
    iou: float = 0.0
    corner_error: float | None = None     # mean corner distance / image diagonal
    found: bool = False
    confidence: float = 0.0
    corners: list | None = None
    truth: list | None = None
    timings: dict = field(default_factory=dict)
    error: str | None = None              # unreadable image etc.
    condition: str | None = None          # from the label
    agreement: float | None = None        # with a second look (docscan.detect.second_look)
    checked_confidence: float | None = None


def read_labels(labels_path: str | os.PathLike) -> dict[str, dict]:
    labels_path = Path(labels_path)
    if not labels_path.is_file():
        raise DocscanError(f"{labels_path}: labels file not found")
    try:
        data = json.loads(labels_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DocscanError(f"{labels_path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise DocscanError(f"{labels_path}: expected a non-empty object mapping file names to {{\"corners\": ...}}")
    for name, entry in data.items():
        c = entry.get("corners") if isinstance(entry, dict) else None
        try:
            arr = np.asarray(c, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.shape != (4, 2) or not np.isfinite(arr).all():
            raise DocscanError(f"{labels_path}: entry '{name}' needs \"corners\": 4 [x, y] pairs")
        cond = entry.get("condition")
        if cond is not None and not isinstance(cond, (str, int)):
            raise DocscanError(f"{labels_path}: entry '{name}' has a \"condition\" that is not a name: {cond!r}")
    return data


def match_labels(images_dir: str | os.PathLike, labels_path: str | os.PathLike) -> tuple[list[Labelled], list[str]]:
    """Labelled images present in ``images_dir``; (items, unlabelled image names).

    Labels naming images that are not in the directory are an error (listing them):
    an evaluation silently shrunk by a typo is worse than none.
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise DocscanError(f"{images_dir}: not a directory")
    images = sorted(p for p in images_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DocscanError(f"{images_dir}: no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    labels = read_labels(labels_path)
    by_name = {p.name: p for p in images}
    missing = [n for n in labels if n not in by_name]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DocscanError(f"{labels_path}: {len(missing)} labelled image(s) not in {images_dir}: {shown}")
    items = []
    for name, entry in labels.items():
        try:
            size = (int(entry["width"]), int(entry["height"])) if "width" in entry and "height" in entry else None
        except (TypeError, ValueError):
            raise DocscanError(f"{labels_path}: entry '{name}' needs integer width and height, "
                               f"got {entry['width']!r} x {entry['height']!r}") from None
        cond = entry.get("condition")
        items.append(Labelled(name, by_name[name], np.asarray(entry["corners"], np.float64), size,
                              None if cond is None else str(cond)))
    unlabelled = [p.name for p in images if p.name not in labels]
    return items, unlabelled


def load_labelled(it: Labelled) -> tuple[np.ndarray, np.ndarray]:
    """The image (RGB) and its label's corners in that image's pixels. DocscanError when the
    image cannot be read or its label was made for another picture."""
    image = load_image(it.path)
    H, W = image.shape[:2]
    truth = it.corners.copy()
    if it.size and it.size != (W, H):
        lw, lh = it.size
        if abs((lw / lh) / (W / H) - 1) > 0.02:   # another picture, or rotated since labelling
            raise DocscanError(f"{it.path}: labelled as {lw}x{lh} but the image is {W}x{H}")
        truth *= np.array([W / lw, H / lh])   # the same photo at another resolution
    return image, truth


def evaluate(detector, items: list[Labelled], overlay_dir: Path | None = None,
             progress: Progress = silent, thumb: int = 320):
    """Run ``detector`` on every labelled image; return (EvalItems, contact-sheet thumbnails).
    A detector with a second look (``Detector(second_look=True)``) adds each image's
    agreement and checked confidence. Reports each image done to ``progress``."""
    results, thumbs = [], []
    for it in items:
        res = EvalItem(it.name, condition=it.condition)
        thumbnail = _evaluate_one(detector, it, res, overlay_dir, thumb)
        if thumbnail is not None:
            thumbs.append(thumbnail)
        results.append(res)
        progress(it.name, done=len(results), total=len(items))
    return results, thumbs


def _evaluate_one(detector, it: Labelled, res: EvalItem, overlay_dir: Path | None, thumb: int):
    """Fill ``res`` for one labelled image; its (name, thumbnail, caption), or None when the
    image could not be read or does not match its label (``res.error`` says why)."""
    try:
        t0 = time.perf_counter()
        image, truth = load_labelled(it)
        load_ms = (time.perf_counter() - t0) * 1e3
    except DocscanError as exc:
        res.error = str(exc)
        return None
    H, W = image.shape[:2]
    det = detector.detect(image, warp=False)
    res.timings = {"load": load_ms, **det.timings}
    res.truth = truth.tolist()
    res.confidence = float(det.confidence)
    if det.corners is not None:
        res.found = True
        res.corners = np.asarray(det.corners, np.float64).tolist()
        res.iou = polygon_iou(det.corners, truth)
        res.corner_error = corner_error(det.corners, truth, math.hypot(W, H))
    look = det.second_look
    if look is not None:
        res.agreement, res.checked_confidence = look.agreement, look.checked_confidence
    overlay = draw_overlay(image, det.edge_map, det.corners, truth, region_map=det.region_map)
    if overlay_dir is not None:
        write_bytes(Path(overlay_dir) / f"{Path(it.name).stem}.png", encode_png(overlay))
    s = thumb / max(overlay.shape[:2])
    small = cv2.resize(overlay, (max(1, int(overlay.shape[1] * s)), max(1, int(overlay.shape[0] * s))),
                       interpolation=cv2.INTER_AREA)
    return it.name, small, f"IoU {res.iou:.3f}" if res.found else "not found"


def summarize(results: list[EvalItem]) -> dict:
    ok = [r for r in results if r.error is None]
    ious = np.array([r.iou for r in ok]) if ok else np.zeros(0)
    errs = [r.corner_error for r in ok if r.corner_error is not None]
    model_ms = [r.timings.get("model", 0) + r.timings.get("quad", 0) for r in ok]
    return {
        "images": len(results),
        "evaluated": len(ok),
        "unreadable": [r.name for r in results if r.error is not None],   # or not matching its label
        "mean_iou": float(ious.mean()) if len(ious) else None,
        "median_iou": float(np.median(ious)) if len(ious) else None,
        "share_iou_ge_0.9": float((ious >= IOU_GOOD).mean()) if len(ious) else None,
        "mean_corner_error": float(np.mean(errs)) if errs else None,
        "median_corner_error": float(np.median(errs)) if errs else None,
        "not_found": [r.name for r in ok if not r.found],
        "failures_iou_lt_0.9": [r.name for r in ok if r.iou < IOU_GOOD],
        "median_detect_ms": float(np.median(model_ms)) if model_ms else None,
        # right (IoU >= 0.9) vs wrong by confidence: AUROC, wrong flagged at 95% of right kept
        # ("no document found" is flagged whatever the confidence that fell short)
        "confidence": separation([r.confidence if r.found else 0.0 for r in ok], [r.iou for r in ok]),
        # the same with a second look (None without): checked_confidence, from the confidence and the mirrored frame's agreement
        "checked_confidence": separation([r.checked_confidence for r in ok], [r.iou for r in ok])
        if ok and all(r.checked_confidence is not None for r in ok) else None,
    }


def contact_sheet(thumbs: list[tuple[str, np.ndarray, str]], cell: int = 320) -> np.ndarray:
    """All overlays on one grid, each captioned with its file name and IoU."""
    n = max(1, len(thumbs))
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    pad = 22
    sheet = np.full((rows * (cell + pad), cols * cell, 3), 255, np.uint8)
    for k, (name, img, caption) in enumerate(thumbs):
        r, c = divmod(k, cols)
        y0, x0 = r * (cell + pad), c * cell
        h, w = img.shape[:2]
        oy, ox = y0 + pad + (cell - h) // 2, x0 + (cell - w) // 2
        sheet[oy:oy + h, ox:ox + w] = img
        text = f"{Path(name).stem[-18:]}  {caption}"
        color = (0, 120, 0) if caption.startswith("IoU") and float(caption.split()[1]) >= IOU_GOOD else (200, 0, 0)
        cv2.putText(sheet, text, (x0 + 4, y0 + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return sheet


def write_report(outdir: Path, results: list[EvalItem], thumbs, meta: dict) -> dict:
    """report.json (summary, per-condition rows when labels carry one, per image), and beside
    it images.csv, conditions.json + conditions.csv (with conditions), contact_sheet.png."""
    outdir = Path(outdir)
    summary = summarize(results)
    groups = conditions.by_condition(results)
    report = {**meta, "summary": summary, "by_condition": groups, "images": [asdict(r) for r in results]}
    write_json(outdir / "report.json", report)
    write_text(outdir / "images.csv", images_csv(results))
    if groups:
        write_json(outdir / "conditions.json", groups)
        write_text(outdir / "conditions.csv", conditions.to_csv(groups))
    write_bytes(outdir / "contact_sheet.png", encode_png(contact_sheet(thumbs)))
    return report


def images_csv(results: list[EvalItem]) -> str:
    """The per-image table as CSV: name, condition, IoU, corner error, found, confidence, error."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("image", "condition", "iou", "corner_error", "found", "confidence", "error"))
    for r in results:
        w.writerow((r.name, r.condition or "", f"{r.iou:.4f}",
                    "" if r.corner_error is None else f"{r.corner_error:.5f}", int(r.found),
                    f"{r.confidence:.4f}", r.error or ""))
    return buf.getvalue()
