"""How good a model's maps are: edge F-score against a page outline, page-region IoU."""

from __future__ import annotations

import numpy as np


def edge_fscore(prob: np.ndarray, target: np.ndarray, threshold: float = 0.5, tol: float = 2.0) -> dict:
    """Precision/recall/F of predicted edge pixels against the outline, matched within ``tol`` px.

    Text and background edges count against precision; a missed page side against recall.
    The label is only the labelled page, so a second sheet's boundary counts as a false edge.
    """
    import cv2

    ps, rs = [], []
    for p, t in zip(prob, target):
        pred = p > threshold
        dist_to_t = cv2.distanceTransform((1 - t).astype(np.uint8), cv2.DIST_L2, 3)
        dist_to_p = cv2.distanceTransform((~pred).astype(np.uint8), cv2.DIST_L2, 3)
        ps.append(float((dist_to_t[pred] <= tol).mean()) if pred.any() else 0.0)
        rs.append(float((dist_to_p[t > 0] <= tol).mean()) if t.any() else 0.0)
    p, r = float(np.mean(ps)), float(np.mean(rs))
    return {"precision": p, "recall": r, "f": 2 * p * r / (p + r) if p + r > 0 else 0.0}


def predict_edges(model, images: np.ndarray, batch: int = 8, output: int = 0) -> np.ndarray:
    """Sigmoid of output ``output`` (0: fused edges), (N, H, W)."""
    out = []
    for i in range(0, len(images), batch):
        y = model(images[i:i + batch], training=False)[output]
        out.append(1 / (1 + np.exp(-np.asarray(y)[..., 0])))
    return np.concatenate(out)


def mask_ious(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-sample IoU of boolean page masks (N, H, W); no page predicted where there is
    none is a perfect 1, not 0."""
    union = np.logical_or(pred, truth).sum((1, 2))
    return np.where(union > 0, np.logical_and(pred, truth).sum((1, 2)) / np.maximum(union, 1), 1.0)


def region_iou(prob: np.ndarray, corners_maps: np.ndarray) -> float:
    """Mean IoU of the thresholded region map (N, H, W) against the filled labelled pages."""
    return float(np.mean(mask_ious(prob > 0.5, corners_maps > 0)))


def region_iou_of(logits: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Per-sample IoU of (logits > 0) with the uint8 target region (> half)."""
    return mask_ious(logits[..., 0] > 0, region > 127)
