"""What light and the phone camera do to a scene: uneven light, cast shadows, glare and
tint on the float canvas; blur, noise and JPEG artefacts on the final uint8 frame."""

from __future__ import annotations

import cv2
import numpy as np

from docscan.train.synth.texture import lowfreq


def lighting(rng, img):
    h, w = img.shape[:2]
    if rng.random() < 0.6:   # uneven light
        img *= (rng.uniform(0.55, 0.9) + rng.uniform(0.2, 0.6) * lowfreq(rng, h, w, 3))
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


def camera(rng, img):
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

