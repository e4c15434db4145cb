"""The preview-frame path's fast helpers give exactly what the numpy/TFLite calls they
replace give (issue 16: post-processing made faster without changing any result)."""

from __future__ import annotations

import numpy as np

from docscan.detect.edge_model import load_edge_model
from docscan.detect.quad_refine import _row_gradient, _row_medians


def test_row_medians_are_numpy_medians():
    rng = np.random.default_rng(0)
    for cols in (1, 2, 7, 40, 64):
        for dtype in (np.float32, np.float64):
            v = (rng.standard_normal((6, cols)) * 100).astype(dtype)
            v[:, : cols // 3] = np.round(v[:, : cols // 3])       # ties
            mask = rng.random((6, cols)) < 0.6
            mask[0] = False                                    # an empty row
            mask[1] = True
            got = _row_medians(v, mask)
            assert np.isnan(got[0])
            for k in range(1, 6):
                if mask[k].any():
                    assert got[k] == float(np.median(v[k][mask[k]]))


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
