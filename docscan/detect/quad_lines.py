"""Edge (and region) map -> the lines a page outline is built from (steps 1-2 of
``docscan.detect.quad``): normalise the map, thin it to ridges, find segments, merge them
into lines; add the region outline's sides and the frame borders."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from docscan.detect import native
from docscan.detect.geometry import line_through_points
from docscan.detect.quad_params import QuadParams

# Two lines coincide when within this angle and this distance (pixels, or share of the diagonal).
SAME_LINE_DEG = 4.0
SAME_LINE_DIST = 0.012


@dataclass
class Line:
    d: np.ndarray        # unit direction
    c: np.ndarray        # a point on the line
    support: float       # total length of its segments
    border: bool = False
    from_region: bool = False   # a side of the region map's outline


@dataclass
class PreparedMaps:
    p: np.ndarray                   # the edge map, normalised against its own background
    region: np.ndarray | None
    lines: list[Line]               # candidate lines, frame borders last
    support_map: np.ndarray


def prepare(edge_prob, params: QuadParams, region) -> PreparedMaps | None:
    """Edge (and region) map -> normalised map, candidate lines and support map (steps 1-2);
    None where there is no document to look for."""
    p = _as_map(edge_prob)
    if p.ndim != 2 or min(p.shape) < 8:
        raise ValueError(f"edge map must be 2-D and at least 8x8, got shape {p.shape}")
    p = _unit_range(p)
    h, w = p.shape
    if region is not None:
        region = _as_map(region)
        if region.shape != p.shape:
            raise ValueError(f"region map must have the edge map's shape {p.shape}, got {region.shape}")
        region = _unit_range(region)
    p = _normalised(p, params, has_region=region is not None)
    if p is None:
        return None
    diag = float(np.hypot(h, w))
    lines = _edge_lines(p, params, diag)
    if region is not None:
        # (a region side on the frame border is that border, which is offered anyway)
        lines = _add_lines(lines, _region_lines(region, diag), diag, also_covered_by=border_lines(h, w))
    if len(lines) < 2:
        return None
    support_map = cv2.dilate(p, np.ones((3, 3), np.uint8))
    support_map = np.minimum(np.maximum((support_map - params.support_lo) / (params.support_hi - params.support_lo),
                                        0), 1)
    all_lines = lines + border_lines(h, w)
    return PreparedMaps(p, region, all_lines, support_map.astype(np.float64))


def _unit_range(m: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(np.clip(m, 0, 1))`` in two ufuncs (fmax/fmin drop NaN): the same
    values (a zero's sign aside), a quarter of the calls."""
    return np.fmin(np.fmax(m, 0.0), 1.0)


def _as_map(m) -> np.ndarray:
    """float32, with a trailing channel axis of 1 dropped."""
    m = np.asarray(m, dtype=np.float32)
    return m[..., 0] if m.ndim == 3 and m.shape[-1] == 1 else m


def _normalised(p: np.ndarray, params: QuadParams, has_region: bool) -> np.ndarray | None:
    """The edge map measured against its own background and strong-edge level (step 1);
    None when it has no edges and there is no region map to go on."""
    h, w = p.shape
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
        if not has_region:
            return None
        return np.zeros_like(p)    # no edge evidence: the region map alone may still outline a page
    return np.minimum(np.maximum((p - bg) / (peak - bg), 0.0), 1.0).astype(np.float32, copy=False)


def _quantiles(p: np.ndarray, qs) -> list[float]:
    """Quantiles of a [0, 1] map from a 1024-bin histogram (np.percentile costs ms)."""
    hist = cv2.calcHist([p], [0], None, [1024], [0.0, 1.0 + 1e-6]).ravel()
    cdf = np.cumsum(hist) / max(float(hist.sum()), 1.0)
    return [float(np.searchsorted(cdf, q)) / 1024.0 for q in qs]


def _edge_lines(p: np.ndarray, params: QuadParams, diag: float) -> list[Line]:
    """Ridges of the (lightly smoothed) normalised map -> Hough segments -> lines (step 2)."""
    s = min(p.shape)
    # Transposed-conv side outputs leave a period-2 checkerboard on the edge map; a light
    # blur keeps it from breaking ridges into dots.
    sigma = params.smooth * s / 256.0
    smooth = cv2.GaussianBlur(p, (0, 0), sigma) if sigma > 0.3 else p
    ridges = _ridges(smooth, params.ridge_threshold)
    segs = cv2.HoughLinesP(ridges, 1, np.pi / 180, threshold=max(8, int(params.hough_votes * s)),
                           minLineLength=max(6, int(params.min_segment * s)),
                           maxLineGap=max(3, int(params.max_gap * s)))
    return _segments_to_lines(segs, diag, params.max_lines, params.max_per_direction)


