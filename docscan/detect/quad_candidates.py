"""Lines -> candidate quads with an edge score (steps 3-4 of ``docscan.detect.quad``).

Every set of 4 lines in each of its 3 cyclic orders is a candidate, corners at the
lines' crossings. Side evidence rules most out first (looked up in per-line cumulative
sums, tabulated once per line triple), then the best-scored few hundred are checked for a
sane shape.
"""

from __future__ import annotations

import ctypes
import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from docscan.detect import native
from docscan.detect.quad_lines import Line
from docscan.detect.quad_params import QuadParams

SHAPE_CHECKED = 256   # candidates, best edge score first, checked for a sane shape before the rest
_NEXT, _PREV = np.array([1, 2, 3, 0]), np.array([3, 0, 1, 2])   # corner k -> k + 1, k - 1


@dataclass
class LineTable:
    """The candidate lines as arrays, each sampled at unit steps over its in-frame stretch.

    A line is parametrised from the frame centre's projection onto it (``points``); line
    j's samples are t = start[j] + 0 .. n_samples - 1, and ``sums`` gives the support
    summed over a stretch of them.
    """
    points: np.ndarray       # (n, 2) per line: the point nearest the frame centre ...
    dirs: np.ndarray         # (n, 2) ... and the unit direction
    start: np.ndarray        # (n,) t of each line's first sample
    cum_support: np.ndarray  # (n, n_samples + 1) cumulative support from sample 0 on
    cum_inside: np.ndarray   # (n, n_samples + 1) cumulative count of in-frame samples
    n_samples: int

    def sums(self, j, t0, t1):
        """(support, in-frame samples) of line j over integer positions round(t0)..round(t1)."""
        i0, i1 = self._span(j, t0, t1)
        return self.cum_support[j, i1] - self.cum_support[j, i0], self.cum_inside[j, i1] - self.cum_inside[j, i0]

    def support(self, j, t0, t1):
        """``sums``' support alone (half the lookups)."""
        i0, i1 = self._span(j, t0, t1)
        return self.cum_support[j, i1] - self.cum_support[j, i0]

    def _span(self, j, t0, t1):
        s = self.start[j]
        with np.errstate(invalid="ignore"):
            # (np.minimum/np.maximum, not np.clip: the same values, a third of the cost here)
            i0 = np.minimum(np.maximum(np.rint(t0) - s, 0), self.n_samples).astype(np.int64)
            i1 = np.minimum(np.maximum(np.rint(t1) + 1 - s, 0), self.n_samples).astype(np.int64)
        return i0, i1


@dataclass
class Candidates:
    """Quads that passed the side-evidence and geometry checks, best edge score first."""
    line_ids: np.ndarray    # (K, 4) indices of the lines of each quad's sides, in cyclic order
    corners: np.ndarray     # (K, 4, 2) edge-map pixels
    score: np.ndarray       # (K,) edge score, descending
    supported: np.ndarray   # (K, 4) edge support per side
    in_frame: np.ndarray    # (K, 4) in-frame length per side
    table: LineTable
    centre: np.ndarray      # the frame centre


def candidates(lines: list[Line], support_map: np.ndarray, params: QuadParams) -> Candidates | None:
    h, w = support_map.shape
    n = len(lines)
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    lib = native.library()
    if lib is not None:
        return _candidates_native(lib, lines, support_map, params, centre)
    table = _line_table(lines, support_map, centre, params)
    meets, t_cross, crossing = _crossings(table, params.min_angle_deg)

    n_real = sum(not ln.border for ln in lines)
    line_ids = _orders(n, n_real)
    if len(line_ids) == 0:
        return None
    m = meets.ravel()
    p01, p12, p23, p30 = _order_pairs(n, n_real)
    line_ids = line_ids[m[p01] & m[p12] & m[p23] & m[p30]]
    if len(line_ids) == 0:
        return None
    # Side evidence first; it rules out most candidates before any geometry.
    side_support, side_in_frame, side_ok = _side_tables(lines, table, t_cross, params, min(h, w))
    sides = _sides(line_ids)
    line_ids = line_ids[side_ok[sides[0]] & side_ok[sides[1]] & side_ok[sides[2]] & side_ok[sides[3]]]
    if len(line_ids) == 0:
        return None
    sides = _sides(line_ids)
    supported = np.array([side_support[s] for s in sides]).T
    in_frame = np.array([side_in_frame[s] for s in sides]).T
    score = _edge_score(supported, in_frame, params)
    # Geometry only for the best-scored few hundred: the winner is almost always among them.
    order = np.argsort(-score, kind="stable")
    for chunk in (order[:SHAPE_CHECKED], order[SHAPE_CHECKED:]):
        if len(chunk) == 0:
            return None
        chunk_ids = line_ids[chunk]
        corners = corners_of(crossing, chunk_ids)
        keep = _shape_ok(corners, w, h, params)
        if keep.any():
            break
    if not keep.any():
        return None
    return Candidates(chunk_ids[keep], corners[keep], score[chunk][keep],    # still in descending order
                      supported[chunk][keep], in_frame[chunk][keep], table, centre)


