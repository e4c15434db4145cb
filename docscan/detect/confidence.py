"""How well a detection's confidence tells right detections from wrong ones.

A detection is *right* when its IoU with the label is at least ``IOU_GOOD`` (0.9); a photo
where nothing was found counts as wrong, with the confidence the finder gave it. An app
asks for a retake below a threshold, so the numbers that matter are the AUROC (the chance
that a random right detection scores above a random wrong one, ties half) and, at the
threshold that keeps ``keep`` (95%) of the right ones, the share of wrong ones flagged.
"""

from __future__ import annotations

import math

import numpy as np

IOU_GOOD = 0.9
KEEP_RIGHT = 0.95


def auroc(scores, positive) -> float | None:
    """Area under the ROC curve of ``scores`` for the boolean labels ``positive``
    (Mann-Whitney U, ties count half); None without both classes."""
    s = np.asarray(scores, np.float64)
    pos = np.asarray(positive, bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks over ties (1-based)
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def keep_threshold(right_scores, keep: float = KEEP_RIGHT) -> float | None:
    """The highest threshold t with at least ``keep`` of ``right_scores`` at or above it."""
    r = np.sort(np.asarray(right_scores, np.float64))
    if len(r) == 0:
        return None
    drop = int(math.floor((1.0 - keep) * len(r) + 1e-9))   # right ones that may fall below
    return float(r[min(drop, len(r) - 1)])


def separation(scores, ious, keep: float = KEEP_RIGHT, iou_good: float = IOU_GOOD) -> dict:
    """Right (IoU >= ``iou_good``) vs wrong detections by score: counts, AUROC, and at the
    threshold that keeps ``keep`` of the right ones, the share of right kept and of wrong
    flagged (scored below it). Values are None where a class is empty."""
    s = np.asarray(scores, np.float64)
    right = np.asarray(ious, np.float64) >= iou_good
    t = keep_threshold(s[right], keep)
    wrong = s[~right]
    return {
        "n_right": int(right.sum()),
        "n_wrong": int((~right).sum()),
        "auroc": auroc(s, right),
        "keep_right": keep,
        "threshold": t,
        "kept_right": None if t is None else float((s[right] >= t).mean()),
        "flagged_wrong": None if t is None or len(wrong) == 0 else float((wrong < t).mean()),
    }
