"""The labelled real dev photos as arrays at the training input size: the cheap
real-photo check at every checkpoint (checkpoint choice only: never trained on)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from docscan.detect.evaluate import match_labels

DEV_SETS = ("real-photos-dev", "real-photos-dev2")   # the second: the hard conditions of issue 15


def load_dev_set(shared_dir, size: int):
    """(images float32 (N,size,size,3), outline maps (N,size,size), filled page maps
    (N,size,size)) of the labelled dev photos (``<shared_dir>/data/<DEV_SETS>``), set by
    set in name order; None when there is no labels file there or no photo can be read."""
    import cv2

    from docscan.detect.edge_model import model_frame

    items = []
    for name in DEV_SETS:
        root = Path(shared_dir) / "data" / name
        if (root / "labels.json").is_file():
            found, _ = match_labels(root, root / "labels.json")
            items += sorted(found, key=lambda it: it.name)
    images, targets, pages = [], [], []
    for item in items:
        im = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if im is None:
            continue
        h, w = im.shape[:2]
        # the frame as the detector shows it to the model (resize and contrast stretch)
        im = model_frame(np.ascontiguousarray(im[..., ::-1]), (size, size))
        c = np.asarray(item.corners, np.float32) * np.array([size / w, size / h], np.float32)
        t = np.zeros((size, size), np.uint8)
        cv2.polylines(t, [np.round(c * 16).astype(np.int32)], True, 1, 1, cv2.LINE_8, 4)
        page = np.zeros((size, size), np.uint8)
        cv2.fillPoly(page, [np.round(c * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        images.append(im.astype(np.float32) / 255)
        targets.append(t)
        pages.append(page)
    if not images:
        return None
    return np.stack(images), np.stack(targets), np.stack(pages)
