"""Sub-pixel refinement of a found quad: each side refitted to the edge mass around it on
the edge map (step 5 of ``docscan.detect.quad``), then, with ``refine_corners``, snapped to
the strongest intensity step in the full-resolution photo."""

from __future__ import annotations

import math

import cv2
import numpy as np

from docscan.detect import native
from docscan.detect.geometry import intersect_lines
from docscan.detect.quad_lines import Line
from docscan.detect.quad_params import QuadParams

EDGE_MAP_BAND = 2.5    # pixels each side of a side where the edge map's mass is refitted
EDGE_MAP_SAMPLES = 24  # cross-sections per side there
MAX_SAMPLES = 64     # samples along a side for refine_corners (fewer on short sides)
# index tables of the four-sides-at-once refinement
_NEXT, _PREV = np.array([1, 2, 3, 0]), np.array([3, 0, 1, 2])
_PERP = np.array([-1.0, 1.0])                  # (dx, dy)[::-1] * _PERP = (-dy, dx)
_SAMPLE_INDEX = np.arange(MAX_SAMPLES)
_SIDE_ROWS, _SAMPLE_COLS = np.arange(4)[:, None], _SAMPLE_INDEX[None, :]
_COS_5 = float(np.cos(np.deg2rad(5.0)))   # a refit turning more than 5 degrees is not taken
MAX_MOVE = 0.03        # a refit corner moving more than this share of the map's diagonal is dropped


def refine_on_edge_map(p: np.ndarray, lines: list[Line], line_ids, corners, params: QuadParams) -> np.ndarray:
    """Refit the quad's real sides to the edge map and re-intersect them; frame borders,
    failed refits and corners a refit would move far keep the coarse answer."""
    corners = np.asarray(corners, np.float64)
    # side k runs from corner k - 1 to corner k, on line line_ids[k]
    dirs, points, fitted = _refit_sides(p, corners[_PREV], corners, EDGE_MAP_BAND, params.support_lo)
    for k in range(4):
        ln = lines[line_ids[k]]
        if ln.border or not fitted[k]:
            dirs[k], points[k] = ln.d, ln.c
    # corner k is where side k meets side k + 1
    x, meets = intersect_lines(dirs, points, dirs[_NEXT], points[_NEXT])
    # a refit that moves a corner far is a refit gone wrong: keep the coarse corner
    near = np.sqrt(((x - corners) ** 2).sum(axis=1)) <= MAX_MOVE * float(np.hypot(*p.shape))
    return np.where((meets & near)[:, None], x, corners)


