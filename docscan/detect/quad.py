"""Edge map -> page quadrilateral, robust to occluded or out-of-frame corners.

Steps (all in edge-map pixels):

1. normalise the map against its own background (median) and strong-edge level:
   class-balanced HED training inflates every pixel by a model- and photo-dependent amount;
2. thin it to one-pixel ridges and find line segments (HoughLinesP); merge segments into
   lines (angle + distance), keep the best-supported few, at most 5 per direction;
3. every set of 4 lines (plus the 4 frame borders, for a page running off the frame)
   in each of the 3 cyclic orders is a candidate; corners are line intersections, so a
   corner hidden under a finger or outside the frame still comes out;
4. candidates must have supported sides, be convex, not too small, with sane interior
   angles; they are scored by edge support along each side (O(1) lookups in per-line
   cumulative sums) minus in-frame side length the edge map does not support, times the
   supported share of the outline squared (a page is edged all the way round; a quad
   pieced together from planks, tiles or shadows has gaps); the front
   runners lose the support of the strongest line running right across their inside
   (two pages of a booklet, a page plus the picture behind it are two things, not one);
5. each side of the winner is refitted to the edge mass around it (sub-pixel).

With a page-region map (an HED with ``region_head``), the region decides what the edges
cannot: the 4 sides of the region's outline join the candidate lines (a side the edge
model missed in clutter is still offered), and the front runners are reranked by their
edge score times their IoU with the region, to a power. A sheet on a stack, a sheet next
to another, half a page cut at a fold line all have sharp outlines; only one of them
covers the region. Two guards hand the choice back to the edges (step 4 as above): no
candidate fits the region (IoU below ``region_trust``: a close-up the head sees only in
scraps), or a strong line runs right across the region's pick (``region_defer``: on real
photos the head merges a book's two pages, or a page and the picture behind it) away from
the frame centre (``region_defer_aim``: people centre what they photograph, so a line
through the centre is the fold of a sheet photographed whole).

``refine_corners`` then snaps the sides to the strongest intensity step in the
full-resolution photo, which the coarse edge map cannot resolve.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

NO_DOCUMENT = "no document found"


@dataclass
class QuadResult:
    corners: np.ndarray | None          # (4, 2) float32, clockwise from top-left, or None
    confidence: float                   # share of the in-frame outline the edge map supports
                                        # (region sides credited 0.3); with a region map, its IoU
                                        # where that accepted a weakly edged page
    reason: str = ""                    # why corners is None


@dataclass(frozen=True)
class QuadParams:
    min_contrast: float = 0.12      # strong edges (99.7th percentile) minus the median: below is blank
    ridge_threshold: float = 0.3    # ridge pixels kept for line detection
    peak_quantile: float = 0.997    # the map's strong-edge level (edges are a few % of pixels)
    smooth: float = 1.0             # Gaussian sigma before ridge detection, per 256 px of map
    interior_penalty: float = 2.0   # per pixel of supported edge inside a candidate quad
    rerank: int = 16                # candidates reranked with the interior penalty
    interior_cover: float = 0.8     # ... counting lines supported over this share of the crossing
    support_lo: float = 0.1         # edge probability giving 0 support ...
    support_hi: float = 0.75        # ... and full support (linear in between)
    max_lines: int = 14             # real lines kept for candidate enumeration
    max_per_direction: int = 6      # ... of which at most this many within 15 degrees
    border_support: float = 0.3     # support credited along a frame border used as a side
    unsupported_penalty: float = 1.0
    min_area: float = 0.04          # fraction of the frame
    min_angle_deg: float = 35.0     # interior angles within [min, 180 - min]
    max_outside: float = 0.35       # corners may lie this fraction of the frame outside it
    min_side_cover: float = 0.2     # each real side: supported share of its in-frame part
    min_confidence: float = 0.35
    hough_votes: float = 0.04       # HoughLinesP threshold, min segment length and gap,
    min_segment: float = 0.06       # ... as fractions of the map's short side
    max_gap: float = 0.03
    ratio_power: float = 2.0        # score *= (supported share of the in-frame outline) ** this
    # with a region map:
    region_rerank: int = 32         # front runners reranked by IoU with the region
    region_power: float = 4.0       # rank key = edge score * IoU ** this
    region_scale: int = 4           # IoUs on the region map shrunk by this factor
    region_accept: float = 0.85     # IoU that accepts a quad whose edge support is weak
    region_line_support: float = 0.3   # support credited along a region side
    region_trust: float = 0.5       # below this IoU of the region's pick, the edges decide
    region_defer: float = 0.5       # a line across the region's pick supported over this share
                                    # of the pick's size hands the choice back to the edges,
    region_defer_aim: float = 0.05  # ... if it runs off the frame centre by more than this
                                    # share of the pick's width across it


DEFAULT_PARAMS = QuadParams()


# ---------------------------------------------------------------------------------------
# Geometry helpers

def order_corners(points) -> np.ndarray:
    """4 points -> clockwise (image coordinates, y down) starting at the top-left one.

    Top-left is the corner with the smallest x + y; the others follow clockwise around
    the centroid, so a rotated page keeps a consistent cyclic order.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    centre = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(ang)]   # increasing angle = clockwise on screen (y down)
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0).astype(np.float32)


def polygon_area(pts) -> float:
    return abs(_shoelace(np.asarray(pts, dtype=np.float64).reshape(-1, 2)))


def _line_from_points(pts: np.ndarray, weights: np.ndarray | None = None):
    """Total-least-squares line through points: (unit direction d, point c)."""
    w = np.ones(len(pts)) if weights is None else np.asarray(weights, dtype=np.float64)
    sw = float(w.sum())
    c = (w @ pts) / sw
    q = pts - c
    wq = q * w[:, None]
    sxx, syy, sxy = float(wq[:, 0] @ q[:, 0]), float(wq[:, 1] @ q[:, 1]), float(wq[:, 0] @ q[:, 1])
    theta = 0.5 * math.atan2(2 * sxy, sxx - syy)     # principal axis of the scatter
    return np.array([math.cos(theta), math.sin(theta)]), c


