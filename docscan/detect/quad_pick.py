"""Candidates -> the page (step 4's rerank and the region guards of ``docscan.detect.quad``).

Without a region map the best edge score wins, after the front runners lose the support
of the strongest line running right across their inside. With one, the front runners are
reranked by edge score times region IoU to a power, unless a guard hands the choice back
to the edges: no candidate fits the region, or a strong line runs across the region's
pick away from the frame centre.

The pick's ``quality`` scores how likely the pick is the page, not only how well it is
edged. It multiplies the supported share of the outline (squared), the pick's IoU with the
region map (a page the region head sees elsewhere is suspect) and one minus the edge
support of the lines inside the pick per unit of its perimeter (a table top or a desk
picked around the page holds the page's own outline; a page holds only faint print, which
the edge model ignores). ``find_quad`` reports it for models without a region head; with
one it reports ``docscan.detect.quad_confidence``'s fitted chance, whose inputs include
these three.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from docscan.detect.quad_candidates import Candidates, LineTable
from docscan.detect.quad_lines import Line
from docscan.detect.quad_params import QuadParams

_NEXT = np.array([1, 2, 3, 0])     # corner k -> k + 1 (np.roll costs tens of us here)
_PERP = np.array([-1.0, 1.0])      # (x, y)[::-1] * _PERP = (-y, x)
IOU_BOUND = 1.01                   # above any region IoU float32 sums can give (1 + ~1e-4)


@dataclass
class Pick:
    line_ids: np.ndarray     # (4,) the winner's side lines, in cyclic order
    corners: np.ndarray      # (4, 2) edge-map pixels, before refinement
    confidence: float        # supported share of its in-frame outline
    region_iou: float | None  # its IoU with the region map (None without one)
    quality: float = 0.0     # the confidence reported (see the module doc), in [0, 1]
    inner_support: float = 0.0   # edge support of lines inside it, per pixel of perimeter


def pick(cands: Candidates, lines: list[Line], params: QuadParams, h: int, w: int,
         region: np.ndarray | None = None) -> Pick:
    iou = None
    size = min(h, w)
    inside = None      # _lines_inside of the pick, computed once for both of its uses
    if region is None:
        best = _edge_pick(cands, lines, params, size)
    else:
        top = np.arange(min(params.region_rerank, len(cands.line_ids)))
        # (+1: with no edge evidence at all, the region alone still ranks them)
        key = np.maximum(cands.score[top], 0.0) + 1.0
        ious = _region_ious(cands.corners[top], region, params.region_scale, key, params.region_power,
                            params.region_trust)
        best = int(np.argmax(key * ious ** params.region_power))
        iou = float(ious[best])
        defer = float(ious.max()) < params.region_trust   # no candidate fits the region: no guide
        if not defer and params.region_defer > 0 and len(lines) > 4:
            inside = _pick_inside(cands, best, lines, size)
            defer = _line_across(cands, best, lines, params, size, inside)
        if defer:   # the edge finder's own choice decides
            best = _edge_pick(cands, lines, params, size, None if float(ious.max()) < params.region_trust else region)
            iou = float(_region_ious(cands.corners[[best]], region, params.region_scale)[0])
            inside = None
    confidence = float(cands.supported[best].sum() / max(cands.in_frame[best].sum(), 1.0))
    if inside is None:
        inside = _pick_inside(cands, best, lines, size)
    inner = _inner_support(inside, cands.table, lines)
    return Pick(cands.line_ids[best], cands.corners[best], confidence, iou,
                _quality(confidence, iou, inner, params), inner)


def _quality(share: float, region_iou: float | None, inner: float, params: QuadParams) -> float:
    """The reported confidence: share ** p * region IoU * (1 - inner support), or the region
    IoU where that accepted a weakly edged page (as ``find_quad`` does)."""
    if region_iou is not None and share < params.min_confidence and region_iou >= params.region_accept:
        return float(region_iou)
    q = share ** params.confidence_share_power * max(0.0, 1.0 - params.confidence_inner_weight * inner)
    if region_iou is not None:
        q *= region_iou ** params.confidence_region_power
    return float(np.clip(q, 0.0, 1.0))


def _edge_pick(cands: Candidates, lines: list[Line], params: QuadParams, size: int,
               region: np.ndarray | None = None) -> int:
    """Rerank the front runners: a strong line running across a quad's inside means it
    spans two things (both pages of a booklet, a page and the picture above it)."""
    if params.interior_penalty > 0 and len(lines) > 4:
        top = np.arange(min(params.rerank, len(cands.line_ids)))
        inner = _interior_support(cands.corners[top], cands.line_ids[top], cands.table, lines, size,
                                  params.interior_cover)[0]
        value = cands.score[top] - params.interior_penalty * inner
        if region is not None and params.region_defer_power > 0:
            # the region merged two things a line separates: each part is a candidate, the
            # region still says which part it covers most (a wall plaque above a held page)
            parts = ~_crossed(inner, cands.corners[top], params)
            if parts.any():
                ious = _region_ious(cands.corners[top], region, params.region_scale)
                value = np.where(parts, (np.maximum(value, 0.0) + 1.0) * ious ** params.region_defer_power, -np.inf)
        return int(np.argmax(value))
    return 0


def _pick_inside(cands: Candidates, best: int, lines: list[Line], size: int):
    """``_lines_inside`` of candidate ``best`` alone, for every line but the frame borders."""
    not_border = np.array([not ln.border for ln in lines])
    return _lines_inside(cands.corners[[best]], cands.line_ids[[best]], cands.table, not_border, 0.05 * size)


def _line_across(cands: Candidates, best: int, lines: list[Line], params: QuadParams, size: int,
                 inside=None) -> bool:
    """Whether a strong line runs right across candidate ``best`` away from the frame centre.
    ``inside``: its ``_pick_inside``, when already computed."""
    corners = cands.corners[best]
    inner, line = _interior_support(cands.corners[[best]], cands.line_ids[[best]], cands.table, lines, size,
                                    params.interior_cover, inside)
    # a strong line runs right across the region's pick: a book's gutter or a page in
    # front of a picture, which the region head tends to merge on real photos (the
    # price: a sharp fold across a page is split too, as without the region) ...
    across = bool(_crossed(inner, cands.corners[[best]], params)[0])
    if across and params.region_defer_aim > 0:
        # ... unless it runs through the middle of the frame: people centre what they
        # photograph, a whole folded sheet on its fold, one page of a book on that
        # page (its gutter then lies off centre)
        k = int(line[0])
        dirs, points = cands.table.dirs, cands.table.points
        normal = np.array([-dirs[k, 1], dirs[k, 0]])
        extent = float(np.ptp(corners @ normal))
        across = abs(float(np.dot(cands.centre - points[k], normal))) > params.region_defer_aim * extent
    return across


def _crossed(inner: np.ndarray, corners: np.ndarray, params: QuadParams) -> np.ndarray:
    """Per quad: whether its strongest line across (``_interior_support``) is supported over
    ``region_defer`` of the quad's size (the square root of its area)."""
    area = np.array([cv2.contourArea(c.astype(np.float32)) for c in corners])
    return inner > params.region_defer * np.sqrt(area)


