"""Generator v5: the real photos docscan still got wrong (issue 15), drawn on purpose.

* a table top: a light grey or white table, its outline and side face inside the frame,
  the page barely brighter than it (the quad finder took the table for the page);
* a cluttered desk: more objects, loose sheets beside the page, pens lying on it;
* a notebook: a cover and the stack's thickness under the top page, spiral rings along
  one side (the spiral side is still the page's edge);
* a mug standing over a corner or a side, with its rim, handle and shadow;
* a cable running across the scene and over the page.

Each draws from its own generator (``scene_rng``), so a scene without them is the same
picture as in generator v4. What an object hides of the page outline goes into ``mask``
(no edge label there); the page region label stays the whole page.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from docscan.train.synth.texture import lowfreq, random_color

TABLE_TOP, CLUTTERED, NOTEBOOK, MUG, CABLE = 0.22, 0.2, 0.18, 0.15, 0.15


@dataclass
class DeskScene:
    """Which v5 elements one sample gets (drawn once, up front)."""
    rng: np.random.Generator
    table: bool
    cluttered: bool
    notebook: bool
    mug: bool
    cable: bool

    def names(self) -> tuple[str, ...]:
        return tuple(n for n in ("table", "cluttered", "notebook", "mug", "cable") if getattr(self, n))


def scene_rng(seed: int, index: int) -> DeskScene:
    rng = np.random.default_rng((int(seed) & 0xFFFFFFFF, int(index), 5))
    return DeskScene(rng, *(bool(rng.random() < p) for p in (TABLE_TOP, CLUTTERED, NOTEBOOK, MUG, CABLE)))


def table_top(rng, canvas, quad) -> None:
    """A table top around the page: light and plain, with an edge band and a darker side
    face along its near edge; the room around it darker (in place)."""
    h, w = canvas.shape[:2]
    centre = quad.mean(axis=0)
    a = rng.normal(0, 0.12)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    grow = rng.uniform(1.3, 2.4) * rng.uniform(0.9, 1.1, (4, 1))
    table = ((quad - centre) * grow) @ rot.T + centre + rng.normal(0, 0.03, 2).astype(np.float32) * [w, h]
    table = table.astype(np.float32)
    hull = cv2.convexHull(np.vstack([table, quad * 1.0])).reshape(-1, 2)
    if rng.random() < 0.7:    # light grey / white, close to paper
        base = rng.uniform(165, 240) * rng.uniform(0.95, 1.0, 3)
    else:
        base = random_color(rng, 110, 235)
    canvas *= rng.uniform(0.45, 0.95)     # the room is usually darker than a lit table top
    # the side face along the edge nearest the camera (lowest in the frame)
    k = int(np.argmax([(hull[i][1] + hull[(i + 1) % len(hull)][1]) for i in range(len(hull))]))
    p, q = hull[k], hull[(k + 1) % len(hull)]
    drop = np.array([0, rng.uniform(0.02, 0.1) * h], np.float32)
    side = random_color(rng, 30, 160) if rng.random() < 0.5 else base * rng.uniform(0.4, 0.7)
    cv2.fillConvexPoly(canvas, np.array([p, q, q + drop, p + drop]).astype(np.int32), side.tolist(), cv2.LINE_AA)
    m = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(m, np.round(hull).astype(np.int32), 255, cv2.LINE_AA)
    alpha = (m.astype(np.float32) / 255)[..., None]
    shade = 0.85 + 0.25 * lowfreq(rng, h, w, 3)
    layer = base[None, None, :] * shade + (cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.2)
                                           [..., None] - 0.5) * 8
    canvas *= 1 - alpha
    canvas += layer * alpha
    if rng.random() < 0.7:    # a wood or plastic edge band
        band = random_color(rng, 60, 200) if rng.random() < 0.5 else np.array([170, 120, 70], np.float32)
        width = int(max(2, rng.uniform(0.004, 0.02) * max(h, w)))
        cv2.polylines(canvas, [np.round(hull).astype(np.int32)], True, band.tolist(), width, cv2.LINE_AA)


def loose_sheets(rng, canvas, quad) -> None:
    """One to three other sheets beside or partly under where the page will lie."""
    scale = np.sqrt(max(1.0, cv2.contourArea(quad)))
    for _ in range(int(rng.integers(1, 4))):
        centre = quad.mean(axis=0) + rng.normal(0, 0.7, 2).astype(np.float32) * scale
        size = (float(scale * rng.uniform(0.4, 0.9)), float(scale * rng.uniform(0.5, 1.2)))
        box = cv2.boxPoints(((float(centre[0]), float(centre[1])), size, float(rng.uniform(0, 180))))
        color = np.array([255, 255, 255], np.float32) * rng.uniform(0.8, 1.0) * rng.uniform(0.95, 1.0, 3)
        cv2.fillConvexPoly(canvas, box.astype(np.int32), color.tolist(), cv2.LINE_AA)
        for _ in range(int(rng.integers(0, 8))):   # a few lines of print
            start = box[0] + (box[3] - box[0]) * rng.uniform(0.1, 0.9) + (box[1] - box[0]) * 0.1
            end = start + (box[1] - box[0]) * rng.uniform(0.3, 0.8)
            cv2.line(canvas, tuple(int(v) for v in start), tuple(int(v) for v in end), (60.0, 60.0, 60.0), 1,
                     cv2.LINE_AA)


def pens_on_page(rng, canvas, mask, quad) -> None:
    """Markers and pens lying on the page (they may cross its edge)."""
    h, w = mask.shape
    scale = np.sqrt(max(1.0, cv2.contourArea(quad)))
    for _ in range(int(rng.integers(1, 3))):
        t = rng.dirichlet(np.ones(4)).astype(np.float32)
        c = t @ quad
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)], np.float32) * scale * rng.uniform(0.12, 0.3)
        width = int(max(2, scale * rng.uniform(0.02, 0.05)))
        m = np.zeros((h, w), np.uint8)
        cv2.line(m, tuple(int(v) for v in c - d), tuple(int(v) for v in c + d), 255, width, cv2.LINE_AA)
        body = random_color(rng, 0, 255)
        _paint(canvas, m, body, rng)
        cap = np.zeros((h, w), np.uint8)
        cv2.line(cap, tuple(int(v) for v in c + d * 0.6), tuple(int(v) for v in c + d), 255, width + 1, cv2.LINE_AA)
        _paint(canvas, cap, random_color(rng, 0, 255), rng)
        mask |= (m > 127) | (cap > 127)


def notebook_under(rng, canvas, quad) -> None:
    """Before the top page is laid: the sheets under it (thickness) and often a cover."""
    scale = np.sqrt(max(1.0, cv2.contourArea(quad)))
    centre = quad.mean(axis=0)
    if rng.random() < 0.6:
        cover = (quad - centre) * rng.uniform(1.02, 1.07) + centre
        cv2.fillConvexPoly(canvas, np.round(cover).astype(np.int32), random_color(rng, 10, 230).tolist(),
                           cv2.LINE_AA)
    shift = rng.normal(0, 1, 2).astype(np.float32)
    shift *= scale * rng.uniform(0.004, 0.015) / (np.linalg.norm(shift) + 1e-6)
    edge = np.array([255, 255, 255], np.float32) * rng.uniform(0.55, 0.85)
    for s in np.linspace(1.0, 0.2, 4):
        cv2.fillConvexPoly(canvas, np.round(quad + shift * s).astype(np.int32), (edge * (0.9 + 0.1 * s)).tolist(),
                           cv2.LINE_AA)


def spiral_binding(rng, canvas, quad) -> None:
    """Rings along one side, half over the page, half outside; punched holes beside them."""
    i = int(rng.integers(4))
    a, b = quad[i], quad[(i + 1) % 4]
    length = float(np.linalg.norm(b - a))
    scale = np.sqrt(max(1.0, cv2.contourArea(quad)))
    pitch = scale * rng.uniform(0.025, 0.045)
    along = (b - a) / (length + 1e-6)
    outward = np.array([along[1], -along[0]], np.float32)
    if np.dot(outward, quad.mean(axis=0) - a) > 0:
        outward = -outward
    ring = pitch * rng.uniform(0.45, 0.8)
    color = (random_color(rng, 20, 90) if rng.random() < 0.6 else np.full(3, rng.uniform(140, 210))).tolist()
    thick = int(max(1, ring * rng.uniform(0.15, 0.3)))
    angle = float(np.degrees(np.arctan2(outward[1], outward[0])))
    for t in np.arange(pitch, length - pitch / 2, pitch):
        p = a + along * t
        hole = p - outward * ring * 0.7
        cv2.circle(canvas, tuple(int(v) for v in hole), int(max(1, ring * 0.22)), (40.0, 40.0, 40.0), -1, cv2.LINE_AA)
        centre = p + outward * ring * 0.1
        cv2.ellipse(canvas, tuple(int(v) for v in centre), (int(max(1, ring)), int(max(1, ring * 0.45))),
                    angle, -110, 200, color, thick, cv2.LINE_AA)


def draw_mug(rng, canvas, mask, quad) -> None:
    """A mug standing over a page corner or side: shaded body, rim, inside, handle, shadow."""
    h, w = mask.shape
    scale = np.sqrt(max(1.0, cv2.contourArea(quad)))
    i = int(rng.integers(4))
    where = quad[i] if rng.random() < 0.5 else quad[i] + (quad[(i + 1) % 4] - quad[i]) * rng.uniform(0.2, 0.8)
    r = scale * rng.uniform(0.12, 0.28)
    base = where + rng.normal(0, 0.4, 2).astype(np.float32) * r
    tilt = rng.uniform(0.3, 0.6)
    height = r * rng.uniform(0.9, 1.6)
    top = base - np.array([0, height], np.float32)
    cx, by, ty = int(base[0]), int(base[1]), int(top[1])
    axes = (int(r), int(max(1, r * tilt)))
    shadow = np.zeros((h, w), np.float32)
    cv2.ellipse(shadow, (int(base[0] + r * 0.4), int(base[1] + r * 0.2)), (int(r * 1.3), int(r * tilt * 1.5)), 0,
                0, 360, 1.0, -1, cv2.LINE_AA)
    canvas *= (1 - 0.35 * cv2.GaussianBlur(shadow, (0, 0), max(1.0, r * 0.3)))[..., None]
    body = np.zeros((h, w), np.uint8)
    cv2.ellipse(body, (cx, by), axes, 0, 0, 360, 255, -1, cv2.LINE_AA)
    cv2.rectangle(body, (cx - axes[0], ty), (cx + axes[0], by), 255, -1)
    cv2.ellipse(body, (cx, ty), axes, 0, 0, 360, 255, -1, cv2.LINE_AA)
    side = 1 if rng.random() < 0.5 else -1
    handle = np.zeros((h, w), np.uint8)
    cv2.ellipse(handle, (cx + side * axes[0], (ty + by) // 2), (int(r * 0.45), int(height * 0.32)), 0,
                -90 * side, 90 * side, 255, int(max(2, r * 0.16)), cv2.LINE_AA)
    color = (np.full(3, rng.uniform(215, 250), np.float32) if rng.random() < 0.55 else random_color(rng, 20, 240))
    xx = np.arange(w, dtype=np.float32)
    across = np.clip((xx - (cx - r)) / (2 * r + 1e-6), 0, 1)
    light = rng.uniform(0.2, 0.8)
    shade = (0.65 + 0.45 * np.exp(-((across - light) / 0.35) ** 2))[None, :, None]
    alpha = (np.maximum(body, handle).astype(np.float32) / 255)[..., None]
    canvas *= 1 - alpha
    canvas += (color[None, None, :] * shade) * alpha
    inside = np.zeros((h, w), np.uint8)
    cv2.ellipse(inside, (cx, ty), (int(axes[0] * 0.88), int(axes[1] * 0.8)), 0, 0, 360, 255, -1, cv2.LINE_AA)
    a_in = (inside.astype(np.float32) / 255)[..., None]
    canvas *= 1 - a_in * rng.uniform(0.3, 0.6)
    mask |= np.maximum(body, handle) > 127


def draw_cable(rng, canvas, mask) -> None:
    """A cable: a smooth curve from one side of the frame to another."""
    h, w = mask.shape
    ends = []
    for _ in range(2):
        s = int(rng.integers(4))
        t = rng.uniform(0, 1)
        ends.append(np.array([[t * w, 0], [w, t * h], [t * w, h], [0, t * h]][s], np.float32))
    c1 = np.array([rng.uniform(0, w), rng.uniform(0, h)], np.float32)
    c2 = np.array([rng.uniform(0, w), rng.uniform(0, h)], np.float32)
    t = np.linspace(0, 1, 80, dtype=np.float32)[:, None]
    curve = ((1 - t) ** 3 * ends[0] + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t ** 2 * c2 + t ** 3 * ends[1])
    m = np.zeros((h, w), np.uint8)
    cv2.polylines(m, [np.round(curve).astype(np.int32)], False, 255, int(max(2, rng.uniform(0.004, 0.012) * max(h, w))),
                  cv2.LINE_AA)
    color = np.full(3, rng.uniform(5, 60), np.float32) if rng.random() < 0.7 else np.full(3, rng.uniform(200, 250))
    _paint(canvas, m, color.astype(np.float32), rng)
    mask |= m > 127


def _paint(canvas, m, color, rng) -> None:
    alpha = (m.astype(np.float32) / 255)[..., None]
    canvas *= 1 - alpha
    canvas += color[None, None, :] * rng.uniform(0.85, 1.1) * alpha
