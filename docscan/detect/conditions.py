"""Evaluation results grouped by the ``condition`` their labels carry (low-contrast,
notebook, cluttered-desk, ...): one row per condition, as a dict and as CSV text."""

from __future__ import annotations

import csv
import io

import numpy as np

from docscan.detect.confidence import IOU_GOOD

NO_CONDITION = "(none)"   # photos whose label has no condition, when others have one
COLUMNS = ("condition", "images", "evaluated", "mean_iou", "median_iou", "share_iou_ge_0.9", "min_iou",
           "mean_corner_error", "not_found", "failures_iou_lt_0.9")


def has_conditions(results) -> bool:
    return any(getattr(r, "condition", None) is not None for r in results)


def by_condition(results) -> dict[str, dict]:
    """{condition: row} over ``results`` (``EvalItem``-like: name, condition, iou, found,
    corner_error, error), conditions in name order; {} when no result has one."""
    if not has_conditions(results):
        return {}
    groups: dict[str, list] = {}
    for r in results:
        groups.setdefault(NO_CONDITION if r.condition is None else str(r.condition), []).append(r)
    return {c: _row(c, groups[c]) for c in sorted(groups)}


def _row(condition: str, items: list) -> dict:
    ok = [r for r in items if r.error is None]
    ious = np.array([r.iou for r in ok], np.float64)
    errs = [r.corner_error for r in ok if r.corner_error is not None]
    have = len(ious) > 0
    return {
        "condition": condition,
        "images": len(items),
        "evaluated": len(ok),
        "mean_iou": float(ious.mean()) if have else None,
        "median_iou": float(np.median(ious)) if have else None,
        "share_iou_ge_0.9": float((ious >= IOU_GOOD).mean()) if have else None,
        "min_iou": float(ious.min()) if have else None,
        "mean_corner_error": float(np.mean(errs)) if errs else None,
        "not_found": sum(not r.found for r in ok),
        "failures_iou_lt_0.9": [r.name for r in ok if r.iou < IOU_GOOD],
    }


def to_csv(rows: dict[str, dict]) -> str:
    """The per-condition table as CSV (failures joined with ';')."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for row in rows.values():
        w.writerow([_cell(row[c]) for c in COLUMNS])
    return buf.getvalue()


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, list):
        return ";".join(v)
    return v
