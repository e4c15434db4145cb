"""benchmarks/real_views.py: views move labels with the pixels; the comparison's interval."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

spec = importlib.util.spec_from_file_location(
    "real_views", Path(__file__).resolve().parents[1] / "benchmarks" / "real_views.py")
real_views = importlib.util.module_from_spec(spec)
spec.loader.exec_module(real_views)


def _page(h=300, w=400, corners=((120, 80), (290, 95), (280, 230), (110, 215))):
    image = np.full((h, w, 3), 40, np.uint8)
    c = np.array(corners, np.float64)
    cv2.fillPoly(image, [np.round(c).astype(np.int32)], (230, 230, 230))
    return image, c


def _drawn_quad(image):
    mask = (image[..., 0] > 135).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float64)


def test_every_view_moves_the_label_with_the_page():
    image, corners = _page()
    names = []
    for name, out, moved in real_views.views(image, corners):
        names.append(name)
        assert out.shape == image.shape and out.dtype == np.uint8, name
        drawn = _drawn_quad(out)
        hull = cv2.convexHull(drawn.astype(np.float32)).reshape(-1, 2)
        area_drawn, area_label = cv2.contourArea(hull), cv2.contourArea(moved.astype(np.float32))
        inside = np.mean([cv2.pointPolygonTest(moved.astype(np.float32), (float(x), float(y)), True) > -2.5
                          for x, y in drawn])
        assert abs(area_drawn / area_label - 1) < 0.03, name
        assert inside == 1.0, name
    assert names == list(real_views.VIEWS)      # the page is small: every view applies
    moved = dict((n, c) for n, _, c in real_views.views(image, corners))
    assert not np.allclose(moved["mirrored"], corners) and not np.allclose(moved["closer"], corners)


def test_closer_is_left_out_when_the_page_fills_the_frame():
    image, corners = _page(corners=((3, 3), (396, 3), (396, 296), (3, 296)))
    assert "closer" not in [n for n, _, _ in real_views.views(image, corners)]


def test_compare_gives_an_interval_over_photos():
    ref = {f"p{i}": [0.9, 0.95, 0.5 + i / 40] for i in range(20)}
    same = real_views.compare(ref, ref)
    assert same["mean_diff"] == 0 and same["ci95"] == [0.0, 0.0] and not same["better"] and not same["worse"]
    up = real_views.compare(ref, {k: [v + 0.05 for v in vals] for k, vals in ref.items()})
    assert up["mean_diff"] == pytest.approx(0.05) and up["ci95"][0] > 0.04 and len(up["better"]) == 20
    # one photo much better, the rest a little worse: the interval must straddle 0
    mixed = {k: [v - 0.01 for v in vals] for k, vals in ref.items()}
    mixed["p0"] = [1.0, 1.0, 1.0]
    m = real_views.compare(ref, mixed)
    assert m["ci95"][0] < 0 < m["ci95"][1] and m["better"] == ["p0"] and m["worse"] == []


def test_summary_counts_unsteady_photos_and_separation():
    ious = {"steady": [0.95, 0.96], "flips": [0.95, 0.4], "wrong": [0.3, 0.2]}
    conf = {"steady": [0.9, 0.8], "flips": [0.7, 0.1], "wrong": [0.2, 0.1]}
    s = real_views.summary(ious, conf)
    assert s["views"] == 6 and s["unsteady_photos"] == ["flips"]
    assert s["share_iou_ge_0.9"] == pytest.approx(0.5)
    assert s["confidence"]["n_wrong"] == 3 and s["confidence"]["auroc"] == pytest.approx(1.0)


def test_loss_budget_splits_the_loss_by_kind_of_photo():
    ious = {"a": [0.97, 0.95], "b": [0.85, 0.95], "c": [0.95, 0.4], "d": [0.3, 0.85], "e": [0.9, 0.9]}
    assert {n: real_views.photo_kind(v) for n, v in ious.items()} == {
        "a": "right", "b": "near miss", "c": "flips", "d": "wrong", "e": "right"}
    b = real_views.loss_budget(ious)
    assert [b[k]["photos"] for k in real_views.KINDS] == [["a", "e"], ["b"], ["c"], ["d"]]
    assert b["wrong"]["loss"] == pytest.approx((1 - 0.575) / 5)
    mean = sum(sum(v) / len(v) for v in ious.values()) / len(ious)
    assert sum(part["loss"] for part in b.values()) == pytest.approx(1 - mean)
    s = real_views.summary(ious, {n: [0.5, 0.5] for n in ious})
    assert s["loss_budget"] == b


def test_two_copies_of_the_shipped_model_agree_on_the_dev_photos(shared, repo):
    model = str(repo / "models" / "hed_default.int8.tflite")
    report = real_views.run([("a", model), ("b", model)], ["real-dev"], [("huge pages only", {"min_area": 0.9})],
                            looks=(2, 4))
    g = report["groups"]["real-dev"]
    # each model also seen two and four ways: the same for both copies, and other answers than one look's
    for looks in ("two looks", "four looks"):
        assert g[f"a, {looks}"]["views"] == g["a"]["views"]
        assert g[f"b, {looks}"]["vs_reference"] == g[f"a, {looks}"]["vs_reference"]
        assert report["per_photo"][f"a, {looks}"] != report["per_photo"]["a"]
        assert f"huge pages only, {looks}" not in g
    assert report["per_photo"]["a, four looks"] != report["per_photo"]["a, two looks"]
    # the variant runs the first model's maps through a quad finder that wants 90% of the frame
    assert g["huge pages only"]["vs_reference"]["mean_diff"] < -0.3
    assert g["a"]["views"] == g["b"]["views"] >= 25 * 7
    assert g["b"]["vs_reference"]["mean_diff"] == 0 and not g["b"]["vs_reference"]["worse"]
    assert "dev+dev2" not in report["groups"]
    assert report["by_view"]["a"]["as taken"] > 0.9     # the shipped model finds the dev pages


def test_variant_arguments_are_checked():
    assert real_views._variant_arg("strict=min_area=0.2,max_lines=10") == ("strict", {"min_area": 0.2, "max_lines": 10})
    for bad in ("min_area=0.2", "x=min_area", "x=no_such_knob=1", "x=max_lines=ten"):
        with pytest.raises(argparse.ArgumentTypeError):
            real_views._variant_arg(bad)


def test_looks_arguments_are_checked():
    assert real_views._looks_arg("4,2") == (2, 4) and real_views._looks_arg("2") == (2,)
    for bad in ("3", "2,3", "two", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            real_views._looks_arg(bad)
