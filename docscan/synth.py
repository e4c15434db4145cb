"""Synthetic document photos for HED training: image, page-boundary edge map, 4 corners.

A sample is a "phone photo" of one page: the seed author's real background photos and
flat page images (``<shared>/data/author-hed-samples/sample_images/``) plus procedural
ones (text pages, tables, photos, blank/coloured paper, receipts, ID cards on wood,
tiles, fabric, cluttered desks, white-on-white), with perspective, rotation, partly
out-of-frame pages, curl, occluding fingers and objects, shadows, glare, uneven light,
blur, noise and JPEG artefacts. Everything is drawn from ``numpy.random.default_rng
((seed, index))``, so sample ``index`` of stream ``seed`` is always the same picture.

Conventions (shared with ``docscan detect`` / ``docscan eval``):

* ``size`` is ``(height, width)`` of the returned image.
* ``image``: uint8 RGB, (H, W, 3). The network sees it as float32 RGB in [0, 1],
  resized to the model input size as a whole frame: no crop, aspect ratio ignored.
  For a square ``size`` (training) the scene is composed at a random camera aspect
  (3:4, 4:3, 9:16, 1:1) and then squashed to the square, exactly as a real frame is
  squashed at inference; for a non-square ``size`` the scene is composed at that aspect.
* ``edges``: float32 (H, W) in [0, 1], the visible page boundary only, drawn
  anti-aliased about 1-2 px wide (HED style). Parts hidden by fingers or objects and
  the frame border are not edges.
* ``region``: float32 (H, W) in [0, 1], the whole page (also where it is occluded):
  the target of the optional region head (``docscan.zoo.hed``).
* ``corners``: float32 (4, 2) of (x, y) pixel coordinates in ``image``, clockwise as
  seen in the image (y down), starting with the corner of smallest x + y. Corners may
  lie outside the frame when the page is partly out of frame.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from docscan.errors import DocscanError
from docscan.images import IMAGE_SUFFIXES
from docscan.paths import shared_dir as shared_dir_default

SEED_SAMPLES = Path("data") / "author-hed-samples" / "sample_images"
# Real photos come from phones: a page usually fills a good part of a 3:4 frame.
CAMERA_ASPECTS = (4 / 3, 4 / 3, 4 / 3, 3 / 4, 16 / 9, 1.0)   # height / width
OUT_OF_FRAME_SHARE = 0.12           # pages pushed partly (<= ~15 %) out of frame
SUPERSAMPLE = 2                     # render at 2x, then area-downsample: smooth page borders


@dataclass
class Sample:
    image: np.ndarray     # uint8 (H, W, 3) RGB
    edges: np.ndarray     # float32 (H, W) in [0, 1]
    corners: np.ndarray   # float32 (4, 2) x, y
    region: np.ndarray | None = None   # float32 (H, W) in [0, 1]: the whole page


# ---------------------------------------------------------------------------------------
# Real inputs (cached per process; a missing folder just means procedural-only content).

@functools.lru_cache(maxsize=4)
def _load_folder(folder: str, max_side: int) -> tuple[np.ndarray, ...]:
    path = Path(folder)
    if not path.is_dir():
        return ()
    images = []
    for f in sorted(path.iterdir()):
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        im = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if im is None or min(im.shape[:2]) < 16:
            continue
        scale = max_side / max(im.shape[:2])
        if scale < 1:
            im = cv2.resize(im, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        images.append(cv2.cvtColor(im, cv2.COLOR_BGR2RGB))
    return tuple(images)


def real_backgrounds(shared_dir=None):
    root = Path(shared_dir) if shared_dir else shared_dir_default()
    return _load_folder(str((root / SEED_SAMPLES / "background_images").resolve()), 720)


def real_pages(shared_dir=None):
    root = Path(shared_dir) if shared_dir else shared_dir_default()
    return _load_folder(str((root / SEED_SAMPLES / "rect_images").resolve()), 480)


# ---------------------------------------------------------------------------------------
# Small helpers

def _lowfreq(rng, h, w, cells=6, channels=1):
    """Smooth random field in [0, 1] (bicubic-upsampled coarse noise)."""
    g = rng.random((cells, cells, channels)).astype(np.float32)
    f = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    f = f.reshape(h, w, channels)
    return np.clip(f, 0, 1)


def _color(rng, lo=0, hi=255):
    return rng.uniform(lo, hi, 3).astype(np.float32)


def _jitter_colors(rng, im):
    """Brightness / contrast / white-balance jitter of a float32 RGB image in 0..255."""
    gain = rng.uniform(0.75, 1.2) * rng.uniform(0.9, 1.1, 3)
    bias = rng.uniform(-20, 20)
    out = im * gain.astype(np.float32) + bias
    if rng.random() < 0.15:
        grey = out.mean(axis=2, keepdims=True)
        out = grey + (out - grey) * rng.uniform(0, 0.6)
    return np.clip(out, 0, 255)


def _crop_resize(rng, src, h, w):
    """Random crop of ``src`` with the aspect of (h, w), resized, randomly flipped/rotated."""
    if rng.random() < 0.5:
        src = np.ascontiguousarray(np.rot90(src, int(rng.integers(1, 4))))
    sh, sw = src.shape[:2]
    aspect = w / h
    scale = rng.uniform(0.5, 1.0)
    cw = min(sw, sh * aspect) * scale
    ch = cw / aspect
    x0 = rng.uniform(0, sw - cw)
    y0 = rng.uniform(0, sh - ch)
    crop = src[int(y0):int(y0 + ch) + 1, int(x0):int(x0 + cw) + 1]
    out = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out).astype(np.float32)


# ---------------------------------------------------------------------------------------
# Procedural backgrounds (float32 RGB 0..255, (h, w, 3))

def _bg_wood(rng, h, w):
    base = _color(rng, 0, 1) * np.array([120, 80, 50], np.float32) + np.array([30, 18, 8], np.float32)
    if rng.random() < 0.35:   # pale wood
        base = base + rng.uniform(60, 110)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    warp = _lowfreq(rng, h, w, 4)[..., 0] * rng.uniform(10, 60)
    grain = 0.5 + 0.5 * np.sin((v + warp) * rng.uniform(0.15, 0.6))
    fine = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.0)
    shade = 1 + rng.uniform(0.1, 0.35) * (grain - 0.5) + 0.25 * (fine - 0.5)
    out = base[None, None, :] * shade[..., None]
    if rng.random() < 0.7:   # planks / slats with dark gaps
        pitch = rng.uniform(0.08, 0.3) * max(h, w)
        phase = rng.uniform(0, pitch)
        plank = np.floor((v + phase) / pitch)
        tone = 1 + 0.15 * np.sin(plank * 12.9898 + rng.uniform(0, 6))
        out *= tone[..., None]
        gap = np.abs(((v + phase) % pitch) - pitch / 2) > pitch / 2 - rng.uniform(1, 5)
        out[gap] *= rng.uniform(0.2, 0.6)
    return np.clip(out, 0, 255)


def _bg_tiles(rng, h, w):
    pitch = rng.uniform(0.12, 0.4) * max(h, w)
    base = _color(rng, 60, 240)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(-0.4, 0.4)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    iu, iv = np.floor(u / pitch), np.floor(v / pitch)
    tone = 1 + 0.08 * np.sin(iu * 7.1 + iv * 3.3 + rng.uniform(0, 6))
    out = base[None, None, :] * tone[..., None]
    width = rng.uniform(1, 4)
    grout = (np.abs(u % pitch) < width) | (np.abs(v % pitch) < width)
    out[grout] = _color(rng, 40, 220)
    out += (_lowfreq(rng, h, w, 12) - 0.5) * 20
    return np.clip(out, 0, 255)


def _bg_fabric(rng, h, w):
    base = _color(rng, 20, 230)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = rng.uniform(0.5, 2.0)
    weave = np.sin(xx * f) * np.sin(yy * f)
    noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), rng.uniform(0.5, 2))
    out = base[None, None, :] * (1 + 0.12 * weave + 0.3 * (noise - 0.5))[..., None]
    if rng.random() < 0.4:   # stripes / checks
        p = rng.uniform(8, 40)
        stripe = ((xx // p) % 2).astype(np.float32)
        if rng.random() < 0.5:
            stripe = np.maximum(stripe, ((yy // p) % 2).astype(np.float32))
        out = out * (1 - 0.5 * stripe[..., None]) + _color(rng) * 0.5 * stripe[..., None]
    folds = _lowfreq(rng, h, w, 5)[..., 0]
    out *= (0.75 + 0.5 * folds)[..., None]
    return np.clip(out, 0, 255)


def _bg_plain(rng, h, w):
    """Plain or gradient surface; often light, for low-contrast white-on-white."""
    if rng.random() < 0.5:
        base = rng.uniform(170, 250) * rng.uniform(0.92, 1.0, 3)
    else:
        base = _color(rng, 20, 250)
    grad = _lowfreq(rng, h, w, 3, 1)
    out = base[None, None, :] * (0.8 + 0.4 * grad)
    out += (cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)[..., None] - 0.5) * 12
    return np.clip(out, 0, 255)


def _bg_granite(rng, h, w):
    base = _color(rng, 40, 220)
    out = np.empty((h, w, 3), np.float32)
    for c in range(3):
        n = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), rng.uniform(0.6, 3))
        out[..., c] = base[c] * (0.6 + 0.8 * n)
    return np.clip(out, 0, 255)


PROCEDURAL_BACKGROUNDS = (_bg_wood, _bg_wood, _bg_tiles, _bg_fabric, _bg_plain, _bg_plain, _bg_granite)


def _bg_white_wall(rng, h, w):
    """Low contrast: a light wall / white desk / bright window close to the paper's colour."""
    out = np.empty((h, w, 3), np.float32)
    out[:] = rng.uniform(205, 255) * rng.uniform(0.94, 1.0, 3)
    out *= 0.85 + 0.3 * _lowfreq(rng, h, w, 3)
    if rng.random() < 0.5:   # door frame / furniture edge
        x = int(rng.uniform(0, w))
        out[:, x:x + int(rng.uniform(2, max(3, 0.1 * w)))] *= rng.uniform(0.6, 0.95)
    return np.clip(out, 0, 255)


