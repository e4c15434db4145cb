"""docscan.detect.close_look: the box, the cut and the pasted maps; with the shipped model on
real photos, a still seen close and a page that fills the frame left as it was."""

from __future__ import annotations

import json

import numpy as np
import pytest

from docscan.detect.close_look import MAX_SHARE, close_box, cut, pasted
from docscan.detect.detector import Detector
from docscan.detect.evaluate import load_labelled, match_labels
from docscan.detect.geometry import polygon_iou
from docscan.detect.second_look import CHECKS, checked_confidence


@pytest.fixture(scope="module")
def detector(repo):
    return Detector(str(repo / "models" / "hed_default.int8.tflite"))


def labelled(shared, folder, name):
    d = shared / "data" / folder
    items, _ = match_labels(d, d / "labels.json")
    return load_labelled(next(it for it in items if it.name == name))


def test_the_box_is_the_page_grown_by_a_quarter_each_side():
    corners = np.array([[40, 40], [80, 40], [80, 80], [40, 80]], np.float64)
    assert close_box(corners, None, (160, 160)) == (30, 30, 91, 91)
    # the region head's sure pixels widen it; its unsure ones do not
    region = np.zeros((160, 160), np.float32)
    region[40:81, 20:81] = 0.9
    region[100:120, 100:120] = 0.4
    assert close_box(corners, region, (160, 160)) == (5, 30, 96, 91)
    assert close_box(None, region, (160, 160)) == (5, 30, 96, 91)
    # clipped to the map
    assert close_box(corners - 35, None, (160, 160)) == (0, 0, 56, 56)


def test_no_box_for_nothing_a_speck_or_a_page_that_fills_the_frame():
    assert close_box(None, None, (160, 160)) is None
    assert close_box(None, np.zeros((160, 160), np.float32), (160, 160)) is None
    speck = np.array([[70, 70], [74, 70], [74, 74], [70, 74]], np.float64)
    assert close_box(speck, None, (160, 160)) is None
    big = np.array([[20, 20], [140, 20], [140, 140], [20, 140]], np.float64)
    assert close_box(big, None, (160, 160)) is None
    # just under the share is still a close look
    side = np.sqrt(MAX_SHARE) * 160 / 1.5 - 2
    fits = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float64) + 30
    box = close_box(fits, None, (160, 160))
    assert box is not None and (box[2] - box[0]) * (box[3] - box[1]) <= MAX_SHARE * 160 * 160


def test_the_cut_is_the_photo_under_the_box():
    image = np.arange(320 * 480 * 3, dtype=np.int64).reshape(320, 480, 3)
    # a 160x160 map over a 480x320 photo: 3 photo pixels a map pixel across, 2 down
    piece = cut(image, (40, 40, 80, 120), (160, 160))
    np.testing.assert_array_equal(piece, image[80:240, 120:240])


def test_pasted_maps_average_inside_the_box_only():
    edge = np.full((160, 160), 0.2, np.float32)
    region = np.full((160, 160), 0.6, np.float32)
    close_edge = np.ones((160, 160), np.float32)
    close_region = np.zeros((160, 160), np.float32)
    box = (10, 20, 90, 60)
    e, r = pasted((edge, region), (close_edge, close_region), box)
    assert e.shape == r.shape == (160, 160)
    np.testing.assert_allclose(e[20:60, 10:90], 0.6, atol=1e-6)
    np.testing.assert_allclose(r[20:60, 10:90], 0.3, atol=1e-6)
    outside = np.ones((160, 160), bool)
    outside[20:60, 10:90] = False
    assert (e[outside] == 0.2).all() and (r[outside] == 0.6).all()
    assert (edge == 0.2).all()    # the frame's maps are not written over
    # a model without a region head: the edge map alone
    e2, r2 = pasted((edge, None), (close_edge, None), box, weight=1.0)
    assert r2 is None and (e2[20:60, 10:90] == 1.0).all()


def test_a_low_contrast_page_under_a_mug_is_found_on_the_close_look(shared, detector):
    # white paper on a light grey table, a mug over its lower right corner: at the frame's
    # scale the quad takes the mug's side; cut out and stretched, the page's sides show
    image, truth = labelled(shared, "real-photos-dev2", "jcpaniaguas__unPapel__fondoParecido__IMG_7207.jpg")
    one = detector.detect(image, warp=False)
    two = Detector(model=detector.model, second_look=True).detect(image, warp=False)
    four = Detector(model=detector.model, second_look=True, close_look=True).detect(image, warp=False)
    assert polygon_iou(one.corners, truth) < 0.9 and polygon_iou(two.corners, truth) < 0.9
    assert polygon_iou(four.corners, truth) > 0.9
    box = four.close_look.box
    assert box is not None and four.close_look.ms > 0 and four.timings["looks"] > 0
    # the agreement is the frame's two looks', whatever the close look does; the check is
    # the one fitted for the four-look answer
    assert four.second_look.agreement == pytest.approx(two.second_look.agreement)
    assert four.second_look.checked_confidence == pytest.approx(
        checked_confidence(four.confidence, four.second_look.agreement, *CHECKS[4]))
    assert CHECKS[4] != CHECKS[2]


def test_a_page_that_fills_the_frame_gets_no_close_look(shared, detector):
    image, truth = labelled(shared, "real-photos-dev", "IMG_20230826_095422.jpg")
    two = Detector(model=detector.model, second_look=True).detect(image, warp=False)
    four = Detector(model=detector.model, second_look=True, close_look=True).detect(image, warp=False)
    assert four.close_look.box is None
    np.testing.assert_array_equal(four.corners, two.corners)
    np.testing.assert_array_equal(four.edge_map, two.edge_map)
    assert polygon_iou(four.corners, truth) > 0.9


def test_eval_takes_four_looks_and_says_so(shared, tmp_path):
    import shutil

    from click.testing import CliRunner

    from docscan.cli import main

    src = shared / "data" / "real-photos-dev2"
    name = "jcpaniaguas__unPapel__fondoParecido__IMG_7207.jpg"
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(src / name, photos / name)
    (photos / "labels.json").write_text(json.dumps({name: json.loads((src / "labels.json").read_text())[name]}))
    ious = {}
    for looks in ("1", "2", "4"):
        out = tmp_path / looks
        res = CliRunner().invoke(main, ["eval", str(photos), str(photos / "labels.json"), "--no-overlays",
                                        "--looks", looks, "-o", str(out)])
        assert res.exit_code == 0, res.output
        report = json.loads((out / "report.json").read_text())
        assert report["looks"] == int(looks)
        ious[looks] = report["images"][0]["iou"]
    assert ious["4"] > 0.9 > max(ious["1"], ious["2"])
