"""The quad finder's fast paths give what the plain ones give: its C path
(docscan/detect/native) what its numpy path gives (and docscan falls back to numpy where no
C compiler is found), the band blur of one refinement pass what the whole window's gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from detect_helpers import PAGE, photo

from docscan.detect import native
from docscan.detect.quad_refine import refine_corners

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def paths(monkeypatch):
    """paths(on) switches between the C path (True) and the numpy path (False)."""
    def switch(on: bool):
        monkeypatch.setenv("DOCSCAN_NATIVE", "1" if on else "0")
        native._load.cache_clear()
        assert native.status().startswith("native" if on else "numpy"), native.status()
    yield switch
    native._load.cache_clear()


def both(paths, fn):
    paths(False)
    want = fn()
    paths(True)
    return want, fn()


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler on PATH")
def test_refinement_is_the_same_on_both_paths(paths):
    rng = np.random.default_rng(3)
    cases = 0
    for seed in range(12):
        a, scale = np.deg2rad(rng.uniform(-25, 25)), rng.uniform(0.7, 0.95)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        centre = PAGE.mean(axis=0)
        page = (PAGE - centre) @ rot.T * scale + centre
        img = cv2.cvtColor(photo(corners=page, seed=seed), cv2.COLOR_RGB2GRAY)
        start = page + rng.normal(0, 3.0, page.shape)       # a coarse guess, as the edge map gives
        for passes in (1, 2):
            want, got = both(paths, lambda s=start, p=passes, im=img: refine_corners(im, s, passes=p))
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
            assert np.abs(want - start).max() > 0.1          # the refinement moved the corners
            cases += 1
    assert cases == 24


@pytest.mark.realdata
@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler on PATH")
def test_preview_frames_give_the_same_corners_on_both_paths(paths, shared):
    from docscan.detect.detector import Detector
    from docscan.detect.frames import FrameDetector
    from docscan.detect.image_io import load_image

    folder = shared / "data" / "real-photos-dev2"
    if not (folder / "labels.json").is_file():
        pytest.skip(f"{folder}: no labelled photos")
    names = sorted(json.loads((folder / "labels.json").read_text()))[::4][:10]
    frames = [cv2.resize(load_image(folder / n), (1280, 720), interpolation=cv2.INTER_AREA) for n in names]
    det = Detector()

    def corners():
        fd = FrameDetector(det)
        out = []
        for f in frames:
            r = fd.detect(f)
            out.append(r.corners if r.found else np.full((4, 2), np.nan))
        return np.array(out)

    want, got = both(paths, corners)
    assert np.isfinite(want).all(axis=(1, 2)).sum() >= 8
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_without_a_compiler_the_numpy_path_runs(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path), DOCSCAN_CACHE=str(tmp_path / "cache"), DOCSCAN_NATIVE="1")
    code = ("from docscan.detect import native; print(native.status()); "
            "import numpy as np; from docscan.detect.quad_refine import refine_corners; "
            "g = np.zeros((200, 200), np.uint8); g[50:150, 60:160] = 200; "
            "print(refine_corners(g, np.array([[62, 52], [158, 49], [161, 147], [59, 151.]])).round(1).tolist())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    status, corners = out.stdout.strip().splitlines()
    assert status == "numpy (native build unavailable: no C compiler (cc or gcc) on PATH)"
    np.testing.assert_allclose(json.loads(corners), [[59.5, 49.5], [159.5, 49.5], [159.5, 149.5], [59.5, 149.5]],
                               atol=0.6)
    assert not (tmp_path / "cache" / "native").exists()


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("DOCSCAN_NATIVE", "0")
    native._load.cache_clear()
    try:
        assert native.library() is None
        assert native.status() == "numpy (DOCSCAN_NATIVE=0)"
    finally:
        native._load.cache_clear()


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler on PATH")
def test_candidates_and_picks_are_the_same_on_both_paths(paths):
    """Every candidate (lines, corners, scores, side evidence) and every pick of the golden
    maps: borders, region sides, clutter, booklets, blank and low-contrast maps."""
    import dataclasses

    from test_detect_golden import edge_cases

    from docscan.detect.quad import DEFAULT_PARAMS, find_quad
    from docscan.detect.quad_candidates import candidates
    from docscan.detect.quad_lines import prepare

    def run():
        out = {}
        for name, (edge, region, image, changes) in edge_cases().items():
            params = dataclasses.replace(DEFAULT_PARAMS, **changes)
            prep = prepare(edge, params, region)
            c = None if prep is None else candidates(prep.lines, prep.support_map, params)
            r = find_quad(edge, image=image, region=region, params=params)
            out[name] = (None if c is None else (c.line_ids, c.corners, c.score, c.supported, c.in_frame,
                                                 c.table.cum_support, c.table.cum_inside, c.table.start),
                         r.corners, r.confidence)
        return out

    want, got = both(paths, run)
    found = 0
    for name, (cw, qw, confw) in want.items():
        cg, qg, confg = got[name]
        assert (cw is None) == (cg is None), name
        if cw is not None:
            found += 1
            for a, b in zip(cw, cg):
                # (bit for bit here; numpy's own sin, cos, pow on AVX-512 hosts may differ
                # from libm's by an ulp)
                if a.dtype.kind == "f":
                    np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-9, err_msg=name)
                else:
                    np.testing.assert_array_equal(b, a, err_msg=name)
        assert (qw is None) == (qg is None), name
        if qw is not None:
            np.testing.assert_allclose(qg, qw, rtol=0, atol=1e-9, err_msg=name)
        assert confg == pytest.approx(confw, abs=1e-12), name
    assert found >= 20


def test_band_blur_gives_the_whole_window_answer(monkeypatch):
    """Each refinement pass blurs only bands along the sides (RefineScratch.blurred with
    bands): the same corners as blurring the page's whole window, on tilted, cut and
    low-contrast pages, grey or RGB, one pass or two."""
    import docscan.detect.quad_refine as quad_refine
    from docscan.detect.quad_refine import RefineScratch

    rng = np.random.default_rng(5)
    cases = []
    for seed in range(10):
        a, scale = np.deg2rad(rng.uniform(-40, 40)), rng.uniform(0.6, 1.2)    # > 1: corners off the frame
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        page = (PAGE - PAGE.mean(axis=0)) @ rot.T * scale + PAGE.mean(axis=0)
        img = photo(corners=page, seed=seed)
        if seed % 3 == 0:
            img = (img // 4 + 120).astype(np.uint8)          # low contrast
        if seed % 2:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        cases.append((img, page + rng.normal(0, 2.5, page.shape)))

    def run():
        scratch = RefineScratch(480 * 360)
        return np.array([refine_corners(img, start, passes=p, scratch=s)
                         for img, start in cases for p in (1, 2) for s in (scratch, None)])

    bands = run()
    monkeypatch.setattr(quad_refine, "_side_bands", lambda *args: None)
    whole = run()
    np.testing.assert_array_equal(bands, whole)
    assert np.abs(whole[::4] - np.array([s for _, s in cases])).max() > 0.5


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no C compiler on PATH")
def test_candidates_past_the_first_shape_checks_are_the_same(paths, monkeypatch):
    """Only when none of the best-scored few is a sane shape are the rest checked: with that
    few cut to 1 and half the frame as the smallest page, the C path's second call (its
    outputs sized for all) gives numpy's answer."""
    import dataclasses

    from test_detect_golden import edge_cases

    import docscan.detect.quad_candidates as qc
    from docscan.detect.quad import DEFAULT_PARAMS
    from docscan.detect.quad_lines import prepare

    monkeypatch.setattr(qc, "SHAPE_CHECKED", 1)
    params = dataclasses.replace(DEFAULT_PARAMS, min_area=0.5)
    cases = edge_cases()
    maps = [cases[name][:2] for name in ("clean", "noise0", "clutter1", "clutter3", "region_stack_big")]

    def run():
        out = []
        for edge, region in maps:
            prep = prepare(edge, params, region)
            c = qc.candidates(prep.lines, prep.support_map, params)
            out.append(None if c is None else (c.line_ids, c.corners, c.score))
        return out

    want, got = both(paths, run)
    assert sum(w is not None and len(w[0]) > 1 for w in want) >= 4     # the rest were checked
    for w, g in zip(want, got):
        assert (w is None) == (g is None)
        if w is not None:
            np.testing.assert_array_equal(g[0], w[0])
            np.testing.assert_allclose(g[1], w[1], rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(g[2], w[2], rtol=1e-12, atol=1e-9)
