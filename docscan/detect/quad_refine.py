"""Sub-pixel refinement of a found quad: each side refitted to the edge mass around it on
the edge map (step 5 of ``docscan.detect.quad``), then, with ``refine_corners``, snapped to
the strongest intensity step in the full-resolution photo."""

from __future__ import annotations

import cv2
import numpy as np

from docscan.detect.geometry import intersect_lines, line_through_points
from docscan.detect.quad_lines import Line
from docscan.detect.quad_params import QuadParams

EDGE_MAP_BAND = 2.5    # pixels each side of a side where the edge map's mass is refitted
MAX_MOVE = 0.03        # a refit corner moving more than this share of the map's diagonal is dropped


def refine_on_edge_map(p: np.ndarray, lines: list[Line], line_ids, corners, params: QuadParams) -> np.ndarray:
    """Refit the quad's real sides to the edge map and re-intersect them; frame borders,
    failed refits and corners a refit would move far keep the coarse answer."""
    pairs = [(corners[(k - 1) % 4], corners[k]) for k in range(4)]
    fits = _refit_sides(p, pairs, EDGE_MAP_BAND, params.support_lo)
    sides = []
    for k in range(4):
        ln = lines[line_ids[k]]
        sides.append(fits[k] if (fits[k] is not None and not ln.border) else (ln.d, ln.c))
    out = []
    for k in range(4):
        x = intersect_lines(sides[k][0], sides[k][1], sides[(k + 1) % 4][0], sides[(k + 1) % 4][1])
        # a refit that moves a corner far is a refit gone wrong: keep the coarse corner
        if x is None or np.linalg.norm(x - corners[k]) > MAX_MOVE * float(np.hypot(*p.shape)):
            x = corners[k]
        out.append(x)
    return np.array(out)


