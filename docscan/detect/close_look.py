"""A close look at a still frame: the part of the photo around the page cut out and seen
again at the model's input size, its maps pasted back over the whole frame's.

At 160x160 a page that fills a third of the frame is some 50 pixels across, and a white
page on a light table is a faint step at that scale. Cut from the photo, the same page
fills the model's input: its sides are drawn with three times the pixels, and a cut that
is mostly table and paper is low in contrast, so ``model_frame`` stretches it. The close
look's maps are resized onto the box they came from and averaged with the frame's, so the
quad finder still sees the table's outline and whatever lies outside the box, now beside
sharper evidence of the page's own sides. Taking the close look's maps alone was tried
first (a zoomed second pass, ``benchmarks/results/real_sets_notes.md``, stop 23): in a cut
the page's print or the table edge can become the strongest outline, and nothing said when
to trust it.

The box is where the frame's look puts the page: the bounding box of the quad it finds
and of the region map's confident pixels, grown by ``MARGIN`` on every side. A box that
covers most of the frame (``MAX_SHARE``) adds nothing a second model run is worth, and the
frame's maps are kept.

With the shipped int8 model, with the mirrored look of ``docscan.detect.second_look``
taken of both the frame and the cut (four model runs): on dev + dev2 seen eight ways mean
IoU +0.010 over one look; on held-out synthetic scenes +0.012, where the mirrored look
alone gives +0.006 and +0.005 (``benchmarks/second_look.py --looks 4``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MARGIN = 0.25       # the box grown by this share of its width and height on each side
MAX_SHARE = 0.6     # a box covering more of the frame than this gets no close look
MIN_SIDE = 16       # map pixels: a box narrower than this is noise, not a page
REGION_SURE = 0.5   # region map pixels above this count towards the box
WEIGHT = 0.5        # the close look's share of the pasted maps


@dataclass
class CloseLook:
    box: tuple[int, int, int, int] | None   # (x0, y0, x1, y1) in map pixels; None: no close look taken
    ms: float                               # what the close look added: a quad search, the cut, its model runs


def close_box(corners: np.ndarray | None, region: np.ndarray | None, map_hw: tuple[int, int],
              margin: float = MARGIN, max_share: float = MAX_SHARE) -> tuple[int, int, int, int] | None:
    """The box (x0, y0, x1, y1), end-exclusive map pixels, around the quad ``corners`` (map
    pixels) and the region map's sure pixels, grown by ``margin``; None when there is
    neither, or the box is under ``MIN_SIDE`` a side or over ``max_share`` of the map."""
    h, w = map_hw
    points = [] if corners is None else [np.asarray(corners, np.float64).reshape(-1, 2)]
    if region is not None:
        ys, xs = np.nonzero(region > REGION_SURE)
        if xs.size:
            points.append(np.array([[xs.min(), ys.min()], [xs.max(), ys.max()]], np.float64))
    if not points:
        return None
    p = np.vstack(points)
    (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
    grow_x, grow_y = (x1 - x0) * margin, (y1 - y0) * margin
    box = (max(0, int(np.floor(x0 - grow_x))), max(0, int(np.floor(y0 - grow_y))),
           min(w, int(np.ceil(x1 + grow_x)) + 1), min(h, int(np.ceil(y1 + grow_y)) + 1))
    bw, bh = box[2] - box[0], box[3] - box[1]
    if bw < MIN_SIDE or bh < MIN_SIDE or bw * bh > max_share * w * h:
        return None
    return box


def cut(image: np.ndarray, box: tuple[int, int, int, int], map_hw: tuple[int, int]) -> np.ndarray:
    """The photo's pixels under ``box`` (map pixels of a map of ``map_hw`` over the whole
    photo; the map is the photo resized, aspect ignored)."""
    H, W = image.shape[:2]
    sy, sx = H / map_hw[0], W / map_hw[1]
    x0, y0, x1, y1 = box
    return image[int(y0 * sy):int(np.ceil(y1 * sy)), int(x0 * sx):int(np.ceil(x1 * sx))]


def pasted(maps: tuple[np.ndarray, np.ndarray | None], close: tuple[np.ndarray, np.ndarray | None],
           box: tuple[int, int, int, int], weight: float = WEIGHT):
    """The frame's (edge, region) ``maps`` with the close look's resized onto ``box`` and
    averaged there (``weight`` the close look's share): the maps the answer is found on."""
    x0, y0, x1, y1 = box
    out = []
    for frame_map, close_map in zip(maps, close):
        if frame_map is None or close_map is None:
            out.append(frame_map)
            continue
        m = frame_map.copy()
        onto = cv2.resize(close_map, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        m[y0:y1, x0:x1] = (1.0 - weight) * m[y0:y1, x0:x1] + weight * onto
        out.append(m)
    return tuple(out)
