"""The preview-frame path's fast helpers give exactly what the numpy/TFLite calls they
replace give (issue 16: post-processing made faster without changing any result)."""

from __future__ import annotations

import numpy as np

from docscan.detect.edge_model import load_edge_model
from docscan.detect.quad_refine import _median, _row_gradient


def test_median_is_numpy_median():
    rng = np.random.default_rng(0)
    for n in range(1, 40):
        for dtype in (np.float32, np.float64):
            a = (rng.standard_normal(n) * 100).astype(dtype)
            a[: n // 3] = np.round(a[: n // 3])       # ties
            assert _median(a) == float(np.median(a))


def test_row_gradient_is_numpy_gradient():
    rng = np.random.default_rng(1)
    for cols in (2, 3, 9, 25):
        for step in (0.5, 0.37, 1.25):
            prof = (rng.random((7, cols)) * 255).astype(np.float32)
            want = np.gradient(prof, step, axis=1)
            got = _row_gradient(prof, step)
            assert got.dtype == want.dtype and np.array_equal(got, want)


def test_int8_model_maps_match_set_get_tensor():
    model = load_edge_model()                          # the shipped int8 model
    if model.inp["dtype"] not in (np.int8, np.uint8):
        return
    rng = np.random.default_rng(2)
    for _ in range(3):
        frame = rng.integers(0, 256, model.input_hw + (3,), dtype=np.uint8)
        edge, region = model.frame_maps(frame)
        interp = model.interp
        interp.set_tensor(model.inp["index"], model._in_lut[frame][None])
        interp.invoke()
        for got, detail in ((edge, model.out), (region, model.region)):
            if detail is None:
                continue
            y = interp.get_tensor(detail["index"])[0, ..., 0]
            lut = model._out_luts[detail["index"]]
            want = lut[y.astype(np.int16) - np.iinfo(y.dtype).min]
            assert got.dtype == want.dtype and np.array_equal(got, want)