def _intersect(d1, c1, d2, c2):
    """Intersection of lines c1 + t d1 and c2 + s d2; None when near-parallel."""
    den = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(den) < 1e-9:
        return None
    diff = c2 - c1
    t = (diff[0] * d2[1] - diff[1] * d2[0]) / den
    return c1 + t * d1


# ---------------------------------------------------------------------------------------
# Edge map -> lines

def _ridges(p: np.ndarray, threshold: float) -> np.ndarray:
    """One-pixel-wide ridges of the edge map: local maxima across rows or across columns.

    Ties break to one side (>= on one neighbour, > on the other) so saturated, thick HED
    lines still give a single line of pixels. The outermost ring is never a ridge.
    """
    c = p[1:-1, 1:-1]
    horiz = (c >= p[1:-1, :-2]) & (c > p[1:-1, 2:])
    vert = (c >= p[:-2, 1:-1]) & (c > p[2:, 1:-1])
    out = np.zeros(p.shape, np.uint8)
    out[1:-1, 1:-1] = ((horiz | vert) & (c > threshold)).view(np.uint8) * 255
    return out


@dataclass
class _Line:
    d: np.ndarray        # unit direction
    c: np.ndarray        # a point on the line
    support: float       # total length of its segments
    border: bool = False
    from_region: bool = False   # a side of the region map's outline


def _segments_to_lines(segs: np.ndarray, diag: float, max_lines: int, max_per_direction: int) -> list[_Line]:
    """Greedy clustering of segments (longest first) into lines, each refitted by TLS.

    A segment joins the first cluster whose seed (its longest segment) it is parallel
    and close to. A cluster's fit uses the exact moments of its segments seen as uniform
    mass along their length (mean at the midpoint, scatter L^2/12 along the segment).
    """
    if segs is None or len(segs) == 0:
        return []
    segs = segs.reshape(-1, 4).astype(np.float64)
    L = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
    order = np.argsort(-L)
    segs, L = segs[order][L[order] > 0], L[order][L[order] > 0]
    A, B = segs[:, :2], segs[:, 2:]
    D = (B - A) / L[:, None]
    M = (A + B) / 2
    N = np.stack([-D[:, 1], D[:, 0]], axis=1)
    cos_tol = math.cos(math.radians(4.0))
    dist_tol = max(2.0, 0.012 * diag)
    # compat[i, j]: segment i fits the line of segment j
    compat = ((np.abs(D @ D.T) >= cos_tol)
              & (np.abs(((A[:, None, :] - M[None, :, :]) * N[None, :, :]).sum(-1)) < dist_tol)
              & (np.abs(((B[:, None, :] - M[None, :, :]) * N[None, :, :]).sum(-1)) < dist_tol))
    labels: list[int] = []
    seeds: list[int] = []
    for i, row in enumerate(compat.tolist()):
        for c, sd in enumerate(seeds):
            if row[sd]:
                labels.append(c)
                break
        else:
            labels.append(len(seeds))
            seeds.append(i)
    label = np.array(labels, np.int64)
    k = len(seeds)
    W = np.bincount(label, L, k)
    mx = np.bincount(label, L * M[:, 0], k) / W
    my = np.bincount(label, L * M[:, 1], k) / W
    qx, qy, v = M[:, 0] - mx[label], M[:, 1] - my[label], L * L / 12
    sxx = np.bincount(label, L * (qx * qx + v * D[:, 0] ** 2), k)
    syy = np.bincount(label, L * (qy * qy + v * D[:, 1] ** 2), k)
    sxy = np.bincount(label, L * (qx * qy + v * D[:, 0] * D[:, 1]), k)
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)           # principal direction
    # Few clusters: plain floats beat numpy's per-call overhead here.
    merged: list[list[float]] = []                          # [dx, dy, cx, cy, support]
    for c in np.argsort(-W).tolist():
        dx, dy, cx, cy, wc = math.cos(theta[c]), math.sin(theta[c]), float(mx[c]), float(my[c]), float(W[c])
        for ln in merged:
            # merge into an already-kept line when the refit made them coincide
            if abs(dx * ln[0] + dy * ln[1]) > cos_tol and abs((cx - ln[2]) * -ln[1] + (cy - ln[3]) * ln[0]) < dist_tol:
                ln[4] += wc
                break
        else:
            merged.append([dx, dy, cx, cy, wc])
    # Keep the best-supported lines, but at most a few of any one direction: a page needs
    # two directions, and text or wood grain can supply many parallel lines.
    kept: list[list[float]] = []
    cos15 = math.cos(math.radians(15))
    for ln in sorted(merged, key=lambda l: -l[4]):
        if sum(abs(ln[0] * k[0] + ln[1] * k[1]) > cos15 for k in kept) < max_per_direction:
            kept.append(ln)
            if len(kept) >= max_lines:
                break
    return [_Line(np.array(k[:2]), np.array(k[2:4]), k[4]) for k in kept]


def _border_lines(h: int, w: int) -> list[_Line]:
    return [
        _Line(np.array([1.0, 0.0]), np.array([0.0, 0.0]), 0.0, True),
        _Line(np.array([0.0, 1.0]), np.array([w - 1.0, 0.0]), 0.0, True),
        _Line(np.array([1.0, 0.0]), np.array([0.0, h - 1.0]), 0.0, True),
        _Line(np.array([0.0, 1.0]), np.array([0.0, 0.0]), 0.0, True),
    ]


# ---------------------------------------------------------------------------------------
# Candidate enumeration and scoring

@lru_cache(maxsize=64)
def _orders(n_lines: int, n_real: int) -> np.ndarray:
    """All (l0, l1, l2, l3) cyclic orders of 4-line subsets, at most 2 frame borders."""
    rows = []
    for a, b, c, d in itertools.combinations(range(n_lines), 4):
        if sum(i >= n_real for i in (a, b, c, d)) > 2:
            continue
        rows += [(a, b, c, d), (a, b, d, c), (a, c, b, d)]
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