def _background(rng, h, w, shared_dir):
    reals = real_backgrounds(shared_dir)
    if rng.random() < 0.1:
        return _bg_white_wall(rng, h, w)
    if reals and rng.random() < 0.5:
        out = _crop_resize(rng, reals[int(rng.integers(len(reals)))], h, w)
    else:
        fn = PROCEDURAL_BACKGROUNDS[int(rng.integers(len(PROCEDURAL_BACKGROUNDS)))]
        out = fn(rng, h, w)
    return _jitter_colors(rng, out)


# ---------------------------------------------------------------------------------------
# Pages: float32 RGB 0..255 texture, flat, (ph, pw, 3)

PAPER_ASPECTS = {            # height / width of a portrait page
    "a4": 297 / 210, "letter": 11 / 8.5, "a5": 210 / 148, "square": 1.0,
}


def _paper_color(rng):
    r = rng.random()
    if r < 0.75:
        return np.array([255, 255, 255], np.float32) * rng.uniform(0.88, 1.0) * rng.uniform(0.96, 1.0, 3)
    if r < 0.9:   # cream, recycled, greyish
        return np.array([rng.uniform(225, 250), rng.uniform(215, 245), rng.uniform(190, 235)], np.float32)
    return _color(rng, 90, 255)   # coloured paper