def _ridges(p: np.ndarray, threshold: float) -> np.ndarray:
    """One-pixel-wide ridges of the edge map: local maxima across rows or across columns.

    Ties break to one side (>= on one neighbour, > on the other) so saturated, thick HED
    lines still give a single line of pixels. The outermost ring is never a ridge.
    """
    # OpenCV's comparisons give the 0/255 mask directly (numpy's booleans took ten passes)
    c = p[1:-1, 1:-1]
    horiz = cv2.bitwise_and(cv2.compare(c, p[1:-1, :-2], cv2.CMP_GE), cv2.compare(c, p[1:-1, 2:], cv2.CMP_GT))
    vert = cv2.bitwise_and(cv2.compare(c, p[:-2, 1:-1], cv2.CMP_GE), cv2.compare(c, p[2:, 1:-1], cv2.CMP_GT))
    out = np.zeros(p.shape, np.uint8)
    out[1:-1, 1:-1] = cv2.bitwise_and(cv2.bitwise_or(horiz, vert), cv2.compare(c, float(threshold), cv2.CMP_GT))
    return out


def _segments_to_lines(segs: np.ndarray, diag: float, max_lines: int, max_per_direction: int) -> list[Line]:
    """Greedy clustering of segments (longest first) into lines, each refitted by TLS.

    A segment joins the first cluster whose seed (its longest segment) it is parallel
    and close to. A cluster's fit uses the exact moments of its segments seen as uniform
    mass along their length (mean at the midpoint, scatter L^2/12 along the segment).
    """
    if segs is None or len(segs) == 0:
        return []
    lib = native.library()
    if lib is not None:
        return _segments_to_lines_native(lib, segs, diag, max_lines, max_per_direction)
    segs = segs.reshape(-1, 4).astype(np.float64)
    length = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
    order = np.argsort(-length, kind="stable")
    segs, length = segs[order][length[order] > 0], length[order][length[order] > 0]
    starts, ends = segs[:, :2], segs[:, 2:]
    dirs = (ends - starts) / length[:, None]
    mids = (starts + ends) / 2
    normals = np.stack([-dirs[:, 1], dirs[:, 0]], axis=1)
    cos_tol = math.cos(math.radians(SAME_LINE_DEG))
    dist_tol = max(2.0, SAME_LINE_DIST * diag)
    # compat[i, j]: segment i fits the line of segment j
    # (the 2-term sums written out, in numpy's order: its reduction over so short an axis
    # cost more than the arithmetic)
    nx, ny = normals[None, :, 0], normals[None, :, 1]
    mx_, my_ = mids[None, :, 0], mids[None, :, 1]
    compat = ((np.abs(dirs @ dirs.T) >= cos_tol)
              & (np.abs((starts[:, None, 0] - mx_) * nx + (starts[:, None, 1] - my_) * ny) < dist_tol)
              & (np.abs((ends[:, None, 0] - mx_) * nx + (ends[:, None, 1] - my_) * ny) < dist_tol))
    # The next seed is the first segment no earlier seed took, and it takes every later
    # unlabelled segment it fits (each segment joins the first seed it fits). A few dozen
    # segments: plain lists beat numpy's per-call overhead here.
    fits = compat.T.tolist()          # fits[s][i]: segment i fits the line of segment s
    n_segs = len(segs)
    labels = [-1] * n_segs
    k = 0
    for seed in range(n_segs):
        if labels[seed] >= 0:
            continue
        row = fits[seed]
        labels[seed] = k
        for i in range(seed + 1, n_segs):
            if labels[i] < 0 and row[i]:
                labels[i] = k
        k += 1
    label = np.array(labels, np.intp)   # np.bincount takes only intp: int32 on 32-bit ARM
    weight = np.bincount(label, length, k)
    mx = np.bincount(label, length * mids[:, 0], k) / weight
    my = np.bincount(label, length * mids[:, 1], k) / weight
    qx, qy, v = mids[:, 0] - mx[label], mids[:, 1] - my[label], length * length / 12
    sxx = np.bincount(label, length * (qx * qx + v * dirs[:, 0] ** 2), k)
    syy = np.bincount(label, length * (qy * qy + v * dirs[:, 1] ** 2), k)
    sxy = np.bincount(label, length * (qx * qy + v * dirs[:, 0] * dirs[:, 1]), k)
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)           # principal direction
    merged = _merge_coinciding(theta, mx, my, weight, cos_tol, dist_tol)
    return [Line(np.array(ln[:2]), np.array(ln[2:4]), ln[4])
            for ln in _best_supported(merged, max_lines, max_per_direction)]