@dataclass
class _Candidates:
    """Quads that passed the side-evidence and geometry checks, best edge score first."""
    O: np.ndarray           # (K, 4) line indices, in cyclic order
    corners: np.ndarray     # (K, 4, 2) edge-map pixels
    score: np.ndarray       # (K,) edge score, descending
    supported: np.ndarray   # (K, 4) edge support per side
    in_frame: np.ndarray    # (K, 4) in-frame length per side
    C: np.ndarray           # per line: point nearest the frame centre ...
    D: np.ndarray           # ... and unit direction
    span: _Span
    centre: np.ndarray


def _candidates(lines: list[_Line], support_map: np.ndarray, params: QuadParams) -> _Candidates | None:
    h, w = support_map.shape
    n = len(lines)
    diag = float(np.hypot(h, w))
    # Points are parametrised from the frame centre's projection onto each line. Only the
    # in-frame stretch of a line (at most a diagonal long) is sampled: line j's samples
    # are t = start[j] + 0 .. Lm-1, and S(j, t0, t1) gives the support summed over t0..t1.
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    D = np.stack([ln.d for ln in lines])
    C = np.stack([ln.c + np.dot(centre - ln.c, ln.d) * ln.d for ln in lines])
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = (np.array([-0.5, w - 0.5])[None, :] - C[:, :1]) / D[:, :1]
        ty = (np.array([-0.5, h - 0.5])[None, :] - C[:, 1:]) / D[:, 1:]
    tx = np.where(np.abs(D[:, :1]) < 1e-12, np.array([-np.inf, np.inf])[None, :], tx)
    ty = np.where(np.abs(D[:, 1:]) < 1e-12, np.array([-np.inf, np.inf])[None, :], ty)
    t_in = np.maximum(tx.min(1), ty.min(1))
    start = np.floor(np.where(np.isfinite(t_in), t_in, 0.0)).astype(np.int64)
    Lm = int(np.ceil(diag)) + 3
    ts = start[:, None] + np.arange(Lm)[None, :]
    xs = C[:, 0:1] + ts * D[:, 0:1]
    ys = C[:, 1:2] + ts * D[:, 1:2]
    inside = (xs >= -0.5) & (xs <= w - 0.5) & (ys >= -0.5) & (ys <= h - 0.5)
    xi = np.clip(np.rint(xs).astype(np.int64), 0, w - 1)
    yi = np.clip(np.rint(ys).astype(np.int64), 0, h - 1)
    sup = np.where(inside, support_map[yi, xi], 0.0)
    for k, ln in enumerate(lines):
        if ln.border:
            sup[k] = np.where(inside[k], np.maximum(sup[k], params.border_support), 0.0)
        elif ln.from_region:
            sup[k] = np.where(inside[k], np.maximum(sup[k], params.region_line_support), 0.0)
    zeros = np.zeros((n, 1))
    CS = np.concatenate([zeros, np.cumsum(sup, axis=1)], axis=1)
    CI = np.concatenate([zeros, np.cumsum(inside, axis=1)], axis=1)
    span = _Span(CS, CI, start, Lm)

    # Pairwise intersections, as parameters along each line.
    den = D[:, None, 0] * D[None, :, 1] - D[:, None, 1] * D[None, :, 0]          # (n, n)
    diff = C[None, :, :] - C[:, None, :]                                       # c_j - c_i
    sin_ok = np.abs(den) >= np.sin(np.deg2rad(params.min_angle_deg))
    # near-parallel pairs never meet at a corner (sin_ok is False for them)
    t_ij = (diff[..., 0] * D[None, :, 1] - diff[..., 1] * D[None, :, 0]) / np.where(sin_ok, den, 1.0)
    t_ij = np.where(sin_ok, t_ij, 0.0)
    P = C[:, None, :] + t_ij[..., None] * D[:, None, :]                         # point on line i

    O = _orders(n, sum(not ln.border for ln in lines))
    if len(O) == 0:
        return None
    l0, l1, l2, l3 = O.T
    ok = sin_ok[l0, l1] & sin_ok[l1, l2] & sin_ok[l2, l3] & sin_ok[l3, l0]
    O = O[ok]
    if len(O) == 0:
        return None
    # Side evidence first; it rules out most candidates before any geometry. The side on
    # line j between its crossings with lines i and k depends on (i, j, k) only, so it
    # is tabulated once for all n^3 triples and gathered per candidate.
    a3 = t_ij.T[:, :, None]                    # crossing of j with i, along j
    b3 = t_ij[None, :, :]                      # crossing of j with k, along j
    J = np.broadcast_to(np.arange(n)[None, :, None], (n, n, n))
    sup3, inf3 = span.sums(J, np.minimum(a3, b3), np.maximum(a3, b3))
    # frame borders and region sides need no edge evidence of their own
    exempt = np.array([ln.border or ln.from_region for ln in lines])
    ok3 = (inf3 >= 0.05 * min(h, w)) & (exempt[J] | (sup3 >= params.min_side_cover * np.maximum(inf3, 1.0)))
    l0, l1, l2, l3 = O.T
    tri = ((l3, l0, l1), (l0, l1, l2), (l1, l2, l3), (l2, l3, l0))
    keep = ok3[tri[0]] & ok3[tri[1]] & ok3[tri[2]] & ok3[tri[3]]
    O = O[keep]
    if len(O) == 0:
        return None
    l0, l1, l2, l3 = O.T
    tri = ((l3, l0, l1), (l0, l1, l2), (l1, l2, l3), (l2, l3, l0))
    supported = np.stack([sup3[t] for t in tri], axis=1)
    in_frame = np.stack([inf3[t] for t in tri], axis=1)
    score = supported.sum(1) - params.unsupported_penalty * (in_frame - supported).sum(1)
    if params.ratio_power > 0:
        # Summed support favours big quads pieced together from background lines (planks,
        # tiles, shadows) with gaps; a page is supported almost all the way round.
        share = supported.sum(1) / np.maximum(in_frame.sum(1), 1.0)
        score = np.where(score > 0, score * share ** params.ratio_power, score)
    # Geometry only for the best-scored few hundred: the winner is almost always among them.
    order = np.argsort(-score)
    for chunk in (order[:256], order[256:]):
        if len(chunk) == 0:
            return None
        Oc = O[chunk]
        corners = _corners(P, Oc)
        keep = _geometry_ok(corners, w, h, params)
        if keep.any():
            break
    if not keep.any():
        return None
    return _Candidates(Oc[keep], corners[keep], score[chunk][keep],    # still in descending order
                       supported[chunk][keep], in_frame[chunk][keep], C, D, span, centre)