def _draw_text_block(rng, page, x0, y0, x1, y1, ink, line_h):
    y = y0
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = line_h / 30.0
    thick = max(1, int(round(line_h / 14)))
    letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:"
    realistic = rng.random() < 0.5
    while y + line_h <= y1:
        x = x0
        end = x1 if rng.random() > 0.15 else x0 + (x1 - x0) * rng.uniform(0.2, 0.9)
        if realistic:
            n = max(1, int((end - x0) / (line_h * 0.55)))
            s = "".join(rng.choice(list(letters), n))
            cv2.putText(page, s, (int(x0), int(y + line_h * 0.8)), font, scale, ink.tolist(), thick, cv2.LINE_AA)
        else:
            while x < end:
                ww = rng.uniform(1.5, 7) * line_h * 0.5
                cv2.rectangle(page, (int(x), int(y + line_h * 0.35)),
                              (int(min(x + ww, end)), int(y + line_h * 0.65)), ink.tolist(), -1)
                x += ww + line_h * 0.4
        y += line_h * rng.uniform(1.2, 1.8)
        if rng.random() < 0.1:
            y += line_h * 2   # paragraph break


def _page_document(rng, ph, pw, shared_dir):
    page = np.empty((ph, pw, 3), np.uint8)     # uint8: cv2.putText draws only on 8-bit images
    page[:] = _paper_color(rng)
    ink = np.full(3, rng.uniform(0, 90), np.float32)
    if rng.random() < 0.15:
        ink = _color(rng, 0, 150)
    m = rng.uniform(0.05, 0.15)
    x0, x1 = pw * m, pw * (1 - m * rng.uniform(0.7, 1.3))
    y = ph * m
    kind = rng.random()
    line_h = max(3.0, ph * rng.uniform(0.012, 0.035))
    if kind < 0.1:   # blank page
        return page.astype(np.float32)
    while y < ph * (1 - m):
        r = rng.random()
        bh = ph * rng.uniform(0.08, 0.35)
        y1 = min(y + bh, ph * (1 - m))
        if r < 0.12:      # heading
            cv2.rectangle(page, (int(x0), int(y)), (int(x0 + (x1 - x0) * rng.uniform(0.2, 0.7)),
                                                    int(y + line_h * 1.5)), ink.tolist(), -1)
            y += line_h * 3
            continue
        if r < 0.22:      # table
            rows, cols = int(rng.integers(2, 8)), int(rng.integers(2, 6))
            for i in range(rows + 1):
                yy = int(y + (y1 - y) * i / rows)
                cv2.line(page, (int(x0), yy), (int(x1), yy), ink.tolist(), 1)
            for j in range(cols + 1):
                xx = int(x0 + (x1 - x0) * j / cols)
                cv2.line(page, (xx, int(y)), (xx, int(y1)), ink.tolist(), 1)
        elif r < 0.32:    # photo / figure
            reals = real_backgrounds(shared_dir)
            fw, fh = int((x1 - x0) * rng.uniform(0.3, 1.0)), int(y1 - y)
            if fw > 4 and fh > 4:
                if reals:
                    fig = _crop_resize(rng, reals[int(rng.integers(len(reals)))], fh, fw)
                else:
                    fig = _bg_granite(rng, fh, fw)
                fx = int(x0 + rng.uniform(0, (x1 - x0) - fw + 1))
                page[int(y):int(y) + fh, fx:fx + fw] = np.clip(fig, 0, 255).astype(np.uint8)
        elif r < 0.38 and (x1 - x0) > 40:   # two columns
            mid = (x0 + x1) / 2
            _draw_text_block(rng, page, x0, y, mid - line_h, y1, ink, line_h)
            _draw_text_block(rng, page, mid + line_h, y, x1, y1, ink, line_h)
        else:
            _draw_text_block(rng, page, x0, y, x1, y1, ink, line_h)
        y = y1 + line_h * rng.uniform(1, 3)
    return page.astype(np.float32)


def _page_receipt(rng, ph, pw, shared_dir):
    page = np.empty((ph, pw, 3), np.uint8)
    page[:] = np.array([250, 250, 245], np.float32) * rng.uniform(0.9, 1.0)
    ink = np.full(3, rng.uniform(20, 110), np.float32)
    _draw_text_block(rng, page, pw * 0.06, ph * 0.03, pw * 0.94, ph * 0.97, ink, max(3.0, pw * 0.05))
    return page.astype(np.float32)


