"""Golden values: the quad finder's and the detector's exact answers, recorded before the
restructure of ``docscan/detect`` (issue 14) so that moving code cannot change them.

The maps are drawn here (``test_quad``'s rasterisers, a Sobel map of a drawn photo) and
the detector runs the fixed-weight Sobel HED of ``detect_helpers`` and, on a few real dev
photos, the training-free Canny edge model. Re-record only for a deliberate change of
behaviour: ``DOCSCAN_GOLDEN_RECORD=1 python3 -m pytest tests/test_detect_golden.py``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from detect_helpers import photo, save_keras, save_tflite  # noqa: E402
from test_quad import QUAD, S, edge_map, region_map  # noqa: E402

from docscan.detect.quad import DEFAULT_PARAMS, candidate_quads, find_quad  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "detect_golden.json"
RECORD = os.environ.get("DOCSCAN_GOLDEN_RECORD") == "1"
ATOL = 1e-3          # corners in pixels; confidences

LEFT = np.array([[40, 50], [128, 52], [128, 210], [42, 208]], np.float64)
RIGHT = np.array([[128, 52], [216, 50], [214, 208], [128, 210]], np.float64)
OFF_LEFT = np.array([[30, 50], [100, 52], [100, 210], [32, 208]], np.float64)
OFF_RIGHT = np.array([[100, 52], [226, 50], [224, 208], [100, 210]], np.float64)
BIG = np.array([[30, 30], [226, 36], [220, 230], [26, 224]], np.float64)
TOP_SHEET = np.array([[80, 70], [180, 78], [174, 190], [76, 182]], np.float64)


def sobel_map(image_rgb: np.ndarray, hw=(128, 96)) -> np.ndarray:
    """An edge map of a photo: Sobel magnitude at ``hw``, scaled to [0, 1]."""
    grey = cv2.cvtColor(cv2.resize(image_rgb, hw[::-1], interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    grey = grey.astype(np.float32) / 255.0
    mag = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    return np.clip(mag / max(float(mag.max()), 1e-6), 0, 1)


def rect_map(hw, corners, **kw) -> np.ndarray:
    """``edge_map`` on a non-square frame (drawn square, cut to ``hw``)."""
    return edge_map(corners, size=max(hw), **kw)[:hw[0], :hw[1]]


def edge_cases() -> dict:
    """name -> (edge map, region map or None, photo for refinement or None, QuadParams changes)."""
    rng = np.random.default_rng(7)
    rot = cv2.boxPoints(((128, 128), (150, 110), 40.0)).astype(np.float64)
    cut = np.array([[50, 60], [210, 60], [210, 330], [50, 330]], np.float64)
    outside = np.array([[40, 30], [300, 70], [210, 230], [30, 200]], np.float64)
    small = np.array([[50, 50], [80, 52], [79, 85], [49, 82]], np.float64) * 0.75
    spread = np.maximum(edge_map(LEFT), edge_map(RIGHT))
    off_spread = np.maximum(edge_map(OFF_LEFT), edge_map(OFF_RIGHT))
    stack = np.maximum(edge_map(BIG), edge_map(TOP_SHEET))
    picture = np.array([[60, 30], [190, 30], [190, 110], [60, 110]], np.float64)
    below = np.array([[60, 110], [190, 112], [188, 240], [62, 238]], np.float64)
    img = photo()
    corner_l = np.zeros((S, S), np.float32)      # two lines meeting, the frame closes the quad
    cv2.line(corner_l, (100, 0), (100, 255), 1.0, 3, cv2.LINE_AA)
    cv2.line(corner_l, (0, 100), (255, 100), 1.0, 3, cv2.LINE_AA)
    corner_l = cv2.GaussianBlur(corner_l, (0, 0), 1.2)
    cases = {
        "clean": (edge_map(QUAD), None, None),
        "noise0": (edge_map(QUAD, seed=0, noise=0.12, speckle=0.02), None, None),
        "noise2": (edge_map(QUAD, seed=2, noise=0.12, speckle=0.02), None, None),
        "clutter1": (edge_map(QUAD, seed=1, clutter=8, noise=0.05), None, None),
        "clutter3": (edge_map(QUAD, seed=3, clutter=14, noise=0.08), None, None),
        "hidden_corner2": (edge_map(QUAD, hide=2), None, None),
        "corner_outside": (edge_map(outside, noise=0.05), None, None),
        "cut_by_frame": (edge_map(cut), None, None),
        "rotated": (edge_map(rot, noise=0.05), None, None),
        "booklet": (spread, None, None),
        "page_below_picture": (np.maximum(edge_map(below), edge_map(picture)), None, None),
        "blank": (np.zeros((S, S), np.float32), None, None),
        "low_contrast": (rng.random((S, S)).astype(np.float32) * 0.15, None, None),
        "one_line": (cv2.line(np.zeros((S, S), np.float32), (10, 128), (245, 140), 1.0, 3), None, None),
        "small_map_96": (edge_map(small, size=96, noise=0.03), None, None),
        "wide_map": (rect_map((160, 256), QUAD * [1.0, 0.6], noise=0.04), None, None),
        "channel_dim": (edge_map(QUAD, seed=4, noise=0.05)[..., None], None, None),
        "region_clean": (edge_map(QUAD), region_map(QUAD), None),
        "region_booklet_merged": (spread, region_map(np.array([LEFT[0], RIGHT[1], RIGHT[2], LEFT[3]])), None),
        "region_booklet_off_centre": (off_spread, region_map(np.array([OFF_LEFT[0], OFF_RIGHT[1], OFF_RIGHT[2],
                                                                       OFF_LEFT[3]])), None),
        "region_stack_top": (stack, region_map(TOP_SHEET), None),
        "region_stack_big": (stack, region_map(BIG, noise=0.05), None),
        "region_only": (np.zeros((S, S), np.float32), region_map(QUAD), None),
        "region_faint_edges": (edge_map(QUAD) * 0.3 + 0.02, region_map(QUAD), None),
        "region_elsewhere": (edge_map(QUAD), region_map(np.array([[5, 5], [40, 5], [40, 40], [5, 40]])), None),
        "photo_sobel": (sobel_map(img), None, None),
        "photo_sobel_refined": (sobel_map(img), None, img),
        "frame_corner_l": (corner_l, None, None),
        "frame_corner_l_strict": (corner_l, None, None, {"min_confidence": 0.7}),
        "booklet_no_interior_penalty": (spread, None, None, {"interior_penalty": 0.0}),
        "clutter3_few_lines": (edge_map(QUAD, seed=3, clutter=14, noise=0.08), None, None, {"max_lines": 6}),
        "clutter3_no_ratio": (edge_map(QUAD, seed=3, clutter=14, noise=0.08), None, None, {"ratio_power": 0.0}),
        "region_booklet_no_defer": (spread, region_map(np.array([LEFT[0], RIGHT[1], RIGHT[2], LEFT[3]])), None,
                                    {"region_defer": 0.0}),
    }
    return {name: case if len(case) == 4 else case + ({},) for name, case in cases.items()}


CANDIDATE_CASES = ("clean", "clutter1", "clutter3", "booklet", "region_booklet_merged", "region_only",
                   "region_stack_top", "photo_sobel", "low_contrast")


def _corners(c) -> list | None:
    return None if c is None else np.asarray(c, np.float64).round(6).tolist()


def compute_quads() -> dict:
    out = {"find_quad": {}, "candidate_quads": {}}
    cases = edge_cases()
    for name, (edge, region, image, changes) in cases.items():
        r = find_quad(edge, image=image, region=region, params=dataclasses.replace(DEFAULT_PARAMS, **changes))
        out["find_quad"][name] = {"corners": _corners(r.corners), "confidence": round(float(r.confidence), 6),
                                  "reason": r.reason}
    for name in CANDIDATE_CASES:
        edge, region, _, _ = cases[name]
        c = candidate_quads(edge, region=region)
        out["candidate_quads"][name] = {"count": int(len(c)), "first": _corners(c[:6]),
                                        "mean": _corners(c.mean(axis=0)) if len(c) else None,
                                        "abs_sum": round(float(np.abs(c).sum()), 4)}
    return out


def _detection(det) -> dict:
    return {"corners": _corners(det.corners), "confidence": round(float(det.confidence), 6), "reason": det.reason}


def compute_detections(tmp: Path) -> dict:
    from docscan.detect.classic import CannyEdgeModel
    from docscan.detect.detector import Detector
    from docscan.detect.image_io import load_image
    from docscan.paths import real_photos_dir

    out = {}
    models = {"keras": save_keras(tmp / "sobel.keras"), "tflite": save_tflite(tmp / "sobel.tflite"),
              "int8": save_tflite(tmp / "sobel.int8.tflite", int8=True),
              "region_int8": save_tflite(tmp / "region.int8.tflite", int8=True, region="bright")}
    dim = (photo().astype(np.float32) * 0.2 + 100).astype(np.uint8)
    tilted = photo(corners=np.array([[90, 40], [320, 110], [260, 430], [30, 360]], np.float32), seed=3)
    for kind, path in models.items():
        det = Detector(path)
        out[f"{kind}/photo"] = _detection(det.detect(photo()))
        out[f"{kind}/tilted"] = _detection(det.detect(tilted))
        if kind in ("tflite", "int8"):
            out[f"{kind}/low_contrast"] = _detection(det.detect(dim))
            out[f"{kind}/photo_no_refine"] = _detection(Detector(path, refine=False).detect(photo()))
    dev = real_photos_dir()
    if dev is not None and Path(dev).is_dir():
        canny = Detector(model=CannyEdgeModel(256))
        for name in sorted(p.name for p in Path(dev).glob("*.jpg"))[:4]:
            out[f"canny/{name}"] = _detection(canny.detect(load_image(Path(dev) / name), warp=False))
    return out


def _compare(got, want, where=""):
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, sorted(got), sorted(want))
        for k in want:
            _compare(got[k], want[k], f"{where}/{k}")
    elif isinstance(want, list) or isinstance(want, float):
        assert got is not None, where
        np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=0, atol=ATOL,
                                   err_msg=where)
    else:
        assert got == want, (where, got, want)


def _golden(section: str, value: dict) -> dict:
    data = json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}
    if RECORD:
        data[section] = value
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    if section not in data:
        pytest.fail(f"{GOLDEN}: no golden values for {section} (record them with DOCSCAN_GOLDEN_RECORD=1)")
    return data[section]


def test_quad_finder_golden():
    got = compute_quads()
    _compare(got, _golden("quads", got))


def test_detector_golden(tmp_path):
    got = compute_detections(tmp_path)
    want = _golden("detector", got)
    if not any(k.startswith("canny/") for k in got):   # no dev photos here: pin the rest
        want = {k: v for k, v in want.items() if not k.startswith("canny/")}
    _compare(got, want)