def _pick(c: _Candidates, lines: list[_Line], params: QuadParams, h: int, w: int,
          region: np.ndarray | None = None):
    O, corners, score, supported, in_frame = c.O, c.corners, c.score, c.supported, c.in_frame
    C, D, span, centre, n = c.C, c.D, c.span, c.centre, len(lines)

    def edge_pick() -> int:
        # Rerank the front runners: a strong line running across a quad's inside means it
        # spans two things (both pages of a booklet, a page and the picture above it).
        if params.interior_penalty > 0 and n > 4:
            top = np.arange(min(params.rerank, len(O)))
            inner = _interior_support(corners[top], O[top], C, D, span, lines, min(h, w), params.interior_cover)[0]
            return int(np.argmax(score[top] - params.interior_penalty * inner))
        return 0

    iou = None
    if region is None:
        best = edge_pick()
    else:
        top = np.arange(min(params.region_rerank, len(O)))
        ious = _region_ious(corners[top], region, params.region_scale)
        # (+1: with no edge evidence at all, the region alone still ranks them)
        best = int(np.argmax((np.maximum(score[top], 0.0) + 1.0) * ious ** params.region_power))
        iou = float(ious[best])
        defer = float(ious.max()) < params.region_trust   # no candidate fits the region: no guide
        if not defer and params.region_defer > 0 and n > 4:
            inner, j = _interior_support(corners[[best]], O[[best]], C, D, span, lines, min(h, w),
                                         params.interior_cover)
            # a strong line runs right across the region's pick: a book's gutter or a page in
            # front of a picture, which the region head tends to merge on real photos (the
            # price: a sharp fold across a page is split too, as without the region) ...
            defer = inner[0] > params.region_defer * np.sqrt(cv2.contourArea(corners[best].astype(np.float32)))
            if defer and params.region_defer_aim > 0:
                # ... unless it runs through the middle of the frame: people centre what they
                # photograph, a whole folded sheet on its fold, one page of a book on that
                # page (its gutter then lies off centre)
                k = int(j[0])
                normal = np.array([-D[k, 1], D[k, 0]])
                extent = float(np.ptp(corners[best] @ normal))
                defer = abs(float(np.dot(centre - C[k], normal))) > params.region_defer_aim * extent
        if defer:   # the edge finder's own choice decides
            best = edge_pick()
            iou = float(_region_ious(corners[[best]], region, params.region_scale)[0])
    conf = float(supported[best].sum() / max(in_frame[best].sum(), 1.0))
    return O[best], corners[best], conf, iou


def _convex_hull(points) -> np.ndarray:
    """Counter-clockwise hull (y up; clockwise on screen) of 2-D points, float64."""
    hull = cv2.convexHull(np.asarray(points, dtype=np.float32).reshape(-1, 1, 2), returnPoints=False)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)[hull[:, 0]]
    return pts if _shoelace(pts) >= 0 else pts[::-1]