def _page_card(rng, ph, pw, shared_dir):
    page = np.empty((ph, pw, 3), np.float32)
    page[:] = _color(rng, 60, 255)
    grad = _lowfreq(rng, ph, pw, 3, 3)
    page = np.clip(page * (0.7 + 0.6 * grad), 0, 255).astype(np.uint8)
    ink = _color(rng, 0, 120)
    cv2.rectangle(page, (int(pw * 0.06), int(ph * 0.2)), (int(pw * 0.35), int(ph * 0.75)), _color(rng).tolist(), -1)
    _draw_text_block(rng, page, pw * 0.42, ph * 0.2, pw * 0.94, ph * 0.85, ink, max(3.0, ph * 0.07))
    return page.astype(np.float32)


def _page(rng, shared_dir, long_side):
    """Return (texture, kind). Portrait orientation; the caller rotates freely."""
    reals = real_pages(shared_dir)
    r = rng.random()
    if reals and r < 0.25:
        src = reals[int(rng.integers(len(reals)))].astype(np.float32)
        if src.shape[0] < src.shape[1]:
            src = np.ascontiguousarray(np.rot90(src))
        scale = long_side / max(src.shape[:2])
        tex = cv2.resize(src, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        return _jitter_colors(rng, tex), "real"
    if r < 0.85:
        aspect = list(PAPER_ASPECTS.values())[int(rng.choice(4, p=[0.6, 0.2, 0.15, 0.05]))]
        aspect *= rng.uniform(0.97, 1.03)
        ph, pw = long_side, int(long_side / aspect)
        return _page_document(rng, ph, pw, shared_dir), "document"
    if r < 0.93:
        ph, pw = long_side, int(long_side / rng.uniform(2.0, 3.5))
        return _page_receipt(rng, ph, pw, shared_dir), "receipt"
    ph, pw = long_side, int(long_side / 1.586)
    return np.ascontiguousarray(np.rot90(_page_card(rng, pw, ph, shared_dir))), "card"


# ---------------------------------------------------------------------------------------
# Geometry

def order_corners(corners: np.ndarray) -> np.ndarray:
    """Clockwise in image coordinates (y down), starting at the corner with smallest x + y."""
    c = np.asarray(corners, np.float32).reshape(4, 2)
    centre = c.mean(axis=0)
    ang = np.arctan2(c[:, 1] - centre[1], c[:, 0] - centre[0])
    c = c[np.argsort(ang)]          # increasing angle = clockwise on screen (y down)
    start = int(np.argmin(c.sum(axis=1)))
    return np.roll(c, -start, axis=0)


def _page_quad(rng, h, w, page_aspect):
    """Destination quad (4, 2) of the page's TL, TR, BR, BL corners on an h x w canvas."""
    area = rng.uniform(0.2, 0.8) * h * w
    if rng.random() < 0.1:
        area = rng.uniform(0.05, 0.2) * h * w          # small page, far away
    pw = np.sqrt(area / page_aspect)
    ph = pw * page_aspect
    rect = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]], np.float32)
    r = rng.random()
    if r < 0.45:
        angle = rng.normal(0, 6)
    elif r < 0.65:
        angle = 90 * int(rng.integers(1, 4)) + rng.normal(0, 6)
    else:
        angle = rng.uniform(0, 360)
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    quad = rect @ rot.T
    # Perspective: a keystone along a random direction plus independent corner jitter.
    tilt = rng.uniform(0, 0.25) if rng.random() < 0.8 else 0.0
    d = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(d), np.sin(d)], np.float32)
    along = quad @ direction / (np.abs(quad @ direction).max() + 1e-6)
    quad = quad * (1 + tilt * along)[:, None]
    quad += rng.normal(0, 0.03, (4, 2)).astype(np.float32) * np.sqrt(area)
    # Place it: inside the frame (shrunk to fit when needed), and for a few pages pushed
    # partly out of frame, keeping most of the page visible: a side that is wholly out of
    # frame cannot be found by any detector.
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    span = hi - lo
    fit = min(1.0, 0.97 * w / span[0], 0.97 * h / span[1])
    quad, lo, hi, span = quad * fit, lo * fit, hi * fit, span * fit
    centre = np.array([rng.uniform(*sorted((-lo[0] + 1, w - 2 - hi[0]))),
                       rng.uniform(*sorted((-lo[1] + 1, h - 2 - hi[1])))], np.float32)
    if rng.random() < OUT_OF_FRAME_SHARE:
        d = rng.uniform(0, 2 * np.pi)
        centre += np.array([np.cos(d), np.sin(d)], np.float32) * span * rng.uniform(0.03, 0.15)
    quad = quad + centre
    return quad.astype(np.float32)