def _interior_support(corners, line_ids, table: LineTable, lines: list[Line], size: int, min_cover: float,
                      inside=None):
    """Per candidate: (edge support of the strongest other real line running right across
    the quad, that line's index).

    Each line is clipped to the quad (4 half-planes), the ends within ``margin`` of the
    outline are dropped (lines that merely cross a corner region), and lines hugging a
    side (a double edge, a shadow) are ignored. ``inside``: ``_lines_inside`` of these quads
    for the lines that are not frame borders, when already computed.
    """
    if inside is None:
        real = np.array([not ln.border for ln in lines])
        inside = _lines_inside(corners, line_ids, table, real, 0.05 * size)
    use, lo, hi, depth, slope, j, edges = inside
    sup = np.where(use, table.support(j, np.where(use, lo, 0.0), np.where(use, hi, 0.0)), 0.0)
    length = np.where(use, hi - lo, 0.0)
    # Only lines that run all the way across count: supported over most of the crossing
    # and right up to the outline at both ends (the page's own edge band, ~3 px, aside).
    # A gutter or a second object's edge meets the outline; text, table rules and pictures
    # printed on a page stop at its margins.
    with np.errstate(divide="ignore", invalid="ignore"):
        bound0 = -depth / slope
    lo0 = np.where(slope > 1e-9, bound0, -np.inf).max(axis=1)
    hi0 = np.where(slope < -1e-9, bound0, np.inf).min(axis=1)
    win = np.maximum(2.0, 0.1 * np.where(use, hi0 - lo0, 0.0))
    gap = 3.0

    def run(t0, t1):
        return table.support(j, np.where(use, t0, 0.0), np.where(use, t1, 0.0))

    reach = ((run(lo0 + gap, lo0 + gap + win) >= 0.5 * win) & (run(hi0 - gap - win, hi0 - gap) >= 0.5 * win))
    across = (sup >= min_cover * np.maximum(length, 1.0)) & reach
    # the strongest one: a second page or object adds one such line, text adds many weak ones
    strength = np.where(across, sup, 0.0)
    return strength.max(axis=1), strength.argmax(axis=1)