def _shoelace(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _clip_convex(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of convex ``subject`` inside convex ``clip`` (both CCW)."""
    out = subject
    for a, b in zip(clip, np.roll(clip, -1, axis=0)):
        if len(out) == 0:
            break
        d = b - a
        side = d[0] * (out[:, 1] - a[1]) - d[1] * (out[:, 0] - a[0])   # >= 0: inside (left of a->b)
        kept = []
        for k in range(len(out)):
            p, q, sp, sq = out[k], out[(k + 1) % len(out)], side[k], side[(k + 1) % len(out)]
            if sp >= 0:
                kept.append(p)
            if (sp >= 0) != (sq >= 0):
                kept.append(p + (q - p) * (sp / (sp - sq)))
        out = np.array(kept).reshape(-1, 2)
    return out


def convex_overlap(a, b) -> tuple[float, float, float]:
    """(intersection area, area of a, area of b) of the convex hulls of two point sets, in
    float64. Not cv2.intersectConvexConvex: it returns three quarters of the area for two
    quads that differ by 5e-7 px (a Keras and a .tflite detection of the same page)."""
    pa, pb = _convex_hull(a), _convex_hull(b)
    area_a, area_b = _shoelace(pa), _shoelace(pb)
    if area_a <= 0 or area_b <= 0:
        return 0.0, max(area_a, 0.0), max(area_b, 0.0)
    inter = _shoelace(_clip_convex(pa, pb))
    return min(max(inter, 0.0), area_a, area_b), area_a, area_b


def polygon_iou(a, b) -> float:
    """IoU of two quadrilaterals (convex hulls of the 4 points each)."""
    inter, area_a, area_b = convex_overlap(a, b)
    return float(inter / (area_a + area_b - inter)) if area_a > 0 and area_b > 0 else 0.0


def _region_ious(corners: np.ndarray, region: np.ndarray, scale: int) -> np.ndarray:
    """Soft IoU of each quad (K, 4, 2) with the region map, on a ``scale``-times smaller grid."""
    h, w = region.shape
    small = cv2.resize(region, (max(1, w // scale), max(1, h // scale)), interpolation=cv2.INTER_AREA)
    sx, sy = small.shape[1] / w, small.shape[0] / h
    flat = small.ravel()
    total = float(flat.sum())
    mask = np.zeros(small.shape, np.float32)
    mflat = mask.ravel()
    out = np.empty(len(corners))
    pts = np.round(((corners + 0.5) * np.array([sx, sy]) - 0.5) * 16).astype(np.int32)
    for k in range(len(corners)):
        mask.fill(0)
        cv2.fillConvexPoly(mask, pts[k], 1.0, cv2.LINE_8, 4)
        area, inter = float(mflat.sum()), float(mflat @ flat)
        union = area + total - inter
        out[k] = inter / union if union > 0 else 0.0
    return out


def _region_lines(region: np.ndarray, diag: float) -> list[_Line]:
    """The 4 sides of the region's outline, each a TLS line through its contour points."""
    mask = (region > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return []
    contour = max(contours, key=cv2.contourArea)
    if cv2.contourArea(contour) < 0.01 * region.size:
        return []
    hull = cv2.convexHull(contour)
    try:
        quad = cv2.approxPolyN(hull, 4, ensure_convex=True).reshape(-1, 2).astype(np.float64)
    except cv2.error:
        return []
    if len(quad) != 4:
        return []
    pts = contour.reshape(-1, 2).astype(np.float64)
    h, w = region.shape
    # contour points on the frame border are where the page leaves the frame, not sides
    on_border = (pts[:, 0] <= 0) | (pts[:, 1] <= 0) | (pts[:, 0] >= w - 1) | (pts[:, 1] >= h - 1)
    lines = []
    for k in range(4):
        a, b = quad[k], quad[(k + 1) % 4]
        L = float(np.linalg.norm(b - a))
        if L < 4:
            continue
        d = (b - a) / L
        nrm = np.array([-d[1], d[0]])
        t = (pts - a) @ d
        near = (np.abs((pts - a) @ nrm) <= max(2.0, 0.01 * diag)) & (t > 0.1 * L) & (t < 0.9 * L) & ~on_border
        if near.sum() >= 6:
            d, c = _line_from_points(pts[near])
        else:
            c = (a + b) / 2
        lines.append(_Line(np.asarray(d, np.float64), np.asarray(c, np.float64), 0.0, from_region=True))
    return lines


def _add_lines(lines: list[_Line], extra: list[_Line], diag: float,
               also_covered_by: list[_Line] = ()) -> list[_Line]:
    """``lines`` plus those of ``extra`` that no line of ``lines`` (or ``also_covered_by``)
    already covers."""
    cos_tol = math.cos(math.radians(4.0))
    dist_tol = max(2.0, 0.012 * diag)
    known = list(lines) + list(also_covered_by)
    out = list(lines)
    for e in extra:
        if not any(abs(float(e.d @ ln.d)) > cos_tol
                   and abs(float((e.c - ln.c) @ np.array([-ln.d[1], ln.d[0]]))) < dist_tol for ln in known):
            out.append(e)
    return out


def _corners(P, O):
    l0, l1, l2, l3 = O.T
    return np.stack([P[l0, l1], P[l1, l2], P[l2, l3], P[l3, l0]], axis=1)     # (K, 4, 2)


def _geometry_ok(corners, w, h, params) -> np.ndarray:
    """Corners near the frame, convex, not tiny, interior angles within limits."""
    mx, my = params.max_outside * w, params.max_outside * h
    inb = ((corners[..., 0] >= -mx) & (corners[..., 0] <= w - 1 + mx) &
           (corners[..., 1] >= -my) & (corners[..., 1] <= h - 1 + my)).all(axis=1)
    e = np.roll(corners, -1, axis=1) - corners
    e_next = np.roll(e, -1, axis=1)
    cross = e[:, :, 0] * e_next[:, :, 1] - e[:, :, 1] * e_next[:, :, 0]
    convex = (cross > 0).all(axis=1) | (cross < 0).all(axis=1)
    area = 0.5 * np.abs((corners[..., 0] * np.roll(corners[..., 1], -1, axis=1)
                         - corners[..., 1] * np.roll(corners[..., 0], -1, axis=1)).sum(axis=1))
    big = area >= params.min_area * w * h
    en = e / np.maximum(np.linalg.norm(e, axis=2, keepdims=True), 1e-9)
    cos_int = -(en * np.roll(en, 1, axis=1)).sum(axis=2)
    angles_ok = (np.abs(cos_int) <= np.cos(np.deg2rad(params.min_angle_deg))).all(axis=1)
    return inb & convex & big & angles_ok


@dataclass
class _Span:
    """Per-line cumulative support (CS) and in-frame count (CI) from sample start[j] on."""
    CS: np.ndarray
    CI: np.ndarray
    start: np.ndarray
    Lm: int

    def sums(self, j, t0, t1):
        """(support, in-frame samples) of line j over integer positions round(t0)..round(t1)."""
        s = self.start[j]
        with np.errstate(invalid="ignore"):
            i0 = np.clip(np.rint(t0) - s, 0, self.Lm).astype(np.int64)
            i1 = np.clip(np.rint(t1) + 1 - s, 0, self.Lm).astype(np.int64)
        return self.CS[j, i1] - self.CS[j, i0], self.CI[j, i1] - self.CI[j, i0]


def _interior_support(corners, orders, C, D, span, lines, size, min_cover):
    """Per candidate: edge support of the other real lines strictly inside the quad.

    Each line is clipped to the quad (4 half-planes), the ends within ``margin`` of the
    outline are dropped (lines that merely cross a corner region), and lines hugging a
    side (a double edge, a shadow) are ignored.
    """
    K, n = len(corners), len(C)
    margin = 0.05 * size
    real = np.array([not ln.border for ln in lines])
    e = np.roll(corners, -1, axis=1) - corners                                  # (K, 4, 2)
    area2 = (corners[..., 0] * np.roll(corners[..., 1], -1, axis=1)
             - corners[..., 1] * np.roll(corners[..., 0], -1, axis=1)).sum(axis=1)
    sgn = np.sign(area2)[:, None, None]
    nin = np.stack([-e[..., 1], e[..., 0]], axis=-1) * sgn                      # inward normals
    nin /= np.maximum(np.linalg.norm(nin, axis=-1, keepdims=True), 1e-9)
    off = (nin * corners).sum(-1)                                               # (K, 4)
    # constraint per side: a + t * b >= margin, with a = nin.C_j - off, b = nin.D_j
    a = nin @ C.T - off[..., None]                                              # (K, 4, n)
    b = nin @ D.T
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (margin - a) / b
    lo = np.where(b > 1e-9, bound, -np.inf).max(axis=1)                         # (K, n)
    hi = np.where(b < -1e-9, bound, np.inf).min(axis=1)
    parallel_out = (np.abs(b) <= 1e-9) & (a < margin)
    inside = (hi > lo) & ~parallel_out.any(axis=1) & real[None, :]
    # not one of the quad's own sides, and not hugging one
    own = np.zeros((K, n), bool)
    own[np.arange(K)[:, None], orders] = True
    cosang = np.abs((e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-9)) @ D.T)
    near_side = ((cosang > np.cos(np.deg2rad(10))) & (np.abs(a) < 2 * margin)).any(axis=1)
    use = inside & ~own & ~near_side
    j = np.broadcast_to(np.arange(n), (K, n))
    sup = np.where(use, span.sums(j, np.where(use, lo, 0.0), np.where(use, hi, 0.0))[0], 0.0)
    length = np.where(use, hi - lo, 0.0)
    # Only lines that run all the way across count: supported over most of the crossing
    # and right up to the outline at both ends (the page's own edge band, ~3 px, aside).
    # A gutter or a second object's edge meets the outline; text, table rules and pictures
    # printed on a page stop at its margins.
    with np.errstate(divide="ignore", invalid="ignore"):
        bound0 = -a / b
    lo0 = np.where(b > 1e-9, bound0, -np.inf).max(axis=1)
    hi0 = np.where(b < -1e-9, bound0, np.inf).min(axis=1)
    win = np.maximum(2.0, 0.1 * np.where(use, hi0 - lo0, 0.0))
    gap = 3.0

    def run(t0, t1):
        return span.sums(j, np.where(use, t0, 0.0), np.where(use, t1, 0.0))[0]

    reach = ((run(lo0 + gap, lo0 + gap + win) >= 0.5 * win) & (run(hi0 - gap - win, hi0 - gap) >= 0.5 * win))
    across = (sup >= min_cover * np.maximum(length, 1.0)) & reach
    # the strongest one: a second page or object adds one such line, text adds many weak ones
    strength = np.where(across, sup, 0.0)
    return strength.max(axis=1), strength.argmax(axis=1)


def _refit_sides(p: np.ndarray, quads_sides, band: float, lo: float):
    """Refit each side (a, b) to the edge-map mass within ``band`` pixels of it.

    One remap for all sides; per side, the mass-weighted centre of each cross-section
    gives a sub-pixel ridge point and a weighted TLS line goes through them. Sides with
    too little mass come back as None.
    """
    h, w = p.shape
    n_t, offs = 24, np.arange(-band, band + 0.25, 0.5)
    P, meta = [], []
    for a, b in quads_sides:
        L = float(np.linalg.norm(b - a))
        d = (b - a) / max(L, 1e-9)
        n = np.array([-d[1], d[0]])
        # skip the ends: corners are where occluders and rounded page corners live
        ts = np.linspace(0.1 * L, 0.9 * L, n_t)
        P.append(a[None, None, :] + ts[:, None, None] * d + offs[None, :, None] * n)
        meta.append((a, d, n, ts, L))
    P = np.concatenate(P, axis=0)                                   # (4 * n_t, n_off, 2)
    x, y = P[..., 0].astype(np.float32), P[..., 1].astype(np.float32)
    vals = cv2.remap(p, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    vals = np.clip(np.where(inside, vals, 0.0) - lo, 0, None)
    out = []
    for k, (a, d, n, ts, L) in enumerate(meta):
        v = vals[k * n_t:(k + 1) * n_t]
        mass = v.sum(axis=1)
        good = mass > 1e-3
        if L < 4 or good.sum() < 6:
            out.append(None)
            continue
        centre_off = (v[good] @ offs) / mass[good]
        q = a[None, :] + ts[good, None] * d + centre_off[:, None] * n
        dn, c = _line_from_points(q, mass[good])
        out.append((dn, c) if abs(np.dot(dn, d)) >= np.cos(np.deg2rad(5.0)) else None)
    return out


def _quantiles(p: np.ndarray, qs) -> list[float]:
    """Quantiles of a [0, 1] map from a 1024-bin histogram (np.percentile costs ms)."""
    hist = cv2.calcHist([p], [0], None, [1024], [0.0, 1.0 + 1e-6]).ravel()
    cdf = np.cumsum(hist) / max(float(hist.sum()), 1.0)
    return [float(np.searchsorted(cdf, q)) / 1024.0 for q in qs]


@dataclass
class _Prepared:
    p: np.ndarray                   # the edge map, normalised against its own background
    region: np.ndarray | None
    lines: list[_Line]              # candidate lines, frame borders last
    support_map: np.ndarray


def _prepare(edge_prob, params: QuadParams, region) -> _Prepared | None:
    """Edge (and region) map -> normalised map, candidate lines and support map (steps 1-2);
    None where there is no document to look for."""
    p = np.asarray(edge_prob, dtype=np.float32)
    if p.ndim == 3 and p.shape[-1] == 1:
        p = p[..., 0]
    if p.ndim != 2 or min(p.shape) < 8:
        raise ValueError(f"edge map must be 2-D and at least 8x8, got shape {p.shape}")
    p = np.nan_to_num(np.clip(p, 0.0, 1.0))
    h, w = p.shape
    if region is not None:
        region = np.asarray(region, dtype=np.float32)
        if region.ndim == 3 and region.shape[-1] == 1:
            region = region[..., 0]
        if region.shape != p.shape:
            raise ValueError(f"region map must have the edge map's shape {p.shape}, got {region.shape}")
        region = np.nan_to_num(np.clip(region, 0.0, 1.0))
    # Convolutions see zero padding past the frame, so CNN (and Sobel) edge maps light up
    # along it; a page edge never runs exactly on the frame border (frame borders are
    # offered as candidate sides separately).
    ring = 1 if min(h, w) < 128 else 2
    p = p.copy()
    p[:ring], p[-ring:], p[:, :ring], p[:, -ring:] = 0, 0, 0, 0
    # Class-balanced HED training biases every pixel upwards, and by how much varies from
    # model to model and photo to photo: measure edges against the map's own background
    # (its median; edges are a few percent of the pixels) and its own strong-edge level.
    bg, peak = _quantiles(p, (0.5, params.peak_quantile))
    if peak - bg < params.min_contrast:
        if region is None:
            return None
        p = np.zeros_like(p)    # no edge evidence: the region map alone may still outline a page
    else:
        p = np.clip((p - bg) / (peak - bg), 0.0, 1.0).astype(np.float32)
    diag = float(np.hypot(h, w))
    s = min(h, w)
    # Transposed-conv side outputs leave a period-2 checkerboard on the edge map; a light
    # blur keeps it from breaking ridges into dots.
    sigma = params.smooth * s / 256.0
    smooth = cv2.GaussianBlur(p, (0, 0), sigma) if sigma > 0.3 else p
    ridges = _ridges(smooth, params.ridge_threshold)
    segs = cv2.HoughLinesP(ridges, 1, np.pi / 180, threshold=max(8, int(params.hough_votes * s)),
                           minLineLength=max(6, int(params.min_segment * s)),
                           maxLineGap=max(3, int(params.max_gap * s)))
    lines = _segments_to_lines(segs, diag, params.max_lines, params.max_per_direction)
    if region is not None:
        # (a region side on the frame border is that border, which is offered anyway)
        lines = _add_lines(lines, _region_lines(region, diag), diag, also_covered_by=_border_lines(h, w))
    if len(lines) < 2:
        return None
    support_map = cv2.dilate(p, np.ones((3, 3), np.uint8))
    support_map = np.clip((support_map - params.support_lo) / (params.support_hi - params.support_lo), 0, 1)
    all_lines = lines + _border_lines(h, w)
    return _Prepared(p, region, all_lines, support_map.astype(np.float64))


def find_quad(edge_prob: np.ndarray, image: np.ndarray | None = None,
              params: QuadParams = DEFAULT_PARAMS, region: np.ndarray | None = None) -> QuadResult:
    """Find the page outline in an edge-probability map (h, w) with values in [0, 1].

    ``region``: optional page-region probability map of the same shape (see the module
    doc); it picks among candidate quads and offers its own outline's sides.

    Corners come back in edge-map pixel coordinates, clockwise from the top-left. When
    ``image`` (any resolution, same framing) is given, the sides are also refined on it
    with ``refine_corners`` and mapped back to edge-map coordinates.
    """
    prep = _prepare(edge_prob, params, region)
    cands = None if prep is None else _candidates(prep.lines, prep.support_map, params)
    if cands is None:
        return QuadResult(None, 0.0, NO_DOCUMENT)
    p, all_lines = prep.p, prep.lines
    h, w = p.shape
    order, corners, conf, iou = _pick(cands, all_lines, params, h, w, prep.region)
    # A page the region map outlines well is found even where its edges are faint
    # (white on white); confidence is then the region IoU.
    if iou is not None and conf < params.min_confidence and iou >= params.region_accept:
        conf = iou
    if conf < params.min_confidence:
        return QuadResult(None, conf, NO_DOCUMENT)
    corners = _refine_on_edge_map(p, all_lines, order, corners, params)
    if image is not None:
        ih, iw = image.shape[:2]
        scale = np.array([iw / w, ih / h])
        corners = (refine_corners(image, (corners + 0.5) * scale - 0.5) + 0.5) / scale - 0.5
    return QuadResult(order_corners(corners), float(np.clip(conf, 0, 1)))


def candidate_quads(edge_prob: np.ndarray, params: QuadParams = DEFAULT_PARAMS,
                    region: np.ndarray | None = None) -> np.ndarray:
    """Every quad ``find_quad`` chooses among, best edge score first, as (K, 4, 2) corners
    in edge-map pixels before any refinement; (0, 4, 2) if none. (Those of the 256 best
    edge-scored with a sane shape; the rest only when none of those has one.)

    With a labelled set, the best of them against the label is the ceiling of any rule that
    picks among these candidates (``benchmarks/region_oracle.py``).
    """
    prep = _prepare(edge_prob, params, region)
    cands = None if prep is None else _candidates(prep.lines, prep.support_map, params)
    return np.zeros((0, 4, 2)) if cands is None else cands.corners


def _refine_on_edge_map(p, lines, order, corners, params):
    pairs = [(corners[(k - 1) % 4], corners[k]) for k in range(4)]
    fits = _refit_sides(p, pairs, 2.5, params.support_lo)
    sides = []
    for k in range(4):
        ln = lines[order[k]]
        sides.append(fits[k] if (fits[k] is not None and not ln.border) else (ln.d, ln.c))
    out = []
    for k in range(4):
        x = _intersect(sides[k][0], sides[k][1], sides[(k + 1) % 4][0], sides[(k + 1) % 4][1])
        # a refit that moves a corner far is a refit gone wrong: keep the coarse corner
        if x is None or np.linalg.norm(x - corners[k]) > 0.03 * float(np.hypot(*p.shape)):
            x = corners[k]
        out.append(x)
    return np.array(out)


# ---------------------------------------------------------------------------------------
# Sub-pixel refinement on the full-resolution photo

def refine_corners(image_full: np.ndarray, corners_full, search: float | None = None,
                   passes: int = 2) -> np.ndarray:
    """Snap each side to the strongest consistent intensity step near it; re-intersect.

    For samples along the middle 80% of each side, the grey-level profile across the side
    (within ``search`` pixels, default 1.5% of the diagonal) gives the position of the
    steepest step of the dominant sign; a trimmed TLS fit through those positions is the
    new side. Sides with too few consistent samples (occluded, low contrast) stay as they
    were, and so does any corner that would move more than 2 * search. Each further pass
    searches a window half as wide around the previous result.
    """
    img = np.asarray(image_full)
    h, w = img.shape[:2]
    r = float(search) if search else max(3.0, 0.015 * float(np.hypot(h, w)))
    pts = np.asarray(corners_full, dtype=np.float64).reshape(4, 2)
    # Only the page's neighbourhood is read: crop (with room for every pass's search and
    # corner moves) before converting to grey and blurring, once for all passes.
    pad = 3 * r + 4
    x0 = int(np.clip(np.floor(pts[:, 0].min() - pad), 0, w - 1))
    x1 = int(np.clip(np.ceil(pts[:, 0].max() + pad), x0 + 1, w))
    y0 = int(np.clip(np.floor(pts[:, 1].min() - pad), 0, h - 1))
    y1 = int(np.clip(np.ceil(pts[:, 1].max() + pad), y0 + 1, h))
    crop = img[y0:y1, x0:x1]
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), max(0.8, r / 8.0))
    origin = np.array([x0, y0], np.float64)
    local = pts - origin
    for _ in range(max(1, passes)):
        local = _refine_pass(grey, local, r, (w - x0, h - y0))
        r = max(2.0, 0.45 * r)
    return (local + origin).astype(np.float32)


def _refine_pass(grey: np.ndarray, local: np.ndarray, r: float, frame_wh) -> np.ndarray:
    centroid = local.mean(axis=0)
    sides = []
    for k in range(4):
        a, b = local[k], local[(k + 1) % 4]
        fit = _refine_side_on_image(grey, a, b, centroid, r, frame_wh)
        if fit is None:
            d = (b - a) / max(np.linalg.norm(b - a), 1e-9)
            fit = (d, a)
        sides.append(fit)
    out = local.copy()
    for k in range(4):
        # corner k is where side k-1 (ending at k) meets side k (starting at k)
        x = _intersect(sides[k - 1][0], sides[k - 1][1], sides[k][0], sides[k][1])
        if x is not None and np.linalg.norm(x - local[k]) <= 2 * r:
            out[k] = x
    return out


def _refine_side_on_image(grey, a, b, centroid, r, frame_wh):
    gh, gw = grey.shape
    L = float(np.linalg.norm(b - a))
    if L < 10:
        return None
    d = (b - a) / L
    n = np.array([-d[1], d[0]])
    if np.dot((a + b) / 2 - centroid, n) < 0:
        n = -n                              # n points out of the page
    m = int(np.clip(L / 4, 12, 64))
    ts = np.linspace(0.1 * L, 0.9 * L, m)
    step = max(0.5, r / 12.0)
    offs = np.arange(-r, r + step / 2, step)
    base = a[None, :] + ts[:, None] * d
    # samples whose whole profile lies inside the photo (and so inside the crop)
    ends = np.concatenate([base + offs[0] * n, base + offs[-1] * n])
    ok = ((ends[:, 0] >= 1) & (ends[:, 0] <= min(gw, frame_wh[0]) - 2) &
          (ends[:, 1] >= 1) & (ends[:, 1] <= min(gh, frame_wh[1]) - 2)).reshape(2, m).all(axis=0)
    if ok.sum() < 6:
        return None
    base, ts = base[ok], ts[ok]
    P = base[:, None, :] + offs[None, :, None] * n
    prof = cv2.remap(grey, P[..., 0].astype(np.float32), P[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    deriv = np.gradient(prof, step, axis=1)
    # Mild prior for the coarse position: the edge map is rarely off by more than r/2.
    deriv *= np.exp(-0.5 * (offs / (0.6 * r)) ** 2)[None, :]
    # page brighter (usual) or darker than what is outside: the sign with more evidence
    up, down = deriv.max(axis=1), (-deriv).max(axis=1)
    s = deriv if np.clip(up, 0, None).sum() > np.clip(down, 0, None).sum() else -deriv
    idx = np.argmax(s, axis=1)
    rows = np.arange(len(idx))
    peak = s[rows, idx]
    pos = peak[peak > 0]
    strong = peak > max(2.0, 0.35 * float(np.median(pos))) if len(pos) else np.zeros(len(idx), bool)
    use = strong & (idx > 0) & (idx < len(offs) - 1)
    if use.sum() < max(6, 0.3 * len(idx)):
        return None
    rows = rows[use]
    i = idx[rows]
    y0, y1, y2 = s[rows, i - 1], s[rows, i], s[rows, i + 1]
    den = y0 - 2 * y1 + y2
    frac = np.where(np.abs(den) > 1e-9, 0.5 * (y0 - y2) / np.where(np.abs(den) > 1e-9, den, 1.0), 0.0)
    off = offs[i] + np.clip(frac, -0.5, 0.5) * step
    q = base[rows] + off[:, None] * n
    wts = peak[rows]
    keep = np.ones(len(q), bool)
    for _ in range(3):
        dd, cc = _line_from_points(q[keep], wts[keep])
        res = np.abs((q - cc) @ np.array([-dd[1], dd[0]]))
        tol = max(0.75 * step, 2.5 * 1.4826 * float(np.median(res[keep])))
        keep = res <= tol
        if keep.sum() < max(6, 0.3 * len(idx)):
            return None
    if abs(np.dot(dd, d)) < np.cos(np.deg2rad(4.0)):
        return None
    return dd, cc