def _crease(rng, tex):
    """Fold lines of a letter folded in three or in half: a straight line across the page
    with a light step on one side. They are not page edges; real photos have them."""
    th, tw = tex.shape[:2]
    for _ in range(int(rng.integers(1, 3))):
        horizontal = rng.random() < 0.7
        n = th if horizontal else tw
        pos = int(n * (rng.choice([1 / 3, 1 / 2, 2 / 3]) + rng.normal(0, 0.02)))
        pos = int(np.clip(pos, 2, n - 3))
        gain = np.float32(rng.uniform(0.82, 1.05))
        if horizontal:
            tex[pos:] *= gain
            a, b = (0, pos), (tw - 1, pos + int(rng.normal(0, 2)))
        else:
            tex[:, pos:] *= gain
            a, b = (pos, 0), (pos + int(rng.normal(0, 2)), th - 1)
        shade = float(np.mean(tex)) * rng.uniform(0.65, 1.1)
        cv2.line(tex, a, b, (shade, shade, shade), int(rng.integers(1, 3)), cv2.LINE_AA)
    np.clip(tex, 0, 255, out=tex)


def _curl_field(rng, h, w, quad):
    """A smooth displacement (dx, dy) on the canvas: page curl / folds, zero for most pages."""
    if rng.random() > 0.3:
        return None
    amp = rng.uniform(1.0, max(1.5, 0.02 * max(h, w)))
    field = (_lowfreq(rng, h, w, int(rng.integers(2, 4)), 2) - 0.5) * 2 * amp
    return field.astype(np.float32)


def _displace(points, field):
    if field is None:
        return points
    h, w = field.shape[:2]
    xi = np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(points[:, 1]).astype(int), 0, h - 1)
    return points + field[yi, xi]


def _boundary_points(quad, per_edge=64):
    t = np.linspace(0, 1, per_edge, endpoint=False, dtype=np.float32)[:, None]
    pts = [quad[i] * (1 - t) + quad[(i + 1) % 4] * t for i in range(4)]
    pts.append(quad[:1])
    return np.concatenate(pts, axis=0)


# ---------------------------------------------------------------------------------------
# Occluders and clutter (drawn on the canvas; returns the mask of what they cover)

SKIN_TONES = np.array([[224, 172, 140], [198, 134, 96], [141, 85, 56], [240, 200, 170], [170, 110, 80]], np.float32)


def _draw_finger(rng, canvas, mask, quad):
    """A finger/thumb: a rounded capsule from outside the page crossing one page edge."""
    h, w = mask.shape
    i = int(rng.integers(4))
    a, b = quad[i], quad[(i + 1) % 4]
    p = a + (b - a) * rng.uniform(0.15, 0.85)
    centre = quad.mean(axis=0)
    outward = p - centre
    outward /= np.linalg.norm(outward) + 1e-6
    scale = np.sqrt(max(1.0, cv2.contourArea(quad)))
    width = scale * rng.uniform(0.1, 0.2)
    inside = rng.uniform(0.05, 0.3) * scale
    ang = rng.normal(0, 0.5)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    d = rot @ outward
    tip = p - d * inside
    base = p + d * scale * rng.uniform(0.4, 1.5)
    color = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))] * rng.uniform(0.7, 1.1)
    m = np.zeros((h, w), np.uint8)
    cv2.line(m, tuple(int(v) for v in tip), tuple(int(v) for v in base), 255, int(max(2, width)), cv2.LINE_AA)
    cv2.circle(m, tuple(int(v) for v in tip), int(max(1, width / 2)), 255, -1, cv2.LINE_AA)
    if rng.random() < 0.7:   # rest of the hand, outside the page
        palm = p + d * scale * rng.uniform(0.3, 0.5)
        cv2.ellipse(m, tuple(int(v) for v in palm),
                    (int(scale * rng.uniform(0.12, 0.25)), int(scale * rng.uniform(0.2, 0.35))),
                    float(np.degrees(np.arctan2(d[1], d[0]))) + 90, 0, 360, 255, -1, cv2.LINE_AA)
    _paint(rng, canvas, m, color, shaded=True)
    mask |= m > 127


def _draw_object(rng, canvas, mask, quad, over_edge: bool):
    """Pens, phones, mugs, coins, sticky notes, other objects on the desk."""
    h, w = mask.shape
    m = np.zeros((h, w), np.uint8)
    if over_edge:
        i = int(rng.integers(4))
        a, b = quad[i], quad[(i + 1) % 4]
        c = a + (b - a) * rng.uniform(0.1, 0.9)
    else:
        c = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    scale = max(h, w)
    kind = rng.random()
    if kind < 0.35:   # pen / cable
        ang = rng.uniform(0, np.pi)
        length = scale * rng.uniform(0.15, 0.45)
        d = np.array([np.cos(ang), np.sin(ang)]) * length / 2
        cv2.line(m, tuple(int(v) for v in c - d), tuple(int(v) for v in c + d), 255,
                 int(max(2, scale * rng.uniform(0.008, 0.025))), cv2.LINE_AA)
    elif kind < 0.6:  # mug / coin / roll
        cv2.circle(m, tuple(int(v) for v in c), int(scale * rng.uniform(0.02, 0.12)), 255, -1, cv2.LINE_AA)
    else:             # phone / book / box / sticky note
        size = (scale * rng.uniform(0.05, 0.25), scale * rng.uniform(0.05, 0.3))
        box = cv2.boxPoints(((float(c[0]), float(c[1])), size, float(rng.uniform(0, 180))))
        cv2.fillConvexPoly(m, box.astype(np.int32), 255, cv2.LINE_AA)
    _paint(rng, canvas, m, _color(rng, 0, 255), shaded=rng.random() < 0.5)
    mask |= m > 127


