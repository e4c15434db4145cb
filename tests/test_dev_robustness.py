"""benchmarks/dev_robustness.py turns photos and their labels together."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

spec = importlib.util.spec_from_file_location(
    "dev_robustness", Path(__file__).resolve().parents[1] / "benchmarks" / "dev_robustness.py")
dev_robustness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dev_robustness)


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_labels_turn_with_the_pixels(degrees):
    image = np.zeros((4, 6), np.uint8)
    marks = np.array([[3, 1], [5, 0], [0, 3]], np.float64)     # (x, y) pixels
    for k, (x, y) in enumerate(marks.astype(int)):
        image[y, x] = 10 * (k + 1)
    turned, moved = dev_robustness.turn_clockwise(image, marks, degrees)
    assert turned.shape == ((4, 6) if degrees in (0, 180) else (6, 4))
    for k, (x, y) in enumerate(np.round(moved).astype(int)):
        assert turned[y, x] == 10 * (k + 1)


def test_every_condition_keeps_labels_in_the_frame():
    image = np.zeros((40, 30, 3), np.uint8)
    corners = np.array([[2, 3], [27, 3], [27, 36], [2, 36]], np.float64)
    for name, apply in dev_robustness.CONDITIONS.items():
        out, moved = apply(image, corners)
        h, w = out.shape[:2]
        assert out.dtype == np.uint8 and out.shape[2] == 3, name
        assert (moved >= 0).all() and (moved[:, 0] < w).all() and (moved[:, 1] < h).all(), name
