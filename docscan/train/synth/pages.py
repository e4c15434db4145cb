"""Pages as flat textures: text documents (headings, tables, figures, columns), receipts,
ID cards, the real page photos, and the creases of folded letters. Float32 RGB 0..255,
(ph, pw, 3), portrait; the scene rotates them freely."""

from __future__ import annotations

import cv2
import numpy as np

from docscan.train.synth.assets import real_backgrounds, real_pages
from docscan.train.synth.surfaces import granite
from docscan.train.synth.texture import crop_resize, jitter_colors, lowfreq, random_color

PAPER_ASPECTS = {            # height / width of a portrait page
    "a4": 297 / 210, "letter": 11 / 8.5, "a5": 210 / 148, "square": 1.0,
}


def paper_color(rng):
    r = rng.random()
    if r < 0.75:
        return np.array([255, 255, 255], np.float32) * rng.uniform(0.88, 1.0) * rng.uniform(0.96, 1.0, 3)
    if r < 0.9:   # cream, recycled, greyish
        return np.array([rng.uniform(225, 250), rng.uniform(215, 245), rng.uniform(190, 235)], np.float32)
    return random_color(rng, 90, 255)   # coloured paper


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


def document_page(rng, ph, pw, shared_dir):
    page = np.empty((ph, pw, 3), np.uint8)     # uint8: cv2.putText draws only on 8-bit images
    page[:] = paper_color(rng)
    ink = np.full(3, rng.uniform(0, 90), np.float32)
    if rng.random() < 0.15:
        ink = random_color(rng, 0, 150)
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
                    fig = crop_resize(rng, reals[int(rng.integers(len(reals)))], fh, fw)
                else:
                    fig = granite(rng, fh, fw)
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


def _receipt_page(rng, ph, pw, shared_dir):
    page = np.empty((ph, pw, 3), np.uint8)
    page[:] = np.array([250, 250, 245], np.float32) * rng.uniform(0.9, 1.0)
    ink = np.full(3, rng.uniform(20, 110), np.float32)
    _draw_text_block(rng, page, pw * 0.06, ph * 0.03, pw * 0.94, ph * 0.97, ink, max(3.0, pw * 0.05))
    return page.astype(np.float32)


def _card_page(rng, ph, pw, shared_dir):
    page = np.empty((ph, pw, 3), np.float32)
    page[:] = random_color(rng, 60, 255)
    grad = lowfreq(rng, ph, pw, 3, 3)
    page = np.clip(page * (0.7 + 0.6 * grad), 0, 255).astype(np.uint8)
    ink = random_color(rng, 0, 120)
    cv2.rectangle(page, (int(pw * 0.06), int(ph * 0.2)), (int(pw * 0.35), int(ph * 0.75)), random_color(rng).tolist(), -1)
    _draw_text_block(rng, page, pw * 0.42, ph * 0.2, pw * 0.94, ph * 0.85, ink, max(3.0, ph * 0.07))
    return page.astype(np.float32)


def random_page(rng, shared_dir, long_side):
    """Return (texture, kind). Portrait orientation; the caller rotates freely."""
    reals = real_pages(shared_dir)
    r = rng.random()
    if reals and r < 0.25:
        src = reals[int(rng.integers(len(reals)))].astype(np.float32)
        if src.shape[0] < src.shape[1]:
            src = np.ascontiguousarray(np.rot90(src))
        scale = long_side / max(src.shape[:2])
        tex = cv2.resize(src, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        return jitter_colors(rng, tex), "real"
    if r < 0.85:
        aspect = list(PAPER_ASPECTS.values())[int(rng.choice(4, p=[0.6, 0.2, 0.15, 0.05]))]
        aspect *= rng.uniform(0.97, 1.03)
        ph, pw = long_side, int(long_side / aspect)
        return document_page(rng, ph, pw, shared_dir), "document"
    if r < 0.93:
        ph, pw = long_side, int(long_side / rng.uniform(2.0, 3.5))
        return _receipt_page(rng, ph, pw, shared_dir), "receipt"
    ph, pw = long_side, int(long_side / 1.586)
    return np.ascontiguousarray(np.rot90(_card_page(rng, pw, ph, shared_dir))), "card"



def crease(rng, tex):
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