def _refit_sides(p: np.ndarray, starts: np.ndarray, ends: np.ndarray, band: float, lo: float):
    """Refit each side (starts[k] to ends[k]) to the edge-map mass within ``band`` pixels
    of it: (directions (4, 2), points (4, 2), fitted (4,)).

    One remap for all sides; per side, the mass-weighted centre of each cross-section
    gives a sub-pixel ridge point and a weighted TLS line goes through them. Sides with
    too little mass, or whose line turned more than 5 degrees, are not fitted.
    """
    h, w = p.shape
    n_t, offs = EDGE_MAP_SAMPLES, np.arange(-band, band + 0.25, 0.5)
    lib = native.library()
    if lib is not None:
        return _refit_sides_native(lib, p, starts, ends, offs, lo)
    diff = ends - starts
    length = np.sqrt((diff * diff).sum(axis=1))
    d = diff / np.maximum(length, 1e-9)[:, None]
    n = d[:, ::-1] * _PERP
    # skip the ends: corners are where occluders and rounded page corners live
    # (np.linspace(0.1 * length, 0.9 * length, n_t) per side)
    lo_t, hi_t = 0.1 * length, 0.9 * length
    ts = np.arange(n_t)[None, :] * ((hi_t - lo_t) / (n_t - 1))[:, None] + lo_t[:, None]
    ts[:, -1] = hi_t
    base = starts[:, None, :] + ts[..., None] * d[:, None, :]                      # (4, n_t, 2)
    grid = base[:, :, None, :] + offs[None, None, :, None] * n[:, None, None, :]    # (4, n_t, n_off, 2)
    x = grid[..., 0].reshape(4 * n_t, -1).astype(np.float32)
    y = grid[..., 1].reshape(4 * n_t, -1).astype(np.float32)
    vals = cv2.remap(p, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    v = np.maximum(np.where(inside, vals, 0.0) - lo, 0).reshape(4, n_t, -1)
    mass = v.sum(axis=2)
    good = mass > 1e-3
    fitted = (length >= 4) & (good.sum(axis=1) >= 6)
    centre_off = (v @ offs) / np.where(good, mass, 1.0)
    q = base + centre_off[..., None] * n[:, None, :]
    dn, c = _tls_lines(q, np.where(good, mass, 0.0))
    fitted &= np.abs((dn * d).sum(axis=1)) >= np.cos(np.deg2rad(5.0))
    return dn, c, fitted


def _refit_sides_native(lib, p: np.ndarray, starts, ends, offs, lo: float):
    """``_refit_sides`` in C (docscan/detect/native), around the same cv2.remap."""
    ptr = native.ptr
    h, w = p.shape
    n_t, n_off = EDGE_MAP_SAMPLES, len(offs)
    starts, ends, offs = (np.ascontiguousarray(x, np.float64) for x in (starts, ends, offs))
    mapx, mapy = np.empty((4 * n_t, n_off), np.float32), np.empty((4 * n_t, n_off), np.float32)
    base, n, d, length = np.empty((4, n_t, 2)), np.empty((4, 2)), np.empty((4, 2)), np.empty(4)
    lib.edge_refit_grid(ptr(starts), ptr(ends), ptr(offs), n_off, n_t, ptr(mapx), ptr(mapy), ptr(base), ptr(n),
                        ptr(d), ptr(length))
    vals = cv2.remap(p, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    vals = np.ascontiguousarray(vals, np.float32)
    dirs, points, fitted = np.empty((4, 2)), np.empty((4, 2)), np.empty(4, np.uint8)
    lib.edge_refit_fit(ptr(vals), ptr(mapx), ptr(mapy), h, w, float(lo), ptr(offs), n_off, n_t, ptr(base), ptr(n),
                       ptr(d), ptr(length), _COS_5, ptr(dirs), ptr(points), ptr(fitted))
    return dirs, points, fitted.astype(bool)


class RefineScratch:
    """Work buffers for ``refine_corners`` on frames of up to ``max_pixels``: the grey crop
    and its blur go into these instead of new arrays (preview frames, one call per frame)."""

    def __init__(self, max_pixels: int):
        self.max_pixels = int(max_pixels)
        # zeros (pages the OS zeroes when first touched: a per-call scratch costs the bands
        # it blurs), never garbage: nothing outside the bands is read, but NaN would spread
        self._grey = np.zeros(self.max_pixels, np.float32)
        self._blur = np.zeros(self.max_pixels, np.float32)
        self._part = np.zeros(self.max_pixels, np.float32)

    def blurred(self, crop: np.ndarray, sigma: float, bands=None) -> np.ndarray:
        """Float32 Gaussian blur of a uint8 crop's grey (RGB or grey), the same values as
        ``cv2.GaussianBlur(grey.astype(np.float32), (0, 0), sigma)``: everywhere, or with
        ``bands`` ((x0, y0, x1, y1) boxes in crop pixels) inside those boxes only (each is
        converted and blurred with the kernel's reach around it, and only the box is kept;
        the rest of the array holds whatever an earlier call left)."""
        h, w = crop.shape[:2]
        if h * w > self.max_pixels:
            raise ValueError(f"crop {w}x{h} is larger than the scratch ({self.max_pixels} pixels)")
        grey = self._grey[:h * w].reshape(h, w)
        blur = self._blur[:h * w].reshape(h, w)
        if bands is None:
            _to_grey(crop, grey)
            return cv2.GaussianBlur(grey, (0, 0), sigma, dst=blur)
        reach = int(math.ceil(4 * sigma)) + 1     # OpenCV's float kernel: 4 sigma each side
        for bx0, by0, bx1, by1 in bands:
            if bx0 >= bx1 or by0 >= by1:
                continue
            ex0, ey0, ex1, ey1 = max(bx0 - reach, 0), max(by0 - reach, 0), min(bx1 + reach, w), min(by1 + reach, h)
            src = grey[ey0:ey1, ex0:ex1]
            _to_grey(crop[ey0:ey1, ex0:ex1], src)
            part = self._part[:src.size].reshape(src.shape)
            cv2.GaussianBlur(src, (0, 0), sigma, dst=part)
            blur[by0:by1, bx0:bx1] = part[by0 - ey0:by1 - ey0, bx0 - ex0:bx1 - ex0]
        return blur


def _to_grey(crop: np.ndarray, out: np.ndarray) -> None:
    """A uint8 crop's grey (cv2's RGB2GRAY for RGB) as float32 into ``out``."""
    np.copyto(out, cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop, casting="unsafe")


def _side_bands(local: np.ndarray, r: float, hw: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Per side of the quad ``local`` (crop pixels), the box holding every pixel one
    refinement pass reads for it: the middle 80% of the side, r across, one more pixel for
    bilinear sampling (clipped to the crop)."""
    h, w = hw
    pts = local.tolist()        # (plain floats: a few dozen numpy calls cost more than this)
    boxes = []
    for k in range(4):
        (ax, ay), (bx, by) = pts[k], pts[(k + 1) % 4]
        dx, dy = bx - ax, by - ay
        scale = r / max(math.hypot(dx, dy), 1e-9)
        nx, ny = -dy * scale, dx * scale
        xs = [ax + f * dx + s * nx for f in (0.1, 0.9) for s in (1, -1)]
        ys = [ay + f * dy + s * ny for f in (0.1, 0.9) for s in (1, -1)]
        boxes.append((min(max(math.floor(min(xs)) - 2, 0), w), min(max(math.floor(min(ys)) - 2, 0), h),
                      min(max(math.ceil(max(xs)) + 3, 0), w), min(max(math.ceil(max(ys)) + 3, 0), h)))
    return boxes


def refine_corners(image_full: np.ndarray, corners_full, search: float | None = None,
                   passes: int = 2, scratch: RefineScratch | None = None) -> np.ndarray:
    """Snap each side to the strongest consistent intensity step near it; re-intersect.

    For samples along the middle 80% of each side, the grey-level profile across the side
    (within ``search`` pixels, default 1.5% of the diagonal) gives the position of the
    steepest step of the dominant sign; a trimmed TLS fit through those positions is the
    new side. Sides with too few consistent samples (occluded, low contrast) stay as they
    were, and so does any corner that would move more than 2 * search. Each further pass
    searches a window half as wide around the previous result. ``scratch``: work buffers
    to use instead of allocating (preview frames).
    """
    img = np.asarray(image_full)
    h, w = img.shape[:2]
    r = _search_radius(h, w, search)
    pts = np.asarray(corners_full, dtype=np.float64).reshape(4, 2)
    x0, y0, x1, y1 = refine_window((h, w), pts, search)
    crop = img[y0:y1, x0:x1]
    origin = np.array([x0, y0], np.float64)
    sigma = max(0.8, r / 8.0)
    if scratch is None:
        scratch = RefineScratch(crop.shape[0] * crop.shape[1])
    local = pts - origin
    for _ in range(max(1, passes)):
        # each pass reads bands along the sides only (about a third of the page's window)
        grey = scratch.blurred(crop, sigma, _side_bands(local, r, crop.shape[:2]))
        local = _refine_pass(grey, local, r, (w - x0, h - y0))
        r = max(2.0, 0.45 * r)
    return (local + origin).astype(np.float32)


def _search_radius(h: int, w: int, search: float | None) -> float:
    return float(search) if search else max(3.0, 0.015 * float(np.hypot(h, w)))


def refine_window(image_hw: tuple[int, int], corners, search: float | None = None) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the only part of an ``image_hw`` image that ``refine_corners``
    reads for these corners (the page's neighbourhood, with room for every pass's search
    and corner moves), so a caller may fill in just that part."""
    h, w = image_hw
    r = _search_radius(h, w, search)
    pts = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    pad = 3 * r + 4
    (xmin, ymin), (xmax, ymax) = pts.min(axis=0).tolist(), pts.max(axis=0).tolist()
    x0 = min(max(math.floor(xmin - pad), 0), w - 1)
    x1 = min(max(math.ceil(xmax + pad), x0 + 1), w)
    y0 = min(max(math.floor(ymin - pad), 0), h - 1)
    y1 = min(max(math.ceil(ymax + pad), y0 + 1), h)
    return x0, y0, x1, y1


def _refine_pass(grey: np.ndarray, local: np.ndarray, r: float, frame_wh) -> np.ndarray:
    """One pass over the four sides together: side k runs from corner k to corner k + 1;
    a side without a fit keeps its line through its two corners."""
    a, b = local, local[_NEXT]
    length = np.sqrt(((b - a) ** 2).sum(axis=1))
    d = (b - a) / np.maximum(length, 1e-9)[:, None]
    dirs, points, fitted = _refine_sides_on_image(grey, a, b, d, length, local.mean(axis=0), r, frame_wh)
    dirs = np.where(fitted[:, None], dirs, d)
    points = np.where(fitted[:, None], points, a)
    # corner k is where side k-1 (ending at k) meets side k (starting at k)
    x, meets = intersect_lines(dirs[_PREV], points[_PREV], dirs, points)
    near = np.sqrt(((x - local) ** 2).sum(axis=1)) <= 2 * r
    return np.where((meets & near)[:, None], x, local)


def _refine_sides_on_image(grey, a, b, d, length, centroid, r, frame_wh):
    """All four sides (``a`` to ``b``, unit ``d``, ``length`` long) refitted to the steepest
    grey step across each: (directions (4, 2), points (4, 2), fitted (4,)); a side is not
    fitted when too few of its samples agree.

    The sides are laid out as rows of one padded (4, MAX_SAMPLES) table (one remap, one
    gradient, per-side statistics along an axis) instead of one pass per side: the
    per-side passes cost more in numpy call overhead than in arithmetic."""
    gh, gw = grey.shape
    step = max(0.5, r / 12.0)
    offs = np.arange(-r, r + step / 2, step)
    # Mild prior for the coarse position: the edge map is rarely off by more than r/2.
    prior = np.exp(-0.5 * (offs / (0.6 * r)) ** 2)
    # samples whose whole profile lies inside the photo (and so inside the crop)
    xmax, ymax = min(gw, frame_wh[0]) - 2, min(gh, frame_wh[1]) - 2
    lib = native.library()
    if lib is not None:
        return _sides_native(lib, grey, a, b, d, length, centroid, offs, prior, step, xmax, ymax)
    n = d[:, ::-1] * _PERP
    outward = (((a + b) / 2 - centroid) * n).sum(axis=1) >= 0
    n = np.where(outward[:, None], n, -n)                   # n points out of the page
    m = np.minimum(np.maximum(length / 4, 12), MAX_SAMPLES).astype(np.int64)
    i = _SAMPLE_INDEX
    # np.linspace(0.1 * length, 0.9 * length, m) per side, padded with its last sample (the
    # padding is never used, and so reads no pixel outside the side's band)
    lo, hi = 0.1 * length, 0.9 * length
    ts = i[None, :] * ((hi - lo) / np.maximum(m - 1, 1))[:, None] + lo[:, None]
    ts = np.where(i[None, :] >= m[:, None] - 1, hi[:, None], ts)
    sample = i[None, :] < m[:, None]
    base = a[:, None, :] + ts[..., None] * d[:, None, :]                       # (4, S, 2)
    ok = sample.copy()
    for o in (offs[0], offs[-1]):
        e = base + o * n[:, None, :]
        ok &= (e[..., 0] >= 1) & (e[..., 0] <= xmax) & (e[..., 1] >= 1) & (e[..., 1] <= ymax)
    n_ok = ok.sum(axis=1)
    fitted = (length >= 10) & (n_ok >= 6)
    if not fitted.any():
        return d, a, fitted
    grid = base[:, :, None, :] + offs[None, None, :, None] * n[:, None, None, :]   # (4, S, O, 2)
    n_off = len(offs)
    prof = cv2.remap(grey, grid[..., 0].reshape(-1, n_off).astype(np.float32),
                     grid[..., 1].reshape(-1, n_off).astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    return _fit_sides(prof, offs, prior, step, base, n, ok, n_ok, d, a, fitted)


def _fit_sides(prof, offs, prior, step, base, n, ok, n_ok, d, a, fitted):
    """The sides' lines from their profiles (``prof``, (4 * MAX_SAMPLES, n_off)): the steepest
    step of the dominant sign per sample, to sub-pixel by a parabola, then ``_trimmed_fits``."""
    n_off = len(offs)
    deriv = _row_gradient(prof, step)
    deriv *= prior[None, :]
    deriv = deriv.reshape(4, MAX_SAMPLES, n_off)
    # page brighter (usual) or darker than what is outside: the sign with more evidence
    up = np.where(ok, np.maximum(deriv.max(axis=2), 0), 0).sum(axis=1)
    down = np.where(ok, np.maximum(-deriv.min(axis=2), 0), 0).sum(axis=1)
    s = np.where((up > down)[:, None, None], deriv, -deriv)
    idx = s.argmax(axis=2)
    rows, cols = _SIDE_ROWS, _SAMPLE_COLS
    peak = s[rows, cols, idx]
    positive = ok & (peak > 0)
    level = np.maximum(2.0, 0.35 * _row_medians(peak, positive))
    strong = positive.any(axis=1)[:, None] & (peak > level[:, None])
    use = ok & strong & (idx > 0) & (idx < n_off - 1)
    fitted &= use.sum(axis=1) >= np.maximum(6, 0.3 * n_ok)
    if not fitted.any():
        return d, a, fitted
    y0 = s[rows, cols, np.maximum(idx - 1, 0)]
    y2 = s[rows, cols, np.minimum(idx + 1, n_off - 1)]
    den = y0 - 2 * peak + y2
    flat = np.abs(den) <= 1e-9
    frac = np.where(flat, 0.0, 0.5 * (y0 - y2) / np.where(flat, 1.0, den))
    off = offs[idx] + np.minimum(np.maximum(frac, -0.5), 0.5) * step
    q = base + off[..., None] * n[:, None, :]
    dd, cc, good = _trimmed_fits(q, np.where(use, peak, 0.0), use, step, n_ok, d)
    return dd, cc, fitted & good


def _sides_native(lib, grey, a, b, d, length, centroid, offs, prior, step, xmax, ymax):
    """``_refine_sides_on_image``'s sample grid and fits in C (docscan/detect/native), around
    the same cv2.remap: the same answer."""
    ptr = native.ptr
    f64 = [np.ascontiguousarray(x, np.float64) for x in (a, b, d, length, centroid, offs, prior)]
    ca, cb, cd, clength, ccentroid, coffs, cprior = (ptr(x) for x in f64)
    n_off = len(offs)
    n, base = np.empty((4, 2)), np.empty((4, MAX_SAMPLES, 2))
    ok, n_ok, fitted = np.empty((4, MAX_SAMPLES), np.uint8), np.empty(4, np.int64), np.empty(4, np.uint8)
    mapx, mapy = np.empty((4 * MAX_SAMPLES, n_off), np.float32), np.empty((4 * MAX_SAMPLES, n_off), np.float32)
    lib.refine_sample_grid(ca, cb, cd, clength, ccentroid, coffs, n_off, MAX_SAMPLES, float(xmax), float(ymax),
                           ptr(n), ptr(base), ptr(ok), ptr(n_ok), ptr(fitted),
                           ptr(mapx), ptr(mapy))
    if not fitted.any():
        return f64[2], f64[0], fitted.astype(bool)
    prof = cv2.remap(grey, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    dirs, points = np.empty((4, 2)), np.empty((4, 2))
    rc = lib.refine_fit_sides(ptr(prof), MAX_SAMPLES, n_off, coffs, cprior, float(step), ptr(base),
                              ptr(n), ptr(ok), ptr(n_ok), cd, ptr(fitted),
                              ptr(dirs), ptr(points))
    if rc < 0:
        raise RuntimeError(f"refine_fit_sides: {4 * MAX_SAMPLES}x{n_off} profiles exceed its buffers")
    if rc == 0:      # no side had enough consistent samples
        return f64[2], f64[0], fitted.astype(bool)
    return dirs, points, fitted.astype(bool)


def _trimmed_fits(q: np.ndarray, wts: np.ndarray, use: np.ndarray, step: float, n_samples: np.ndarray,
                  d: np.ndarray):
    """Per side (rows of q (4, S, 2), weights and ``use`` (4, S)): the weighted TLS line
    through its step positions, refitted 3 times without the outliers: (directions,
    points, good); not good when too few survive or the line turned more than 4 degrees
    from the side."""
    keep = use
    good = np.ones(len(q), bool)
    need = np.maximum(6, 0.3 * n_samples)
    for _ in range(3):
        dd, cc = _tls_lines(q, np.where(keep, wts, 0.0))
        res = np.abs(((q - cc[:, None, :]) * (dd[:, ::-1] * _PERP)[:, None, :]).sum(axis=2))
        tol = np.maximum(0.75 * step, 2.5 * 1.4826 * _row_medians(res, keep))
        keep = use & (res <= tol[:, None])
        good &= keep.sum(axis=1) >= need
    good &= np.abs((dd * d).sum(axis=1)) >= np.cos(np.deg2rad(4.0))
    return dd, cc, good


def _tls_lines(q: np.ndarray, w: np.ndarray):
    """``line_through_points`` of each row of q (K, S, 2) with weights w (K, S) (0: left
    out): (directions (K, 2), points (K, 2))."""
    w = w.astype(np.float64)
    sw = np.maximum(w.sum(axis=1), 1e-300)
    c = (w[..., None] * q).sum(axis=1) / sw[:, None]
    p = q - c[:, None, :]
    wx, wy = w * p[..., 0], w * p[..., 1]
    sxx, syy, sxy = (wx * p[..., 0]).sum(axis=1), (wy * p[..., 1]).sum(axis=1), (wx * p[..., 1]).sum(axis=1)
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)     # principal axis of the scatter
    return np.array([np.cos(theta), np.sin(theta)]).T, c


def _row_medians(v: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``np.median(v[k][mask[k]])`` for each row k (nan for an empty row)."""
    count = mask.sum(axis=1)
    srt = np.sort(np.where(mask, v, np.inf), axis=1)
    rows = np.arange(len(v))
    k = count // 2
    upper = srt[rows, np.minimum(k, v.shape[1] - 1)]
    lower = srt[rows, np.maximum(k - 1, 0)]
    with np.errstate(invalid="ignore"):
        med = np.where(count % 2 == 1, upper, (lower + upper) / 2)
    return np.where(count > 0, med, np.nan).astype(np.float64)


def _row_gradient(prof: np.ndarray, step: float) -> np.ndarray:
    """``np.gradient(prof, step, axis=1)`` for a scalar ``step`` and >= 2 columns: the same
    expressions (central differences inside, one-sided at the ends) without its generic
    set-up, which cost as much as the arithmetic on these small profiles."""
    out = np.empty_like(prof)
    out[:, 1:-1] = (prof[:, 2:] - prof[:, :-2]) / (2. * step)
    out[:, 0] = (prof[:, 1] - prof[:, 0]) / step
    out[:, -1] = (prof[:, -1] - prof[:, -2]) / step
    return out