def _paint(rng, canvas, m, color, shaded):
    alpha = (m.astype(np.float32) / 255)[..., None]
    layer = np.broadcast_to(color, canvas.shape).astype(np.float32)
    if shaded:
        layer = layer * (0.75 + 0.5 * _lowfreq(rng, canvas.shape[0], canvas.shape[1], 4))
    canvas *= 1 - alpha
    canvas += layer * alpha


# ---------------------------------------------------------------------------------------
# Light and camera

def _lighting(rng, img):
    h, w = img.shape[:2]
    if rng.random() < 0.6:   # uneven light
        img *= (rng.uniform(0.55, 0.9) + rng.uniform(0.2, 0.6) * _lowfreq(rng, h, w, 3))
    if rng.random() < 0.35:  # cast shadow (phone, hand, head): soft dark polygon
        m = np.zeros((h, w), np.float32)
        pts = np.stack([rng.uniform(-0.2, 1.2, 5) * w, rng.uniform(-0.2, 1.2, 5) * h], 1)
        cv2.fillConvexPoly(m, cv2.convexHull(pts.astype(np.int32)), 1.0)
        m = cv2.GaussianBlur(m, (0, 0), rng.uniform(2, max(3, 0.05 * max(h, w))))
        img *= (1 - rng.uniform(0.2, 0.55) * m)[..., None]
    if rng.random() < 0.25:  # glare: bright soft blob
        m = np.zeros((h, w), np.float32)
        cv2.ellipse(m, (int(rng.uniform(0, w)), int(rng.uniform(0, h))),
                    (int(rng.uniform(0.03, 0.2) * w), int(rng.uniform(0.03, 0.2) * h)),
                    float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        m = cv2.GaussianBlur(m, (0, 0), rng.uniform(3, max(4, 0.06 * max(h, w))))
        img += rng.uniform(60, 200) * m[..., None]
    tint = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    img *= tint
    return img


def _camera(rng, img):
    """Blur, noise, JPEG on the final uint8 RGB frame."""
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    elif rng.random() < 0.15:   # motion blur
        k = int(rng.integers(3, 7))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kern = cv2.warpAffine(kern, rot, (k, k))
        img = cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))
    if rng.random() < 0.7:
        sigma = rng.uniform(1, 8)
        img = np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape).astype(np.float32), 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 95))])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(img)


# ---------------------------------------------------------------------------------------
# One sample

