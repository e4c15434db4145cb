"""Quad finder on rasterised edge maps: clean, noisy, cluttered, occluded and cut by the frame."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from docscan.detect.detector import warp_document
from docscan.detect.geometry import corner_error, order_corners, polygon_iou
from docscan.detect.quad import DEFAULT_PARAMS, NO_DOCUMENT, candidate_quads, find_quad, refine_corners

S = 256
QUAD = np.array([[60, 40], [205, 58], [196, 222], [48, 203]], np.float64)


def edge_map(corners, size=S, thickness=3, blur=1.2, seed=0, noise=0.0, hide=None, clutter=0, speckle=0.0):
    """What a trained HED gives: soft, few-pixel-wide lines along the page boundary."""
    rng = np.random.default_rng(seed)
    m = np.zeros((size, size), np.float32)
    c = np.round(np.asarray(corners) * 16).astype(np.int32)
    for k in range(4):
        cv2.line(m, tuple(map(int, c[k])), tuple(map(int, c[(k + 1) % 4])), 1.0, thickness, cv2.LINE_AA, shift=4)
    if hide is not None:        # a finger over a corner: no edge evidence around it
        x, y = np.asarray(corners)[hide]
        cv2.circle(m, (int(x), int(y)), int(0.12 * size), 0.0, -1)
    for _ in range(clutter):    # weaker, shorter edges from the background
        p = rng.uniform(0, size, 2)
        q = p + rng.normal(0, 0.25 * size, 2)
        cv2.line(m, tuple(map(int, p)), tuple(map(int, q)), float(rng.uniform(0.3, 0.7)), 2)
    m = cv2.GaussianBlur(m, (0, 0), blur)
    m /= max(float(m.max()), 1e-6)
    if noise:
        m = m + rng.normal(0, noise, m.shape).astype(np.float32)
    if speckle:
        m = np.maximum(m, (rng.random(m.shape) < speckle).astype(np.float32) * rng.random(m.shape).astype(np.float32))
    return np.clip(m, 0, 1).astype(np.float32)


def check(res, truth, min_iou=0.95):
    assert res.corners is not None, res.reason
    assert res.corners.shape == (4, 2) and res.corners.dtype == np.float32
    iou = polygon_iou(res.corners, truth)
    assert iou >= min_iou, (iou, res.corners.tolist())
    assert 0.0 <= res.confidence <= 1.0
    return iou


def test_clean_map_is_exact_and_ordered():
    res = find_quad(edge_map(QUAD))
    assert check(res, QUAD) > 0.99
    # clockwise from the top-left, in edge-map pixels
    assert np.abs(res.corners - QUAD).max() < 1.5
    assert res.confidence > 0.9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise(seed):
    check(find_quad(edge_map(QUAD, seed=seed, noise=0.12, speckle=0.02)), QUAD)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clutter_lines(seed):
    check(find_quad(edge_map(QUAD, seed=seed, clutter=8, noise=0.05)), QUAD)


@pytest.mark.parametrize("corner", [0, 1, 2, 3])
def test_occluded_corner_is_recovered_from_the_lines(corner):
    res = find_quad(edge_map(QUAD, hide=corner))
    check(res, QUAD, 0.97)
    assert np.linalg.norm(res.corners[corner] - QUAD[corner]) < 3.0


def test_corner_outside_the_frame():
    quad = np.array([[40, 30], [300, 70], [210, 230], [30, 200]], np.float64)   # top-right at x=300 > 255
    res = find_quad(edge_map(quad, noise=0.05))
    check(res, quad, 0.97)
    assert res.corners[:, 0].max() > S            # the hidden corner is extrapolated, not clipped
    assert np.linalg.norm(res.corners[1] - quad[1]) < 6.0


def test_page_cut_by_the_frame_uses_the_frame_border():
    # the bottom side is entirely below the frame: the visible page ends at the frame
    quad = np.array([[50, 60], [210, 60], [210, 330], [50, 330]], np.float64)
    visible = np.array([[50, 60], [210, 60], [210, S - 1], [50, S - 1]], np.float64)
    check(find_quad(edge_map(quad)), visible, 0.95)


def test_rotated_page_and_small_page():
    rot = cv2.boxPoints(((128, 128), (150, 110), 40.0)).astype(np.float64)
    check(find_quad(edge_map(rot, noise=0.05)), rot, 0.95)
    small = np.array([[100, 100], [160, 105], [158, 170], [98, 165]], np.float64)
    check(find_quad(edge_map(small)), small, 0.93)


@pytest.mark.parametrize("blank", [np.zeros((S, S)), np.full((S, S), 0.05),
                                   np.random.default_rng(0).random((S, S)) * 0.15])
def test_blank_map_gives_no_document(blank):
    res = find_quad(blank)
    assert res.corners is None
    assert res.reason == NO_DOCUMENT


def test_a_single_line_is_not_a_document():
    m = np.zeros((S, S), np.float32)
    cv2.line(m, (10, 128), (245, 140), 1.0, 3)
    assert find_quad(m).corners is None


def test_rejects_non_2d_input():
    with pytest.raises(ValueError):
        find_quad(np.zeros((4, 4, 3)))


def test_order_corners_any_permutation():
    rng = np.random.default_rng(0)
    for _ in range(10):
        shuffled = QUAD[rng.permutation(4)]
        np.testing.assert_allclose(order_corners(shuffled), QUAD, atol=1e-4)


def test_refine_corners_snaps_to_the_page_in_the_photo():
    H, W = 960, 720
    truth = np.array([[140.3, 120.7], [600.2, 160.1], [570.6, 800.4], [110.8, 760.9]])
    img = np.full((H, W, 3), 60, np.uint8)
    cv2.fillConvexPoly(img, np.round(truth * 16).astype(np.int32), (235, 235, 230), cv2.LINE_AA, shift=4)
    rough = truth + np.array([[5, -4], [-6, 3], [4, 5], [-3, -6]])
    refined = refine_corners(img, rough)
    assert np.abs(refined - truth).max() < 1.0, refined - truth
    assert corner_error(refined, truth, np.hypot(H, W)) < corner_error(rough, truth, np.hypot(H, W)) / 5


def test_refine_keeps_a_side_without_contrast():
    H, W = 480, 360
    img = np.full((H, W, 3), 200, np.uint8)    # a page the colour of the table: nothing to snap to
    rough = np.array([[50, 40], [300, 50], [290, 420], [40, 410]], np.float64)
    np.testing.assert_allclose(refine_corners(img, rough), rough, atol=1e-3)


def test_metrics():
    assert polygon_iou(QUAD, QUAD[::-1]) == pytest.approx(1.0)
    shifted = QUAD + [200, 0]
    assert polygon_iou(QUAD, shifted) == 0.0
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float64)
    assert polygon_iou(square, square + [5, 0]) == pytest.approx(1 / 3)
    assert polygon_iou(square, square * 0.5) == pytest.approx(0.25)
    assert polygon_iou(square, [[0, 0], [10, 0], [10, 0], [0, 0]]) == 0.0     # a flat quad
    # Keras's and the .tflite's quads for the same page, 5e-7 px apart (float32 noise);
    # cv2.intersectConvexConvex made their IoU 0.60
    a = np.array([[17.7826271057, 6.6823148727], [137.2185974121, 4.1395931244],
                  [139.0074310303, 147.4627075195], [19.4202022552, 146.169052124]])
    b = a.copy()
    b[0, 1], b[1, 1] = 6.6823153496, 4.1395926476
    assert polygon_iou(a, b) == pytest.approx(1.0, abs=1e-6)
    # corner error ignores which corner is called top-left
    assert corner_error(np.roll(QUAD, 1, axis=0), QUAD, 100.0) == pytest.approx(0.0, abs=1e-6)
    assert corner_error(QUAD + [3, 4], QUAD, 100.0) == pytest.approx(0.05, abs=1e-6)


def test_warp_document_size_and_content():
    img = np.zeros((300, 400, 3), np.uint8)
    quad = np.array([[50, 40], [250, 40], [250, 140], [50, 140]], np.float32)
    img[40:141, 50:251] = 200
    flat = warp_document(img, quad)
    assert flat.shape == (100, 200, 3)   # side lengths
    assert flat.mean() > 190


def test_open_booklet_gives_one_page_not_the_spread():
    left = np.array([[40, 50], [128, 52], [128, 210], [42, 208]], np.float64)
    right = np.array([[128, 52], [216, 50], [214, 208], [128, 210]], np.float64)
    m = np.maximum(edge_map(left), edge_map(right))
    res = find_quad(m)
    assert res.corners is not None
    assert max(polygon_iou(res.corners, left), polygon_iou(res.corners, right)) > 0.95


def test_page_below_a_picture_is_not_merged_with_it():
    page = np.array([[60, 110], [190, 112], [188, 240], [62, 238]], np.float64)
    picture = np.array([[60, 30], [190, 30], [190, 110], [60, 110]], np.float64)   # shares the page's top edge
    res = find_quad(np.maximum(edge_map(page), edge_map(picture)))
    check(res, page, 0.95)


# ---------------------------------------------------------------------------------------
# With a page-region map (an HED with the region head)

def region_map(corners, size=S, blur=4.0, seed=0, noise=0.0):
    """What a region head gives: a soft, slightly blurred filled page."""
    m = np.zeros((size, size), np.float32)
    cv2.fillPoly(m, [np.round(np.asarray(corners) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
    m = cv2.GaussianBlur(m, (0, 0), blur)
    if noise:
        m = m + np.random.default_rng(seed).normal(0, noise, m.shape).astype(np.float32)
    return np.clip(m, 0, 1).astype(np.float32)


def test_region_picks_the_booklet_page_it_covers():
    left = np.array([[40, 50], [128, 52], [128, 210], [42, 208]], np.float64)
    right = np.array([[128, 52], [216, 50], [214, 208], [128, 210]], np.float64)
    m = np.maximum(edge_map(left), edge_map(right))
    for page in (left, right):
        check(find_quad(m, region=region_map(page, noise=0.05)), page, 0.95)


def _with_line_across(m, page, value):
    a, b = (page[0] + page[3]) / 2, (page[1] + page[2]) / 2
    cv2.line(m, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), value, 3, cv2.LINE_AA)
    return m


def test_region_without_deferral_keeps_a_folded_page_whole():
    # a sharp fold line across the page: the edges alone take half the page; the region
    # keeps it whole once it is trusted over such lines (region_defer=0, see the next test)
    page = QUAD
    m = _with_line_across(edge_map(page), page, 1.0)
    alone = find_quad(m)
    assert alone.corners is not None and polygon_iou(alone.corners, page) < 0.7
    trusting = dataclasses.replace(DEFAULT_PARAMS, region_defer=0.0)
    check(find_quad(m, region=region_map(page), params=trusting), page, 0.97)


def test_a_strong_line_across_the_region_hands_the_choice_to_the_edges():
    # an open book whose whole spread the region map covers: the gutter is as sharp as the
    # page sides, so the edge finder's split (one page) wins over the region's spread (the
    # book is photographed for its left page: the gutter runs off the frame centre)
    left = np.array([[40, 50], [128, 52], [128, 210], [42, 208]], np.float64) + [30, 0]
    right = np.array([[128, 52], [216, 50], [214, 208], [128, 210]], np.float64) + [30, 0]
    spread = np.array([left[0], right[1], right[2], left[3]])
    m = np.maximum(edge_map(left), edge_map(right))
    res = find_quad(m, region=region_map(spread))
    assert res.corners is not None
    assert max(polygon_iou(res.corners, left), polygon_iou(res.corners, right)) > 0.95
    no_defer = dataclasses.replace(DEFAULT_PARAMS, region_defer=0.0)
    check(find_quad(m, region=region_map(spread), params=no_defer), spread, 0.95)


@pytest.mark.parametrize("hidden", [2, 3])
def test_after_deferring_the_region_still_picks_which_part(hidden):
    # a page held against a wall under a plaque (real-photos-dev IMG_20230826_094550):
    # the region merges both, the shared line hands the choice to the edges, and the edges
    # alone prefer the plaque, edged all round, to the page with a hand over a corner. The
    # parts the line separates are still ranked by how much of the region each covers.
    plaque = np.array([[50, 20], [200, 22], [200, 72], [50, 70]], np.float64)
    page = np.array([[50, 70], [200, 72], [196, 240], [54, 238]], np.float64)
    m = np.maximum(edge_map(plaque), edge_map(page, hide=hidden))
    region = region_map(np.array([plaque[0], plaque[1], page[2], page[3]]))
    check(find_quad(m, region=region), page, 0.97)
    edges_alone = dataclasses.replace(DEFAULT_PARAMS, region_defer_power=0.0)
    check(find_quad(m, region=region, params=edges_alone), plaque, 0.97)


def test_a_fold_through_the_frame_centre_keeps_the_page_whole():
    # people centre what they photograph: a sheet folded down its middle, centred, has its
    # fold through the frame centre and stays whole; a book photographed for its left page
    # has that page centred and the gutter off centre, and is split
    page = np.array([[40, 50], [216, 50], [214, 208], [42, 208]], np.float64)
    left, right = page.copy(), page.copy()
    left[1:3, 0], right[[0, 3], 0] = 128, 128
    m = np.maximum(edge_map(left), edge_map(right))
    check(find_quad(m, region=region_map(page)), page, 0.95)
    centred_any = dataclasses.replace(DEFAULT_PARAMS, region_defer_aim=0.0)
    res = find_quad(m, region=region_map(page), params=centred_any)
    assert max(polygon_iou(res.corners, left), polygon_iou(res.corners, right)) > 0.95
    shift = np.array([60.0, 0.0])          # the left page centred: the gutter at x = 188
    m = np.maximum(edge_map(left + shift), edge_map(right + shift))
    res = find_quad(m, region=region_map(page + shift))
    check(res, left + shift, 0.9)


def test_region_picks_the_top_sheet_of_a_stack():
    top = np.array([[70, 60], [200, 70], [190, 230], [60, 220]], np.float64)
    below = top + np.array([30.0, -25.0])
    m = np.maximum(edge_map(top), edge_map(below))
    visible = region_map(top)
    check(find_quad(m, region=visible), top, 0.95)
    check(find_quad(m, region=region_map(below)), below, 0.95)


def test_region_supplies_a_side_the_edge_map_misses():
    m = edge_map(QUAD)
    # erase the right side completely (low contrast against the background)
    cv2.line(m, (205, 58), (196, 222), 0.0, 9)
    alone = find_quad(m)
    with_region = find_quad(m, region=region_map(QUAD))
    iou_alone = polygon_iou(alone.corners, QUAD) if alone.corners is not None else 0.0
    assert check(with_region, QUAD, 0.95) > iou_alone


def test_region_alone_finds_a_page_without_edges():
    res = find_quad(np.zeros((S, S), np.float32), region=region_map(QUAD))
    check(res, QUAD, 0.93)
    # ... but a page no edge confirms is reported as less sure than one edged all round
    edged = find_quad(edge_map(QUAD), region=region_map(QUAD))
    assert res.confidence < edged.confidence


def test_empty_region_and_no_edges_is_no_document():
    res = find_quad(np.zeros((S, S), np.float32), region=np.zeros((S, S), np.float32))
    assert res.corners is None and res.reason == NO_DOCUMENT


def test_region_shape_must_match():
    with pytest.raises(ValueError, match="region map"):
        find_quad(edge_map(QUAD), region=np.zeros((S // 2, S), np.float32))


def test_a_region_that_fits_no_candidate_leaves_the_choice_to_the_edges():
    # a close-up where the region head sees only scraps: no candidate quad covers them
    m = edge_map(QUAD, clutter=6, seed=3)
    scraps = np.zeros((S, S), np.float32)
    cv2.circle(scraps, (30, 230), 18, 1.0, -1)
    cv2.circle(scraps, (230, 20), 12, 1.0, -1)
    # (the choice is what is tested: these drawn maps give the pick a chance below the
    # min_chance floor, which real close-ups, at 0.03 and up, stay above)
    no_floor = dataclasses.replace(DEFAULT_PARAMS, min_chance=0.0)
    alone = find_quad(m)
    res = find_quad(m, region=scraps, params=no_floor)
    assert res.corners is not None and np.allclose(res.corners, alone.corners)
    check(res, QUAD)
    trusting = dataclasses.replace(no_floor, region_trust=0.0)
    misled = find_quad(m, region=scraps, params=trusting)
    assert misled.corners is None or polygon_iou(misled.corners, QUAD) < 0.9


def test_candidate_quads_are_what_find_quad_picks_from():
    # Two pages of a booklet: both pages and the spread are among the candidates, best
    # edge score first, and find_quad's answer is one of them (before refinement).
    left = np.array([[40, 50], [128, 52], [128, 210], [42, 208]], np.float64)
    right = np.array([[128, 52], [216, 50], [214, 208], [128, 210]], np.float64)
    spread = np.array([[40, 50], [216, 50], [214, 208], [42, 208]], np.float64)
    m = np.maximum(edge_map(left), edge_map(right))
    quads = candidate_quads(m)
    assert quads.ndim == 3 and quads.shape[1:] == (4, 2) and len(quads) >= 3
    for page in (left, right, spread):
        assert max(polygon_iou(q, page) for q in quads) > 0.97
    picked = find_quad(m).corners
    assert max(polygon_iou(q, picked) for q in quads) > 0.97


def test_candidate_quads_of_a_blank_map_are_none():
    assert candidate_quads(np.zeros((S, S), np.float32)).shape == (0, 4, 2)