def _segments_to_lines_native(lib, segs: np.ndarray, diag: float, max_lines: int,
                               max_per_direction: int) -> list[Line]:
    """``_segments_to_lines`` in C (docscan/detect/native), the same lines."""
    segs = np.ascontiguousarray(segs.reshape(-1, 4), np.int32)
    out = np.empty((max(max_lines, 1), 5))
    n = lib.segments_to_lines(native.ptr(segs), len(segs), math.cos(math.radians(SAME_LINE_DEG)),
                              max(2.0, SAME_LINE_DIST * diag), math.cos(math.radians(15)), max_lines,
                              max_per_direction, native.ptr(out))
    if n < 0:
        raise MemoryError("segments_to_lines: out of memory")
    return [Line(row[:2].copy(), row[2:4].copy(), float(row[4])) for row in out[:n]]


def _merge_coinciding(theta, mx, my, weight, cos_tol: float, dist_tol: float) -> list[list[float]]:
    """Clusters, best-supported first, as [dx, dy, cx, cy, support]; a cluster whose refit
    line coincides with an already-kept one adds its support to that one."""
    # Few clusters: plain floats beat numpy's per-call overhead here.
    merged: list[list[float]] = []
    for c in np.argsort(-weight, kind="stable").tolist():
        dx, dy, cx, cy, wc = math.cos(theta[c]), math.sin(theta[c]), float(mx[c]), float(my[c]), float(weight[c])
        for ln in merged:
            if abs(dx * ln[0] + dy * ln[1]) > cos_tol and abs((cx - ln[2]) * -ln[1] + (cy - ln[3]) * ln[0]) < dist_tol:
                ln[4] += wc
                break
        else:
            merged.append([dx, dy, cx, cy, wc])
    return merged


def _best_supported(merged: list[list[float]], max_lines: int, max_per_direction: int) -> list[list[float]]:
    """The best-supported lines, but at most a few of any one direction: a page needs two
    directions, and text or wood grain can supply many parallel lines."""
    kept: list[list[float]] = []
    cos15 = math.cos(math.radians(15))
    for ln in sorted(merged, key=lambda line: -line[4]):
        alike = 0
        for k in kept:
            if abs(ln[0] * k[0] + ln[1] * k[1]) > cos15:
                alike += 1
        if alike < max_per_direction:
            kept.append(ln)
            if len(kept) >= max_lines:
                break
    return kept


def border_lines(h: int, w: int) -> list[Line]:
    """The 4 frame borders (top, right, bottom, left), offered as sides of a page running off the frame."""
    return [
        Line(np.array([1.0, 0.0]), np.array([0.0, 0.0]), 0.0, True),
        Line(np.array([0.0, 1.0]), np.array([w - 1.0, 0.0]), 0.0, True),
        Line(np.array([1.0, 0.0]), np.array([0.0, h - 1.0]), 0.0, True),
        Line(np.array([0.0, 1.0]), np.array([0.0, 0.0]), 0.0, True),
    ]


def _region_lines(region: np.ndarray, diag: float) -> list[Line]:
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
    thr = max(2.0, 0.01 * diag)
    lines = []
    for k in range(4):
        a, b = quad[k], quad[(k + 1) % 4]
        dx, dy = float(b[0] - a[0]), float(b[1] - a[1])
        length = math.sqrt(dx * dx + dy * dy)     # np.linalg.norm's formula, without its overhead
        if length < 4:
            continue
        d = (b - a) / length
        # (matrix products as they were: contour points are on the integer grid, so exact
        # ties with the thresholds are common, and an FMA's rounding moves points across)
        rel = pts - a
        t = rel @ d
        near = ((np.abs(rel @ np.array([-d[1], d[0]])) <= thr) & (t > 0.1 * length) & (t < 0.9 * length)
                & ~on_border)
        if near.sum() >= 6:
            d, c = line_through_points(pts[near])
        else:
            c = (a + b) / 2
        lines.append(Line(np.asarray(d, np.float64), np.asarray(c, np.float64), 0.0, from_region=True))
    return lines


def _add_lines(lines: list[Line], extra: list[Line], diag: float,
               also_covered_by: list[Line] = ()) -> list[Line]:
    """``lines`` plus those of ``extra`` that no line of ``lines`` (or ``also_covered_by``)
    already covers."""
    cos_tol = math.cos(math.radians(SAME_LINE_DEG))
    dist_tol = max(2.0, SAME_LINE_DIST * diag)
    known = list(lines) + list(also_covered_by)
    out = list(lines)
    for e in extra:
        if not any(abs(float(e.d @ ln.d)) > cos_tol
                   and abs(float((e.c - ln.c) @ np.array([-ln.d[1], ln.d[0]]))) < dist_tol for ln in known):
            out.append(e)
    return out