def make_sample(seed: int, index: int, size=(256, 256), shared_dir=None, trace: dict | None = None) -> Sample:
    """Sample ``index`` of stream ``seed`` (same arguments, same pixels).

    ``trace``, when given, receives ``drawn``: where the labelled page was actually drawn
    (its layer's coverage at output size), so tests can hold the labels to the pixels;
    ``behind``: where a textured sheet, facing page or picture behind it was drawn (when
    there is one); and what the scene is, so benchmarks can break results down by it:
    ``scene`` (single, booklet, open-book, stack, picture), ``kind`` (of page), ``curled``
    and ``occluded``.
    """
    out_h, out_w = (int(v) for v in size)
    if out_h < 16 or out_w < 16:
        raise DocscanError(f"synth: size {out_h}x{out_w} too small (at least 16x16)")
    rng = np.random.default_rng((int(seed) & 0xFFFFFFFF, int(index)))
    if out_h == out_w:
        aspect = CAMERA_ASPECTS[int(rng.integers(len(CAMERA_ASPECTS)))]
        base = out_w * SUPERSAMPLE
        rw, rh = base, int(round(base * aspect))
    else:
        rh, rw = out_h * SUPERSAMPLE, out_w * SUPERSAMPLE
    canvas = _background(rng, rh, rw, shared_dir)

    # Clutter under the page (papers, books, pens) away from or under the page.
    clutter_mask = np.zeros((rh, rw), bool)
    for _ in range(int(rng.poisson(0.8))):
        _draw_object(rng, canvas, clutter_mask, np.zeros((4, 2), np.float32), over_edge=False)

    tex, kind = _page(rng, shared_dir, long_side=int(max(rh, rw) * rng.uniform(0.6, 1.0)))
    th, tw = tex.shape[:2]
    if kind != "card" and rng.random() < 0.35:
        _crease(rng, tex)
    quad = _page_quad(rng, rh, rw, th / tw)
    src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
    H = cv2.getPerspectiveTransform(src, quad)

    # Behind or beside the page: a sheet of the same stack, the facing page of a book, or a
    # picture on the wall (common in real photos). The label is one page; the spine or the
    # other sheet's outline crossing the scene is an edge of it or no edge at all.
    spine = None
    oalpha = None
    scene_name = "single"
    if rng.random() < 0.3:
        scene = rng.random()
        scene_name = "booklet" if scene < 0.5 else "stack" if scene < 0.8 else "picture"
        if scene < 0.5:           # booklet: the facing page shares an edge
            i = int(rng.integers(4))
            a, b = quad[i], quad[(i + 1) % 4]
            c, d = quad[(i + 2) % 4], quad[(i + 3) % 4]
            other = np.array([a, b, b + (b - c), a + (a - d)], np.float32)
            if rng.random() < 0.6:
                # an open book: a like page (same paper, full detail) and a shaded spine. The
                # user aims at one page, so that page is centred in the frame (as in real
                # photos of books) and it is the label; the facing page runs where it runs,
                # often out of frame. (Placing the spread anywhere and labelling the page
                # nearer the centre made a centred spread's label a coin toss.)
                otex = _page_document(rng, th, tw, shared_dir)
                otex *= (np.median(tex.reshape(-1, 3), 0) / np.maximum(np.median(otex.reshape(-1, 3), 0), 1.0)
                         ).astype(np.float32)[None, None] * rng.uniform(0.92, 1.0)
                lo, hi = quad.min(0), quad.max(0)
                aim = np.array([rw / 2, rh / 2], np.float32) + rng.normal(0, 0.05, 2).astype(np.float32) * [rw, rh]
                # keep the aimed page in frame where it fits
                aim = np.clip(aim, (hi - lo) / 2 + 1, np.maximum((hi - lo) / 2 + 1, [rw - 2, rh - 2] - (hi - lo) / 2))
                move = (aim - (lo + hi) / 2).astype(np.float32)
                quad, other = quad + move, other + move
                H = cv2.getPerspectiveTransform(src, quad)
                a, b = quad[i], quad[(i + 1) % 4]
                spine = (a, b)
                scene_name = "open-book"
            elif rng.random() < 0.6:
                otex = _page_document(rng, th // 2, tw // 2, shared_dir) * rng.uniform(0.85, 1.0)
            else:
                otex = None
        elif scene < 0.8:         # a sheet of the same stack, shifted
            other = quad + (rng.normal(0, 0.08, 2) * np.array([rw, rh])).astype(np.float32)
            otex = _page_document(rng, th // 2, tw // 2, shared_dir) * rng.uniform(0.85, 1.0) \
                if rng.random() < 0.6 else None
        else:                     # a picture / poster behind the page, with a frame
            centre = quad.mean(0)
            other = ((quad - centre) * rng.uniform(0.7, 1.3) + centre
                     + rng.normal(0, 0.25, 2).astype(np.float32) * np.sqrt(cv2.contourArea(quad)))
            other = other.astype(np.float32)
            reals = real_backgrounds(shared_dir)
            oh, ow = max(8, th // 2), max(8, tw // 2)
            otex = _crop_resize(rng, reals[int(rng.integers(len(reals)))], oh, ow) if reals else _bg_granite(rng, oh, ow)
            border = int(max(1, rng.uniform(0.0, 0.08) * min(oh, ow)))
            otex[:border], otex[-border:], otex[:, :border], otex[:, -border:] = (_color(rng, 0, 120),) * 4
        if otex is not None:
            oh, ow = otex.shape[:2]
            H2 = cv2.getPerspectiveTransform(np.array([[0, 0], [ow, 0], [ow, oh], [0, oh]], np.float32), other)
            olayer = cv2.warpPerspective(otex, H2, (rw, rh), flags=cv2.INTER_LINEAR)
            oalpha = cv2.warpPerspective(np.ones((oh, ow), np.float32), H2, (rw, rh))[..., None]
            canvas = canvas * (1 - oalpha) + olayer * oalpha
        else:
            cv2.fillConvexPoly(canvas, other.astype(np.int32),
                               (_paper_color(rng) * rng.uniform(0.8, 0.98)).tolist(), cv2.LINE_AA)

    layer = cv2.warpPerspective(tex, H, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpPerspective(np.ones((th, tw), np.float32), H, (rw, rh), flags=cv2.INTER_LINEAR)
    if kind == "document" and rng.random() < 0.5:   # paper shading / slight bend in the light
        layer *= (0.85 + 0.15 * _lowfreq(rng, rh, rw, 3))
    field = _curl_field(rng, rh, rw, quad)
    if field is not None:
        gx, gy = np.meshgrid(np.arange(rw, dtype=np.float32), np.arange(rh, dtype=np.float32))
        mx, my = gx - field[..., 0], gy - field[..., 1]
        layer = cv2.remap(layer, mx, my, cv2.INTER_LINEAR)
        alpha = cv2.remap(alpha, mx, my, cv2.INTER_LINEAR)
    if rng.random() < 0.5:   # soft contact shadow under the page
        sh = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(1, 4))
        sh = np.roll(sh, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
        canvas *= (1 - 0.35 * sh)[..., None]
    a3 = alpha[..., None]
    canvas = canvas * (1 - a3) + layer * a3
    if spine is not None:       # a book's gutter: both pages darken towards the spine
        a, b = spine
        n = np.array([-(b - a)[1], (b - a)[0]], np.float32) / (np.linalg.norm(b - a) + 1e-6)
        gx, gy = np.meshgrid(np.arange(rw, dtype=np.float32), np.arange(rh, dtype=np.float32))
        dist = np.abs((gx - a[0]) * n[0] + (gy - a[1]) * n[1])
        width = rng.uniform(0.02, 0.08) * np.sqrt(cv2.contourArea(quad))
        pages = np.clip(alpha + oalpha[..., 0], 0, 1)
        canvas *= (1 - pages * rng.uniform(0.1, 0.45) * np.exp(-(dist / width) ** 2))[..., None]

    # Occluders over the page edges.
    occ = np.zeros((rh, rw), bool)
    r = rng.random()
    if r < 0.35:
        for _ in range(int(rng.integers(1, 3))):
            _draw_finger(rng, canvas, occ, quad)
    if rng.random() < 0.2:
        _draw_object(rng, canvas, occ, quad, over_edge=True)

    canvas = _lighting(rng, canvas)
    frame = np.clip(canvas, 0, 255).astype(np.uint8)
    frame = cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_AREA)
    frame = _camera(rng, frame)

    sx, sy = out_w / rw, out_h / rh
    scale = np.array([sx, sy], np.float32)
    # cv2 convention (integer = pixel centre) on both canvases.
    boundary = (_displace(_boundary_points(quad), field) + 0.5) * scale - 0.5
    corners = (_displace(quad, field) + 0.5) * scale - 0.5
    edges = np.zeros((out_h, out_w), np.uint8)
    shift = 4   # sub-pixel polyline coordinates
    cv2.polylines(edges, [np.round(boundary * (1 << shift)).astype(np.int32)],
                  False, 255, 1, cv2.LINE_AA, shift)
    edges = edges.astype(np.float32) / 255
    if occ.any():
        hidden = cv2.resize(occ.astype(np.float32), (out_w, out_h), interpolation=cv2.INTER_AREA) > 0.3
        edges[hidden] = 0
    if trace is not None:
        trace["scene"], trace["kind"] = scene_name, kind
        trace["curled"], trace["occluded"] = field is not None, bool(occ.any())
        if oalpha is not None:
            trace["behind"] = cv2.resize(oalpha[..., 0], (out_w, out_h), interpolation=cv2.INTER_AREA)
        trace["drawn"] = cv2.resize(alpha, (out_w, out_h), interpolation=cv2.INTER_AREA)
    region = np.zeros((out_h, out_w), np.uint8)
    cv2.fillPoly(region, [np.round(boundary * (1 << shift)).astype(np.int32)], 255, cv2.LINE_AA, shift)
    return Sample(image=frame, edges=np.clip(edges * 1.5, 0, 1), corners=order_corners(corners),
                  region=region.astype(np.float32) / 255)


def iter_samples(seed: int, size=(256, 256), shared_dir=None, start: int = 0) -> Iterator[Sample]:
    """Endless deterministic stream: samples ``start``, ``start + 1``, ... of stream ``seed``."""
    index = int(start)
    while True:
        yield make_sample(seed, index, size, shared_dir)
        index += 1


# ---------------------------------------------------------------------------------------
# tf.data and fixed sets on disk

def make_dataset(seed: int, batch_size: int, size=(256, 256), shared_dir=None, start: int = 0,
                 prefetch: int = 2, with_region: bool = False):
    """Batched tf.data.Dataset of (image float32 [0,1] (B,H,W,3), target float32 (B,H,W,C)).

    The target is the edge map (C = 1), or edges and page region stacked (C = 2) with
    ``with_region``.
    """
    import tensorflow as tf

    h, w = (int(v) for v in size)
    c = 2 if with_region else 1

    def gen():
        for s in iter_samples(seed, (h, w), shared_dir, start):
            target = np.stack([s.edges, s.region], -1) if with_region else s.edges[..., None]
            yield s.image.astype(np.float32) / 255.0, target

    ds = tf.data.Dataset.from_generator(
        gen,
        output_signature=(tf.TensorSpec((h, w, 3), tf.float32), tf.TensorSpec((h, w, c), tf.float32)))
    return ds.batch(batch_size, drop_remainder=True).prefetch(prefetch)


def write_set(directory, n: int, seed: int, size=(512, 384), shared_dir=None, progress=None) -> Path:
    """Write ``n`` samples as JPEG + edge PNG and ``labels.json`` (docscan eval's format, plus
    each sample's scene, page kind, curl and occlusion)."""
    from docscan.atomic import atomic_path, write_json

    directory = Path(directory)
    if n <= 0:
        raise DocscanError(f"synth: number of samples must be positive, got {n}")
    if directory.exists() and not directory.is_dir():
        raise DocscanError(f"{directory}: exists and is not a directory")
    try:
        (directory / "edges").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DocscanError(f"{directory}: cannot create output directory ({exc.strerror})") from None
    labels = {}
    for i in range(n):
        trace = {}
        s = make_sample(seed, i, size, shared_dir, trace=trace)
        name = f"synth_{seed}_{i:05d}.jpg"
        with atomic_path(directory / name) as tmp:
            ok, buf = cv2.imencode(".jpg", s.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            tmp.write_bytes(buf.tobytes())
        with atomic_path(directory / "edges" / name.replace(".jpg", ".png")) as tmp:
            ok, buf = cv2.imencode(".png", (s.edges * 255).astype(np.uint8))
            tmp.write_bytes(buf.tobytes())
        labels[name] = {"width": int(s.image.shape[1]), "height": int(s.image.shape[0]),
                        "corners": [[round(float(x), 2), round(float(y), 2)] for x, y in s.corners],
                        # what was drawn, for results broken down by scene (eval ignores it)
                        "scene": trace["scene"], "page": trace["kind"], "curled": trace["curled"],
                        "occluded": trace["occluded"]}
        if progress is not None:
            progress(i + 1)
    write_json(directory / "labels.json", labels)
    return directory / "labels.json"