def _refit_sides(p: np.ndarray, quads_sides, band: float, lo: float):
    """Refit each side (a, b) to the edge-map mass within ``band`` pixels of it.

    One remap for all sides; per side, the mass-weighted centre of each cross-section
    gives a sub-pixel ridge point and a weighted TLS line goes through them. Sides with
    too little mass come back as None.
    """
    h, w = p.shape
    n_t, offs = 24, np.arange(-band, band + 0.25, 0.5)
    grid, meta = [], []
    for a, b in quads_sides:
        length = float(np.linalg.norm(b - a))
        d = (b - a) / max(length, 1e-9)
        n = np.array([-d[1], d[0]])
        # skip the ends: corners are where occluders and rounded page corners live
        ts = np.linspace(0.1 * length, 0.9 * length, n_t)
        grid.append(a[None, None, :] + ts[:, None, None] * d + offs[None, :, None] * n)
        meta.append((a, d, n, ts, length))
    grid = np.concatenate(grid, axis=0)                                   # (4 * n_t, n_off, 2)
    x, y = grid[..., 0].astype(np.float32), grid[..., 1].astype(np.float32)
    vals = cv2.remap(p, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    vals = np.clip(np.where(inside, vals, 0.0) - lo, 0, None)
    out = []
    for k, (a, d, n, ts, length) in enumerate(meta):
        v = vals[k * n_t:(k + 1) * n_t]
        mass = v.sum(axis=1)
        good = mass > 1e-3
        if length < 4 or good.sum() < 6:
            out.append(None)
            continue
        centre_off = (v[good] @ offs) / mass[good]
        q = a[None, :] + ts[good, None] * d + centre_off[:, None] * n
        dn, c = line_through_points(q, mass[good])
        out.append((dn, c) if abs(np.dot(dn, d)) >= np.cos(np.deg2rad(5.0)) else None)
    return out


class RefineScratch:
    """Work buffers for ``refine_corners`` on frames of up to ``max_pixels``: the grey crop
    and its blur go into these instead of new arrays (preview frames, one call per frame)."""

    def __init__(self, max_pixels: int):
        self.max_pixels = int(max_pixels)
        self._grey = np.empty(self.max_pixels, np.float32)
        self._blur = np.empty(self.max_pixels, np.float32)

    def blurred(self, crop: np.ndarray, sigma: float) -> np.ndarray:
        """Float32 Gaussian blur of a grey uint8 crop, the same values as
        ``cv2.GaussianBlur(crop.astype(np.float32), (0, 0), sigma)``."""
        h, w = crop.shape
        if h * w > self.max_pixels:
            raise ValueError(f"crop {w}x{h} is larger than the scratch ({self.max_pixels} pixels)")
        grey = self._grey[:h * w].reshape(h, w)
        np.copyto(grey, crop, casting="unsafe")
        return cv2.GaussianBlur(grey, (0, 0), sigma, dst=self._blur[:h * w].reshape(h, w))


def refine_corners(image_full: np.ndarray, corners_full, search: float | None = None,
                   passes: int = 2, scratch: RefineScratch | None = None) -> np.ndarray:
    """Snap each side to the strongest consistent intensity step near it; re-intersect.

    For samples along the middle 80% of each side, the grey-level profile across the side
    (within ``search`` pixels, default 1.5% of the diagonal) gives the position of the
    steepest step of the dominant sign; a trimmed TLS fit through those positions is the
    new side. Sides with too few consistent samples (occluded, low contrast) stay as they
    were, and so does any corner that would move more than 2 * search. Each further pass
    searches a window half as wide around the previous result. ``scratch`` (a grey
    ``image_full`` only): work buffers to use instead of allocating.
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
    if scratch is not None and crop.ndim == 2:
        grey = scratch.blurred(crop, max(0.8, r / 8.0))
    else:
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
        x = intersect_lines(sides[k - 1][0], sides[k - 1][1], sides[k][0], sides[k][1])
        if x is not None and np.linalg.norm(x - local[k]) <= 2 * r:
            out[k] = x
    return out


def _refine_side_on_image(grey, a, b, centroid, r, frame_wh):
    """The side from a to b refitted to the steepest grey step across it; None when too few
    samples agree."""
    gh, gw = grey.shape
    length = float(np.linalg.norm(b - a))
    if length < 10:
        return None
    d = (b - a) / length
    n = np.array([-d[1], d[0]])
    if np.dot((a + b) / 2 - centroid, n) < 0:
        n = -n                              # n points out of the page
    m = int(min(max(length / 4, 12), 64))
    ts = np.linspace(0.1 * length, 0.9 * length, m)
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
    grid = base[:, None, :] + offs[None, :, None] * n
    prof = cv2.remap(grey, grid[..., 0].astype(np.float32), grid[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    deriv = _row_gradient(prof, step)
    # Mild prior for the coarse position: the edge map is rarely off by more than r/2.
    deriv *= np.exp(-0.5 * (offs / (0.6 * r)) ** 2)[None, :]
    # page brighter (usual) or darker than what is outside: the sign with more evidence
    up, down = deriv.max(axis=1), (-deriv).max(axis=1)
    s = deriv if np.clip(up, 0, None).sum() > np.clip(down, 0, None).sum() else -deriv
    idx = np.argmax(s, axis=1)
    rows = np.arange(len(idx))
    peak = s[rows, idx]
    pos = peak[peak > 0]
    strong = peak > max(2.0, 0.35 * _median(pos)) if len(pos) else np.zeros(len(idx), bool)
    use = strong & (idx > 0) & (idx < len(offs) - 1)
    if use.sum() < max(6, 0.3 * len(idx)):
        return None
    rows = rows[use]
    i = idx[rows]
    y0, y1, y2 = s[rows, i - 1], s[rows, i], s[rows, i + 1]
    den = y0 - 2 * y1 + y2
    frac = np.where(np.abs(den) > 1e-9, 0.5 * (y0 - y2) / np.where(np.abs(den) > 1e-9, den, 1.0), 0.0)
    off = offs[i] + np.clip(frac, -0.5, 0.5) * step
    return _trimmed_fit(base[rows] + off[:, None] * n, peak[rows], step, len(idx), d)


def _row_gradient(prof: np.ndarray, step: float) -> np.ndarray:
    """``np.gradient(prof, step, axis=1)`` for a scalar ``step`` and >= 2 columns: the same
    expressions (central differences inside, one-sided at the ends) without its generic
    set-up, which cost as much as the arithmetic on these small profiles."""
    out = np.empty_like(prof)
    out[:, 1:-1] = (prof[:, 2:] - prof[:, :-2]) / (2. * step)
    out[:, 0] = (prof[:, 1] - prof[:, 0]) / step
    out[:, -1] = (prof[:, -1] - prof[:, -2]) / step
    return out


def _median(a: np.ndarray) -> float:
    """``float(np.median(a))`` of a non-empty, NaN-free 1-D array: the same value (the middle
    element, or the two middle ones' sum halved), without np.median's per-call overhead,
    which was a fifth of ``refine_corners`` (5 calls per side)."""
    k = a.shape[0] // 2
    if a.shape[0] % 2:
        return float(np.partition(a, k)[k])
    part = np.partition(a, (k - 1, k))
    return float((part[k - 1] + part[k]) / 2)


def _trimmed_fit(q: np.ndarray, wts: np.ndarray, step: float, n_samples: int, d: np.ndarray):
    """Weighted TLS line through the step positions, refitted 3 times without the outliers;
    None when too few survive or the line turned more than 4 degrees from the side."""
    keep = np.ones(len(q), bool)
    for _ in range(3):
        dd, cc = line_through_points(q[keep], wts[keep])
        res = np.abs((q - cc) @ np.array([-dd[1], dd[0]]))
        tol = max(0.75 * step, 2.5 * 1.4826 * _median(res[keep]))
        keep = res <= tol
        if keep.sum() < max(6, 0.3 * n_samples):
            return None
    if abs(np.dot(dd, d)) < np.cos(np.deg2rad(4.0)):
        return None
    return dd, cc