def _candidates_native(lib, lines: list[Line], support_map: np.ndarray, params: QuadParams,
                       centre: np.ndarray) -> Candidates | None:
    """``candidates`` in C (docscan/detect/native), the same answer."""
    ptr = native.ptr
    h, w = support_map.shape
    n = len(lines)
    line_ids = _orders(n, sum(not ln.border for ln in lines))
    if len(line_ids) == 0:
        return None
    dirs = np.array([ln.d for ln in lines], np.float64)
    cs = np.array([ln.c for ln in lines], np.float64)
    border = np.array([ln.border for ln in lines], np.uint8)
    from_region = np.array([ln.from_region for ln in lines], np.uint8)
    n_samples = _samples_per_line(h, w)
    points, start = np.empty((n, 2)), np.empty(n, np.int64)
    cum_support, cum_inside = np.empty((n, n_samples + 1)), np.empty((n, n_samples + 1))
    support_map = np.ascontiguousarray(support_map, np.float64)
    lib.line_table(n, ptr(dirs), ptr(cs), ptr(border), ptr(from_region), ptr(support_map), h, w,
                   params.border_support, params.region_line_support, n_samples, ptr(points), ptr(start),
                   ptr(cum_support), ptr(cum_inside))
    table = LineTable(points, dirs, start, cum_support, cum_inside, n_samples)
    exempt = border | from_region
    rows = SHAPE_CHECKED        # enough unless no sane shape is among the best-scored
    while True:
        ids, corners = np.empty((rows, 4), np.int64), np.empty((rows, 4, 2))
        score, supported, in_frame = np.empty(rows), np.empty((rows, 4)), np.empty((rows, 4))
        k = lib.quad_candidates(n, ptr(points), ptr(dirs), ptr(exempt), ptr(start), ptr(cum_support),
                                ptr(cum_inside), n_samples, h, w, _c_params(params), ptr(line_ids), len(line_ids),
                                SHAPE_CHECKED, rows, ptr(ids), ptr(corners), ptr(score), ptr(supported),
                                ptr(in_frame))
        if k >= -1:
            break
        rows = -2 - k
    if k < 0:
        raise MemoryError("quad_candidates: out of memory")
    if k == 0:
        return None
    return Candidates(ids[:k], corners[:k], score[:k], supported[:k], in_frame[:k], table, centre)


@lru_cache(maxsize=16)
def _c_params(params: QuadParams):
    """``params`` as quad_native.c's CandidateParams (by reference), the angle thresholds as
    numpy computes them (its sin and cos need not be libm's)."""
    return ctypes.byref(native.CandidateParams(
        params.border_support, params.region_line_support, params.min_side_cover, params.unsupported_penalty,
        params.ratio_power, params.max_outside, params.min_area, float(np.sin(np.deg2rad(params.min_angle_deg))),
        float(np.cos(np.deg2rad(params.min_angle_deg)))))


