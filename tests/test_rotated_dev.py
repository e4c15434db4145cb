"""benchmarks/rotated_dev.py turns photos and their labels together."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

spec = importlib.util.spec_from_file_location(
    "rotated_dev", Path(__file__).resolve().parents[1] / "benchmarks" / "rotated_dev.py")
rotated_dev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rotated_dev)


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_labels_turn_with_the_pixels(degrees):
    image = np.zeros((4, 6), np.uint8)
    marks = np.array([[3, 1], [5, 0], [0, 3]], np.float64)     # (x, y) pixels
    for k, (x, y) in enumerate(marks.astype(int)):
        image[y, x] = 10 * (k + 1)
    turned, moved = rotated_dev.turn_clockwise(image, marks, degrees)
    assert turned.shape == ((4, 6) if degrees in (0, 180) else (6, 4))
    for k, (x, y) in enumerate(np.round(moved).astype(int)):
        assert turned[y, x] == 10 * (k + 1)
