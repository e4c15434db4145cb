"""The picture a person checks a detection on: photo, edge map, region outline, quad, label."""

from __future__ import annotations

import cv2
import numpy as np


def draw_overlay(image_rgb: np.ndarray, edge_map: np.ndarray | None, corners=None, truth=None,
                 max_side: int = 1280, region_map: np.ndarray | None = None) -> np.ndarray:
    """Photo with the edge map in magenta, the region map's outline (p = 0.5) dashed in
    cyan, the found quad in green and the label in blue."""
    img = image_rgb
    H, W = img.shape[:2]
    s = min(1.0, max_side / max(H, W))
    if s < 1.0:
        img = cv2.resize(img, (int(round(W * s)), int(round(H * s))), interpolation=cv2.INTER_AREA)
    out = img.astype(np.float32)
    if edge_map is not None:
        e = cv2.resize(edge_map.astype(np.float32), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
        e = np.clip(e, 0, 1)[..., None] * 0.75
        out = out * (1 - e) + np.array([255, 0, 255], np.float32) * e
    out = np.clip(out, 0, 255).astype(np.uint8)
    lw = max(2, int(round(max(out.shape[:2]) / 300)))
    if region_map is not None:
        r = cv2.resize(region_map.astype(np.float32), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
        contours, _ = cv2.findContours((r > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for cnt in contours:
            pts = cnt.reshape(-1, 2)
            dash = max(4, 3 * lw)
            for i in range(0, len(pts) - dash, 2 * dash):   # dashed: the label's line stays visible
                cv2.polylines(out, [pts[i:i + dash].reshape(-1, 1, 2)], False, (0, 220, 255), max(1, lw - 1),
                              cv2.LINE_AA)
    if truth is not None:
        t = np.round(np.asarray(truth, np.float64) * s * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [t], True, (40, 120, 255), lw, cv2.LINE_AA, shift=4)
    if corners is not None:
        c = np.round(np.asarray(corners, np.float64) * s * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [c], True, (0, 230, 0), lw, cv2.LINE_AA, shift=4)
        for k, (x, y) in enumerate(c.reshape(-1, 2)):
            cv2.circle(out, (int(x), int(y)), (lw + 3) * 16, (255, 255, 0) if k == 0 else (0, 230, 0), -1,
                       cv2.LINE_AA, shift=4)
    return out