def _line_table(lines: list[Line], support_map: np.ndarray, centre: np.ndarray, params: QuadParams) -> LineTable:
    """Sample the support map along the in-frame stretch of each line (at most a diagonal
    long); frame borders and region sides get a floor of support of their own."""
    h, w = support_map.shape
    n = len(lines)
    dirs = np.array([ln.d for ln in lines])
    cs = np.array([ln.c for ln in lines])
    along = (centre - cs) * dirs
    points = cs + (along[:, 0] + along[:, 1])[:, None] * dirs
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = (np.array([-0.5, w - 0.5])[None, :] - points[:, :1]) / dirs[:, :1]
        ty = (np.array([-0.5, h - 0.5])[None, :] - points[:, 1:]) / dirs[:, 1:]
    tx = np.where(np.abs(dirs[:, :1]) < 1e-12, np.array([-np.inf, np.inf])[None, :], tx)
    ty = np.where(np.abs(dirs[:, 1:]) < 1e-12, np.array([-np.inf, np.inf])[None, :], ty)
    t_in = np.maximum(tx.min(1), ty.min(1))
    start = np.floor(np.where(np.isfinite(t_in), t_in, 0.0)).astype(np.int64)
    n_samples = _samples_per_line(h, w)
    ts = start[:, None] + np.arange(n_samples)[None, :]
    xs = points[:, 0:1] + ts * dirs[:, 0:1]
    ys = points[:, 1:2] + ts * dirs[:, 1:2]
    inside = (xs >= -0.5) & (xs <= w - 0.5) & (ys >= -0.5) & (ys <= h - 0.5)
    xi = np.minimum(np.maximum(np.rint(xs).astype(np.int64), 0), w - 1)
    yi = np.minimum(np.maximum(np.rint(ys).astype(np.int64), 0), h - 1)
    # frame borders and region sides have a floor of support (the rest 0: support is >= 0)
    floor = np.array([params.border_support if ln.border else params.region_line_support if ln.from_region
                      else 0.0 for ln in lines])
    sup = np.where(inside, np.maximum(support_map[yi, xi], floor[:, None]), 0.0)
    zeros = np.zeros((n, 1))
    cum_support = np.concatenate([zeros, np.cumsum(sup, axis=1)], axis=1)
    cum_inside = np.concatenate([zeros, np.cumsum(inside, axis=1)], axis=1)
    return LineTable(points, dirs, start, cum_support, cum_inside, n_samples)


def _samples_per_line(h: int, w: int) -> int:
    """Samples a line table holds per line: a diagonal of an (h, w) map, and some."""
    return int(np.ceil(float(np.hypot(h, w)))) + 3


def _crossings(table: LineTable, min_angle_deg: float):
    """Pairwise crossings: (meets (n, n): the lines cross at a sane angle, t (n, n): the
    crossing of line i with line j as a parameter along line i, crossing (n, n, 2): that
    point)."""
    points, dirs = table.points, table.dirs
    den = dirs[:, None, 0] * dirs[None, :, 1] - dirs[:, None, 1] * dirs[None, :, 0]          # (n, n)
    diff = points[None, :, :] - points[:, None, :]                                       # c_j - c_i
    meets = np.abs(den) >= np.sin(np.deg2rad(min_angle_deg))
    # near-parallel pairs never meet at a corner (meets is False for them)
    t_cross = (diff[..., 0] * dirs[None, :, 1] - diff[..., 1] * dirs[None, :, 0]) / np.where(meets, den, 1.0)
    t_cross = np.where(meets, t_cross, 0.0)
    crossing = points[:, None, :] + t_cross[..., None] * dirs[:, None, :]                 # point on line i
    return meets, t_cross, crossing


@lru_cache(maxsize=64)
def _orders(n_lines: int, n_real: int) -> np.ndarray:
    """All (l0, l1, l2, l3) cyclic orders of 4-line subsets, at most 2 frame borders."""
    # (in numpy: a first frame with a new line count cost 40 ms of Python loops)
    combos = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n_lines), 4)),
                         np.int64).reshape(-1, 4)
    combos = combos[(combos >= n_real).sum(axis=1) <= 2]
    return combos[:, [[0, 1, 2, 3], [0, 1, 3, 2], [0, 2, 1, 3]]].reshape(-1, 4)


@lru_cache(maxsize=64)
def _order_pairs(n_lines: int, n_real: int) -> np.ndarray:
    """(4, rows): ``_orders``' consecutive side pairs (l0, l1), (l1, l2), (l2, l3), (l3, l0)
    as flat indices into an (n, n) table (one 1-D take each instead of 2-D fancy indexing)."""
    ids = _orders(n_lines, n_real)
    return (ids * n_lines + ids[:, [1, 2, 3, 0]]).T.copy()