def _inner_support(inside, table: LineTable, lines: list[Line]) -> float:
    """Edge support of the edge lines inside one quad (clipped ``0.05 * size`` short of its
    outline, not its own sides nor lines hugging them), per pixel of its perimeter, from its
    ``_pick_inside``: the region outline's sides are not edge lines."""
    use, lo, hi, _, _, j, edges = inside
    use = use & ~np.array([ln.from_region for ln in lines])[None, :]
    sup = np.where(use, table.support(j, np.where(use, lo, 0.0), np.where(use, hi, 0.0)), 0.0)
    return float(sup.sum() / max(float(np.sqrt((edges[0] * edges[0]).sum(axis=-1)).sum()), 1.0))


def _lines_inside(corners, line_ids, table: LineTable, real: np.ndarray, margin: float):
    """Each line of ``table`` (where ``real``) clipped to each quad (K, 4, 2) shrunk by
    ``margin``: (use (K, n): it crosses that inside and is not one of the quad's sides nor
    hugging one, lo and hi (K, n): the stretch, along the line; depth and slope (K, 4, n):
    per side, the line's point's inward distance and the inward rate along it; j (K, n):
    line indices; edges (K, 4, 2): the quads' side vectors)."""
    n_quads, n = len(corners), len(table.points)
    following = corners[:, _NEXT]
    edges = following - corners                                                   # (K, 4, 2)
    area2 = (corners[..., 0] * following[..., 1] - corners[..., 1] * following[..., 0]).sum(axis=1)
    sgn = np.sign(area2)[:, None, None]
    inward = edges[..., ::-1] * _PERP * sgn                                       # inward normals
    inward /= np.maximum(np.sqrt((inward * inward).sum(axis=-1, keepdims=True)), 1e-9)
    offset = (inward * corners).sum(-1)                                           # (K, 4)
    # constraint per side: depth + t * slope >= margin, with depth = inward.point_j - offset,
    # slope = inward.dir_j
    depth = inward @ table.points.T - offset[..., None]                            # (K, 4, n)
    slope = inward @ table.dirs.T
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (margin - depth) / slope
    lo = np.where(slope > 1e-9, bound, -np.inf).max(axis=1)                        # (K, n)
    hi = np.where(slope < -1e-9, bound, np.inf).min(axis=1)
    parallel_out = (np.abs(slope) <= 1e-9) & (depth < margin)
    inside = (hi > lo) & ~parallel_out.any(axis=1) & real[None, :]
    # not one of the quad's own sides, and not hugging one
    own = np.zeros((n_quads, n), bool)
    own[np.arange(n_quads)[:, None], line_ids] = True
    cosang = np.abs((edges / np.maximum(np.sqrt((edges * edges).sum(axis=-1, keepdims=True)), 1e-9)) @ table.dirs.T)
    near_side = ((cosang > np.cos(np.deg2rad(10))) & (np.abs(depth) < 2 * margin)).any(axis=1)
    use = inside & ~own & ~near_side
    j = np.broadcast_to(np.arange(n), (n_quads, n))
    return use, lo, hi, depth, slope, j, edges


def _region_ious(corners: np.ndarray, region: np.ndarray, scale: int, key: np.ndarray | None = None,
                 power: float = 1.0, trust: float = 0.0) -> np.ndarray:
    """Soft IoU of each quad (K, 4, 2) with the region map, on a ``scale``-times smaller grid.

    With ``key`` (K,), non-increasing (the front runners' edge scores + 1): only as many
    IoUs as can still matter to ``argmax(key * iou ** power)`` and to whether any IoU
    reaches ``trust``; the rest are left 0. Once some IoU has reached ``trust``, a quad
    whose key times the largest possible IoU to that power falls short of the best value
    so far cannot win, nor can any after it (the IoUs of far-behind front runners were
    most of the pick's time)."""
    h, w = region.shape
    small = cv2.resize(region, (max(1, w // scale), max(1, h // scale)), interpolation=cv2.INTER_AREA)
    sx, sy = small.shape[1] / w, small.shape[0] / h
    flat = small.ravel()
    total = float(flat.sum())
    masks = np.zeros((len(corners),) + small.shape, np.float32)     # one zeroed mask per quad
    pts = np.round(((corners + 0.5) * np.array([sx, sy]) - 0.5) * 16).astype(np.int32)
    out = np.zeros(len(corners))
    best, reached = -1.0, False
    for k in range(len(corners)):
        if key is not None and reached and key[k] * IOU_BOUND ** power < best:
            break
        mask = masks[k]
        cv2.fillConvexPoly(mask, pts[k], 1.0, cv2.LINE_8, 4)
        inter = float(mask.ravel() @ flat)
        union = cv2.countNonZero(mask) + total - inter      # (the mask's 0/1 area, exact)
        out[k] = iou = inter / union if union > 0 else 0.0
        if key is not None:
            best = max(best, float(key[k]) * iou ** power)
            reached = reached or iou >= trust
    return out
