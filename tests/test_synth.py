"""The synthetic document generator: deterministic, consistent labels, tf.data, sets on disk."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from docscan.cli import main
from docscan.detect.geometry import order_corners
from docscan.errors import DocscanError
from docscan.train.synth import Sample, iter_samples, make_sample, write_set


def _outline_distance(shape, corners):
    """Distance of every pixel to the closed polygon through ``corners``."""
    outline = np.full(shape, 255, np.uint8)
    cv2.polylines(outline, [np.round(corners * 16).astype(np.int32)], True, 0, 1, cv2.LINE_8, 4)
    return cv2.distanceTransform(outline, cv2.DIST_L2, 5)


def test_same_seed_same_samples_and_shapes():
    a = [s for s, _ in zip(iter_samples(11, (64, 80)), range(3))]
    b = [s for s, _ in zip(iter_samples(11, (64, 80)), range(3))]
    for x, y in zip(a, b):
        assert isinstance(x, Sample)
        assert x.image.shape == (64, 80, 3) and x.image.dtype == np.uint8
        assert x.edges.shape == (64, 80) and x.edges.dtype == np.float32
        assert x.corners.shape == (4, 2) and x.corners.dtype == np.float32
        assert 0 <= x.edges.min() and x.edges.max() <= 1
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.edges, y.edges)
        np.testing.assert_array_equal(x.corners, y.corners)
    assert not np.array_equal(a[0].image, a[1].image)
    other = make_sample(12, 0, (64, 80))
    assert not np.array_equal(other.image, a[0].image)
    # start= continues the same stream
    np.testing.assert_array_equal(next(iter_samples(11, (64, 80), start=2)).image, a[2].image)


def test_edge_map_lies_on_the_page_outline():
    size = 96
    checked = 0
    for i in range(40):
        s = make_sample(3, i, (size, size))
        on = s.edges > 0.5
        if not on.any():
            continue   # page boundary fully hidden or out of frame
        dist = _outline_distance(s.edges.shape, s.corners)
        # Curl bends the outline by at most 2 % of the canvas; the rest is line width.
        assert np.percentile(dist[on], 95) <= 0.03 * size + 1.5, i
        assert np.median(dist[on]) <= 1.5, i
        checked += 1
    assert checked >= 30


def test_corners_clockwise_from_top_left_and_page_mostly_visible():
    inside = 0
    for i in range(30):
        c = make_sample(5, i, (64, 64)).corners
        assert int(np.argmin(c.sum(axis=1))) == 0
        # clockwise on screen (y down) means a positive shoelace sum
        x, y = c[:, 0], c[:, 1]
        assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
        inside += bool(((c >= -1) & (c <= 64)).all())
    assert inside >= 15   # most pages are fully in frame, some are cut by the frame


def test_order_corners():
    c = np.array([[10, 90], [90, 90], [90, 10], [10, 10]], np.float32)   # counter-clockwise
    np.testing.assert_array_equal(order_corners(c), [[10, 10], [90, 10], [90, 90], [10, 90]])


def test_works_without_shared_data(tmp_path):
    s = make_sample(1, 0, (48, 48), shared_dir=tmp_path)   # no seed photos: procedural only
    assert s.image.shape == (48, 48, 3)


def test_too_small_size_is_a_user_error():
    with pytest.raises(DocscanError, match="too small"):
        make_sample(1, 0, (8, 8))


def test_tf_dataset_batches():
    from docscan.train.synth import make_dataset

    ds = make_dataset(2, batch_size=3, size=(32, 48))
    x, y = next(iter(ds))
    assert tuple(x.shape) == (3, 32, 48, 3) and x.dtype.name == "float32"
    assert tuple(y.shape) == (3, 32, 48, 1) and y.dtype.name == "float32"
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0
    np.testing.assert_allclose(np.asarray(x[0]), make_sample(2, 0, (32, 48)).image / 255.0, atol=1e-6)


def test_write_set_matches_labels_format(tmp_path):
    labels_path = write_set(tmp_path / "set", 3, seed=9, size=(64, 48))
    labels = json.loads(labels_path.read_text())
    assert len(labels) == 3
    for name, lab in labels.items():
        im = cv2.imread(str(tmp_path / "set" / name))
        assert im.shape == (64, 48, 3)
        assert (lab["width"], lab["height"]) == (48, 64)
        assert np.asarray(lab["corners"]).shape == (4, 2)
        assert lab["scene"] in {"single", "booklet", "open-book", "stack", "picture"}
        assert lab["page"] in {"document", "receipt", "card", "real"} and isinstance(lab["occluded"], bool)
        assert (tmp_path / "set" / "edges" / name.replace(".jpg", ".png")).is_file()
    assert not [p for p in os.listdir(tmp_path / "set") if p.endswith(".tmp")]


def test_synth_cli(tmp_path):
    result = CliRunner().invoke(main, ["synth", str(tmp_path / "out"), "-n", "2", "--size", "48x64", "--seed", "4"])
    assert result.exit_code == 0, result.output
    labels = json.loads((tmp_path / "out" / "labels.json").read_text())
    assert sorted(labels) == ["synth_4_00000.jpg", "synth_4_00001.jpg"]
    bad = CliRunner().invoke(main, ["synth", str(tmp_path / "x"), "--size", "big"])
    assert bad.exit_code == 2 and "--size" in bad.output
    bad = CliRunner().invoke(main, ["synth", str(tmp_path / "x"), "-n", "0"])
    assert bad.exit_code == 2 and "-n" in bad.output


def test_write_set_into_impossible_directory_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["synth", str(blocker / "sub"), "-n", "1"])
    assert result.exit_code == 2 and "cannot create output directory" in result.output
    assert "Traceback" not in result.output


def test_region_edges_and_corners_describe_the_same_page():
    """Whatever the scene (stacks, open books, pictures behind the page), the region, the
    edge label and the corners are one page."""
    import cv2

    from docscan.train.synth import make_sample

    for i in range(160):    # ~9 % are open books
        trace = {}
        s = make_sample(21, i, (96, 72), trace=trace)
        # the labels follow the page as drawn (curl aside)
        drawn = trace["drawn"] > 0.5
        label = s.region > 0.5
        assert (drawn & label).sum() / max(1, (drawn | label).sum()) > 0.8, i   # curl, 1-px rims
        poly = np.zeros(s.region.shape, np.uint8)
        cv2.fillPoly(poly, [np.round(s.corners * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        region = s.region > 0.5
        iou = (poly.astype(bool) & region).sum() / max(1, (poly.astype(bool) | region).sum())
        assert iou > 0.9, (i, iou)
        # every labelled edge pixel lies on the region's boundary (within 2 px)
        padded = cv2.copyMakeBorder(region.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        boundary = cv2.morphologyEx(padded, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))[1:-1, 1:-1]
        near = cv2.dilate(boundary, np.ones((5, 5), np.uint8)) > 0
        on_edge = s.edges > 0.5
        assert near[on_edge].mean() > 0.97, i


def test_open_book_labels_the_page_the_user_aims_at():
    """In an open book the labelled page is the one centred in the frame, the facing page
    beside it: a label that a detector (or a person) can infer from the picture."""
    from docscan.train.synth import make_sample

    seen, ratios = 0, []
    for i in range(400):
        trace = {}
        s = make_sample(5, i, (128, 96), trace=trace)
        assert trace["scene"] in {"single", "booklet", "open-book", "stack", "picture"}
        if trace["scene"] != "open-book":
            continue
        seen += 1
        h, w = s.image.shape[:2]
        off = np.abs(s.corners.mean(0) - [(w - 1) / 2, (h - 1) / 2]) / [w, h]
        assert (off < 0.2).all(), (i, off)
        # the facing page is there, beside the label and as large (it may run out of frame)
        page, facing = trace["drawn"] > 0.5, trace["behind"] > 0.5
        assert facing.any() and (facing & page).sum() < 0.05 * page.sum(), i
        ratios.append(facing.sum() / page.sum())
        import cv2
        assert (cv2.dilate(page.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & facing).any(), i
    assert seen >= 10 and np.median(ratios) > 0.3