def _sides(line_ids: np.ndarray):
    """Per side of each quad, the (line before, side's line, line after) index triple."""
    l0, l1, l2, l3 = line_ids.T
    return (l3, l0, l1), (l0, l1, l2), (l1, l2, l3), (l2, l3, l0)


def _side_tables(lines: list[Line], table: LineTable, t_cross: np.ndarray, params: QuadParams, size: int):
    """(support, in-frame length, enough evidence) of the side on line j between its
    crossings with lines i and k, for all n^3 triples (i, j, k): a side depends on its
    triple only, so it is tabulated once and gathered per candidate."""
    n = len(lines)
    a3 = t_cross.T[:, :, None]                    # crossing of j with i, along j
    b3 = t_cross[None, :, :]                      # crossing of j with k, along j
    line_j = np.broadcast_to(np.arange(n)[None, :, None], (n, n, n))
    support, in_frame = table.sums(line_j, np.minimum(a3, b3), np.maximum(a3, b3))
    # frame borders and region sides need no edge evidence of their own
    exempt = np.array([ln.border or ln.from_region for ln in lines])
    ok = (in_frame >= 0.05 * size) & (exempt[line_j] | (support >= params.min_side_cover * np.maximum(in_frame, 1.0)))
    return support, in_frame, ok


def _edge_score(supported: np.ndarray, in_frame: np.ndarray, params: QuadParams) -> np.ndarray:
    """Edge support along the sides minus unsupported in-frame length, times the supported
    share of the outline to a power."""
    score = supported.sum(1) - params.unsupported_penalty * (in_frame - supported).sum(1)
    if params.ratio_power > 0:
        # Summed support favours big quads pieced together from background lines (planks,
        # tiles, shadows) with gaps; a page is supported almost all the way round.
        share = supported.sum(1) / np.maximum(in_frame.sum(1), 1.0)
        score = np.where(score > 0, score * share ** params.ratio_power, score)
    return score


def corners_of(crossing: np.ndarray, line_ids: np.ndarray) -> np.ndarray:
    """(K, 4, 2) corners of quads given as line indices: consecutive sides' crossings."""
    l0, l1, l2, l3 = line_ids.T
    return np.stack([crossing[l0, l1], crossing[l1, l2], crossing[l2, l3], crossing[l3, l0]], axis=1)


def _shape_ok(corners, w, h, params) -> np.ndarray:
    """Corners near the frame, convex, not tiny, interior angles within limits."""
    mx, my = params.max_outside * w, params.max_outside * h
    near_frame = ((corners[..., 0] >= -mx) & (corners[..., 0] <= w - 1 + mx) &
                  (corners[..., 1] >= -my) & (corners[..., 1] <= h - 1 + my)).all(axis=1)
    # (index tables, not np.roll, and the norm spelled out: the same values, less overhead)
    following = corners[:, _NEXT]
    e = following - corners
    e_next = e[:, _NEXT]
    cross = e[:, :, 0] * e_next[:, :, 1] - e[:, :, 1] * e_next[:, :, 0]
    convex = (cross.min(axis=1) > 0) | (cross.max(axis=1) < 0)
    # sums over 2 or 4 components written out, in numpy's order (its reductions over such
    # short axes cost more than the arithmetic)
    a = corners[..., 0] * following[..., 1] - corners[..., 1] * following[..., 0]
    area = 0.5 * np.abs(a[:, 0] + a[:, 1] + a[:, 2] + a[:, 3])
    big = area >= params.min_area * w * h
    ex, ey = e[..., 0], e[..., 1]
    norm = np.maximum(np.sqrt(ex * ex + ey * ey), 1e-9)
    ex, ey = ex / norm, ey / norm
    cos_int = -(ex * ex[:, _PREV] + ey * ey[:, _PREV])
    angles_ok = (np.abs(cos_int) <= np.cos(np.deg2rad(params.min_angle_deg))).all(axis=1)
    return near_frame & convex & big & angles_ok
