"""One synthetic sample: compose the scene (surface, clutter, the page, what lies behind it,
occluders, light, camera) and draw its labels (edge map, page region, corners).

Everything is drawn from ``numpy.random.default_rng((seed, index))`` in one fixed order,
so sample ``index`` of stream ``seed`` is always the same picture
(``tests/test_synth_golden.py`` pins the bytes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from docscan.detect.geometry import order_corners
from docscan.errors import DocscanError
from docscan.train.synth.assets import real_backgrounds
from docscan.train.synth.clutter import draw_finger, draw_object
from docscan.train.synth.desk import (
    draw_cable,
    draw_mug,
    loose_sheets,
    notebook_under,
    pens_on_page,
    scene_rng,
    spiral_binding,
    table_top,
)
from docscan.train.synth.geometry import boundary_points, curl_field, displace, page_quad
from docscan.train.synth.pages import crease, document_page, paper_color, random_page
from docscan.train.synth.photo import camera, lighting
from docscan.train.synth.surfaces import background, granite
from docscan.train.synth.texture import crop_resize, lowfreq, random_color

# Real photos come from phones: a page usually fills a good part of a 3:4 frame.
CAMERA_ASPECTS = (4 / 3, 4 / 3, 4 / 3, 3 / 4, 16 / 9, 1.0)   # height / width
SUPERSAMPLE = 2                     # render at 2x, then area-downsample: smooth page borders
_SHIFT = 4                          # sub-pixel polyline coordinates of the labels


@dataclass
class Sample:
    image: np.ndarray     # uint8 (H, W, 3) RGB
    edges: np.ndarray     # float32 (H, W) in [0, 1]
    corners: np.ndarray   # float32 (4, 2) x, y
    region: np.ndarray | None = None   # float32 (H, W) in [0, 1]: the whole page


@dataclass
class _Behind:
    """What the scene puts behind or beside the labelled page."""
    canvas: np.ndarray
    quad: np.ndarray                   # the labelled page's quad (an open book moves it)
    scene: str = "single"
    spine: tuple | None = None         # a book's gutter: the shared edge (a, b)
    alpha: np.ndarray | None = None    # (h, w, 1) coverage of a textured sheet behind


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
    rh, rw = _canvas_size(rng, out_h, out_w)
    canvas = background(rng, rh, rw, shared_dir)
    desk = scene_rng(seed, index)

    # Clutter under the page (papers, books, pens) away from or under the page. On a table
    # top it goes on the table, drawn once the table is (after the page's place is known).
    clutter_mask = np.zeros((rh, rw), bool)
    if not desk.table:
        _clutter(rng, desk, canvas, clutter_mask)

    tex, kind = random_page(rng, shared_dir, long_side=int(max(rh, rw) * rng.uniform(0.6, 1.0)))
    th, tw = tex.shape[:2]
    if kind != "card" and rng.random() < 0.35:
        crease(rng, tex)
    quad = page_quad(rng, rh, rw, th / tw)
    if desk.table:   # the page smaller in frame, so the table's outline is in it too
        centre = quad.mean(axis=0)
        quad = ((quad - centre) * desk.rng.uniform(0.5, 0.85) + centre).astype(np.float32)
        table_top(desk.rng, canvas, quad)
        _clutter(rng, desk, canvas, clutter_mask)
    if desk.cluttered:
        loose_sheets(desk.rng, canvas, quad)
    notebook = desk.notebook and kind == "document"
    if notebook:
        notebook_under(desk.rng, canvas, quad)
    behind = _behind_page(rng, canvas, quad, tex, shared_dir)
    canvas, quad = behind.canvas, behind.quad
    canvas, alpha, field = _lay_page(rng, canvas, tex, kind, quad)
    if behind.spine is not None:
        _shade_gutter(rng, canvas, behind.spine, alpha, behind.alpha, quad)
    if notebook and field is None and desk.rng.random() < 0.7:
        spiral_binding(desk.rng, canvas, quad)

    # Occluders over the page edges.
    occ = np.zeros((rh, rw), bool)
    r = rng.random()
    if r < 0.35:
        for _ in range(int(rng.integers(1, 3))):
            draw_finger(rng, canvas, occ, quad)
    if rng.random() < 0.2:
        draw_object(rng, canvas, occ, quad, over_edge=True)
    if desk.cluttered:
        pens_on_page(desk.rng, canvas, occ, quad)
    if desk.cable:
        draw_cable(desk.rng, canvas, occ)
    if desk.mug:
        draw_mug(desk.rng, canvas, occ, quad)

    canvas = lighting(rng, canvas)
    frame = np.clip(canvas, 0, 255).astype(np.uint8)
    frame = cv2.resize(frame, (out_w, out_h), interpolation=cv2.INTER_AREA)
    frame = camera(rng, frame)

    edges, corners, region = _labels(quad, field, occ, (rh, rw), (out_h, out_w))
    if trace is not None:
        trace["scene"], trace["kind"] = behind.scene, kind
        trace["curled"], trace["occluded"] = field is not None, bool(occ.any())
        trace["desk"] = desk.names()
        if behind.alpha is not None:
            trace["behind"] = cv2.resize(behind.alpha[..., 0], (out_w, out_h), interpolation=cv2.INTER_AREA)
        trace["drawn"] = cv2.resize(alpha, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return Sample(image=frame, edges=edges, corners=corners, region=region)


def _clutter(rng, desk, canvas, mask) -> None:
    for _ in range(int(rng.poisson(0.8))):
        draw_object(rng, canvas, mask, np.zeros((4, 2), np.float32), over_edge=False)
    if desk.cluttered:   # a busy desk: more of them (their own draws: v4 scenes stay as they were)
        for _ in range(int(desk.rng.poisson(3.0))):
            draw_object(desk.rng, canvas, mask, np.zeros((4, 2), np.float32), over_edge=False)


def iter_samples(seed: int, size=(256, 256), shared_dir=None, start: int = 0) -> Iterator[Sample]:
    """Endless deterministic stream: samples ``start``, ``start + 1``, ... of stream ``seed``."""
    index = int(start)
    while True:
        yield make_sample(seed, index, size, shared_dir)
        index += 1


def _canvas_size(rng, out_h, out_w) -> tuple[int, int]:
    """(height, width) of the supersampled canvas. A square output is composed at a random
    camera aspect and squashed to the square later, as a real frame is at inference."""
    if out_h == out_w:
        aspect = CAMERA_ASPECTS[int(rng.integers(len(CAMERA_ASPECTS)))]
        base = out_w * SUPERSAMPLE
        rw, rh = base, int(round(base * aspect))
    else:
        rh, rw = out_h * SUPERSAMPLE, out_w * SUPERSAMPLE
    return rh, rw


def _behind_page(rng, canvas, quad, tex, shared_dir) -> _Behind:
    """Behind or beside the page (in 30 % of scenes): a sheet of the same stack, the facing
    page of a book, or a picture on the wall (common in real photos). The label is one
    page; the spine or the other sheet's outline crossing the scene is an edge of it or no
    edge at all."""
    rh, rw = canvas.shape[:2]
    th, tw = tex.shape[:2]
    behind = _Behind(canvas, quad)
    if rng.random() >= 0.3:
        return behind
    scene = rng.random()
    behind.scene = "booklet" if scene < 0.5 else "stack" if scene < 0.8 else "picture"
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
            otex = document_page(rng, th, tw, shared_dir)
            otex *= (np.median(tex.reshape(-1, 3), 0) / np.maximum(np.median(otex.reshape(-1, 3), 0), 1.0)
                     ).astype(np.float32)[None, None] * rng.uniform(0.92, 1.0)
            lo, hi = quad.min(0), quad.max(0)
            aim = np.array([rw / 2, rh / 2], np.float32) + rng.normal(0, 0.05, 2).astype(np.float32) * [rw, rh]
            # keep the aimed page in frame where it fits
            aim = np.clip(aim, (hi - lo) / 2 + 1, np.maximum((hi - lo) / 2 + 1, [rw - 2, rh - 2] - (hi - lo) / 2))
            move = (aim - (lo + hi) / 2).astype(np.float32)
            quad, other = quad + move, other + move
            behind.quad = quad
            behind.spine = (quad[i], quad[(i + 1) % 4])
            behind.scene = "open-book"
        elif rng.random() < 0.6:
            otex = document_page(rng, th // 2, tw // 2, shared_dir) * rng.uniform(0.85, 1.0)
        else:
            otex = None
    elif scene < 0.8:         # a sheet of the same stack, shifted
        other = quad + (rng.normal(0, 0.08, 2) * np.array([rw, rh])).astype(np.float32)
        otex = document_page(rng, th // 2, tw // 2, shared_dir) * rng.uniform(0.85, 1.0) \
            if rng.random() < 0.6 else None
    else:                     # a picture / poster behind the page, with a frame
        centre = quad.mean(0)
        other = ((quad - centre) * rng.uniform(0.7, 1.3) + centre
                 + rng.normal(0, 0.25, 2).astype(np.float32) * np.sqrt(cv2.contourArea(quad)))
        other = other.astype(np.float32)
        reals = real_backgrounds(shared_dir)
        oh, ow = max(8, th // 2), max(8, tw // 2)
        otex = crop_resize(rng, reals[int(rng.integers(len(reals)))], oh, ow) if reals else granite(rng, oh, ow)
        border = int(max(1, rng.uniform(0.0, 0.08) * min(oh, ow)))
        otex[:border], otex[-border:], otex[:, :border], otex[:, -border:] = (random_color(rng, 0, 120),) * 4
    if otex is not None:
        oh, ow = otex.shape[:2]
        H2 = cv2.getPerspectiveTransform(np.array([[0, 0], [ow, 0], [ow, oh], [0, oh]], np.float32), other)
        olayer = cv2.warpPerspective(otex, H2, (rw, rh), flags=cv2.INTER_LINEAR)
        behind.alpha = cv2.warpPerspective(np.ones((oh, ow), np.float32), H2, (rw, rh))[..., None]
        behind.canvas = canvas * (1 - behind.alpha) + olayer * behind.alpha
    else:
        cv2.fillConvexPoly(canvas, other.astype(np.int32),
                           (paper_color(rng) * rng.uniform(0.8, 0.98)).tolist(), cv2.LINE_AA)
    return behind


def _lay_page(rng, canvas, tex, kind, quad):
    """The page texture warped onto ``quad``, shaded, curled and laid on the canvas with a
    soft contact shadow; returns (canvas, the page's coverage alpha, curl field or None)."""
    rh, rw = canvas.shape[:2]
    th, tw = tex.shape[:2]
    src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
    H = cv2.getPerspectiveTransform(src, quad)
    layer = cv2.warpPerspective(tex, H, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = cv2.warpPerspective(np.ones((th, tw), np.float32), H, (rw, rh), flags=cv2.INTER_LINEAR)
    if kind == "document" and rng.random() < 0.5:   # paper shading / slight bend in the light
        layer *= (0.85 + 0.15 * lowfreq(rng, rh, rw, 3))
    field = curl_field(rng, rh, rw, quad)
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
    return canvas * (1 - a3) + layer * a3, alpha, field


def _shade_gutter(rng, canvas, spine, alpha, other_alpha, quad) -> None:
    """A book's gutter: both pages darken towards the spine (in place)."""
    rh, rw = canvas.shape[:2]
    a, b = spine
    n = np.array([-(b - a)[1], (b - a)[0]], np.float32) / (np.linalg.norm(b - a) + 1e-6)
    gx, gy = np.meshgrid(np.arange(rw, dtype=np.float32), np.arange(rh, dtype=np.float32))
    dist = np.abs((gx - a[0]) * n[0] + (gy - a[1]) * n[1])
    width = rng.uniform(0.02, 0.08) * np.sqrt(cv2.contourArea(quad))
    pages = np.clip(alpha + other_alpha[..., 0], 0, 1)
    canvas *= (1 - pages * rng.uniform(0.1, 0.45) * np.exp(-(dist / width) ** 2))[..., None]


def _labels(quad, field, occluded, canvas_hw, out_hw):
    """(edges, corners, region) at output size: the visible page boundary anti-aliased
    about 1-2 px wide (hidden parts are no edge), the curled corners clockwise from the
    top-left, and the whole page filled."""
    (rh, rw), (out_h, out_w) = canvas_hw, out_hw
    scale = np.array([out_w / rw, out_h / rh], np.float32)
    # cv2 convention (integer = pixel centre) on both canvases.
    boundary = (displace(boundary_points(quad), field) + 0.5) * scale - 0.5
    corners = (displace(quad, field) + 0.5) * scale - 0.5
    outline = np.round(boundary * (1 << _SHIFT)).astype(np.int32)
    edges = np.zeros((out_h, out_w), np.uint8)
    cv2.polylines(edges, [outline], False, 255, 1, cv2.LINE_AA, _SHIFT)
    edges = edges.astype(np.float32) / 255
    if occluded.any():
        hidden = cv2.resize(occluded.astype(np.float32), (out_w, out_h), interpolation=cv2.INTER_AREA) > 0.3
        edges[hidden] = 0
    region = np.zeros((out_h, out_w), np.uint8)
    cv2.fillPoly(region, [outline], 255, cv2.LINE_AA, _SHIFT)
    return (np.clip(edges * 1.5, 0, 1), order_corners(corners, precision=np.float32),
            region.astype(np.float32) / 255)
