"""docscan.detect.second_look and `docscan detect`'s looks, with the shipped model on
real photos; benchmarks/second_look.py on a few of them."""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from docscan.cli import main
from docscan.detect.detector import Detector
from docscan.detect.edge_model import model_frame
from docscan.detect.geometry import polygon_iou
from docscan.detect.image_io import load_image
from docscan.detect.second_look import CHECKS, agreement, checked_confidence, mirror_x, mirrored_maps


@pytest.fixture(scope="module")
def detector(repo):
    return Detector(str(repo / "models" / "hed_default.int8.tflite"))


@pytest.fixture(scope="module")
def looked(detector):
    return Detector(model=detector.model, second_look=True)


def test_mirror_x_is_its_own_inverse_about_pixel_centres():
    c = np.array([[0, 5], [99, 7], [40.5, 60], [10, 20]], np.float64)
    m = mirror_x(c, 100)
    assert m[:, 0].tolist() == [99, 0, 58.5, 89] and m[:, 1].tolist() == c[:, 1].tolist()
    assert np.array_equal(mirror_x(m, 100), c)


def test_the_mirrored_look_is_the_mirrored_photo_seen_and_mirrored_back(shared, detector):
    image = load_image(shared / "data" / "real-photos-dev2" / "daniiiigm__Hoja_01.jpg")
    frame = model_frame(image, detector.model.input_hw)
    edge, region = mirrored_maps(detector.model, frame)
    edge_m, region_m = detector.model.maps(np.ascontiguousarray(image[:, ::-1]))
    np.testing.assert_array_equal(edge, edge_m[:, ::-1])
    np.testing.assert_array_equal(region, region_m[:, ::-1])
    # not the first look's maps again: the model is not mirror-symmetric
    assert np.abs(edge - detector.model.frame_maps(frame)[0]).max() > 0.05


def test_a_right_detection_agrees_with_its_mirrored_look(shared, detector, looked):
    # the page is off the frame's vertical midline: the second look's quad not mirrored
    # back would sit elsewhere, so the agreement tells the two apart
    image = load_image(shared / "data" / "real-photos-dev2" / "daniiiigm__Hoja_01.jpg")
    one, two = detector.detect(image, warp=False), looked.detect(image, warp=False)
    assert one.second_look is None
    look = two.second_look
    assert look.agreement > 0.97 and look.ms > 0
    assert look.checked_confidence == pytest.approx(checked_confidence(two.confidence, look.agreement, *CHECKS[2]))
    assert polygon_iou(one.corners, two.corners) > 0.97
    frame = model_frame(image, detector.model.input_hw)
    first = detector.model.frame_maps(frame)
    second = mirrored_maps(detector.model, frame)
    assert agreement(first, second, detector.params) == pytest.approx(look.agreement)
    unmirrored = (np.ascontiguousarray(second[0][:, ::-1]), np.ascontiguousarray(second[1][:, ::-1]))
    assert agreement(first, unmirrored, detector.params) < 0.8
    # the answer is found on the two looks' maps averaged
    np.testing.assert_allclose(two.edge_map, (first[0] + second[0]) / 2, atol=1e-6)


def test_no_page_means_no_agreement(detector, looked):
    grey = np.full((480, 640, 3), 128, np.uint8)
    det = looked.detect(grey, warp=False)
    assert not det.found and det.second_look.agreement == 0.0
    assert det.second_look.checked_confidence < 0.01
    frame = model_frame(grey, detector.model.input_hw)
    blank = (np.zeros_like(frame[..., 0], np.float32), None)
    assert agreement(detector.model.frame_maps(frame), blank, detector.params) == 0.0


def test_checked_confidence_is_a_chance_that_rises_with_both_looks():
    assert 0.0 < checked_confidence(0.0, 0.0) < checked_confidence(0.0, 1.0) < checked_confidence(0.9, 1.0) < 1.0
    assert checked_confidence(0.9, 0.5) < checked_confidence(0.9, 0.99)
    assert checked_confidence(0.5, 0.9) < checked_confidence(0.95, 0.9)
    # the same pick: doubted when the mirrored look does not find it again, trusted when it does
    assert checked_confidence(0.6, 0.3) < 0.5 < checked_confidence(0.6, 0.99)
    # the weights given are the ones used: agreement alone, a step at 0.5
    assert checked_confidence(0.3, 0.6, weights=(0.0, 100.0), intercept=-50.0) > 0.99
    assert checked_confidence(0.3, 0.4, weights=(0.0, 100.0), intercept=-50.0) < 0.01


def test_detect_second_look_writes_agreement_and_checked_confidence(shared, tmp_path):
    # a shot still gets the mirrored look by default; --looks 1 is the live preview's answer
    photo = shared / "data" / "real-photos-dev2" / "daniiiigm__Hoja_01.jpg"
    plain = CliRunner().invoke(main, ["detect", "--no-scan", "--looks", "1", str(photo), "-o", str(tmp_path / "a")])
    looked = CliRunner().invoke(main, ["detect", "--no-scan", str(photo), "-o", str(tmp_path / "b")])
    assert plain.exit_code == 0 and looked.exit_code == 0, looked.output
    a = json.loads((tmp_path / "a" / "daniiiigm__Hoja_01.json").read_text())
    b = json.loads((tmp_path / "b" / "daniiiigm__Hoja_01.json").read_text())
    assert "second_look" not in a and "close_look" not in a and a["looks"] == 1
    assert b["looks"] == 4 and b["close_look"]["ms"] > 0 and "looks" in b["timings_ms"]
    # the same page, its corners now from both looks
    assert polygon_iou(np.array(a["corners"]), np.array(b["corners"])) > 0.97
    s = b["second_look"]
    assert 0.97 < s["agreement"] <= 1.0 and s["ms"] > 0
    assert s["checked_confidence"] == pytest.approx(checked_confidence(b["confidence"], s["agreement"]), abs=2e-4)


def test_second_look_benchmark_on_a_few_photos(shared, repo, tmp_path):
    spec = importlib.util.spec_from_file_location("second_look_bench", repo / "benchmarks" / "second_look.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # the check refitted on a few synthetic scenes first, then used for the real views
    report = bench.run(str(repo / "models" / "hed_default.int8.tflite"), ["real-dev"], limit=2,
                       fit=[(9500, 12)], held_out=4)
    rows = report["rows"]
    assert report["photos"] == 2 and len(rows) >= 14 and {r["view"] for r in rows} <= set(report["views"])
    fit = report["fit"]
    assert fit["streams"] == ["9500:12"] and report["check"]["weights"] == fit["weights"]
    for r in rows:
        assert r["product"] == pytest.approx(r["confidence"] * r["agreement"])
        assert r["checked_confidence"] == pytest.approx(
            checked_confidence(r["confidence"], r["agreement"], tuple(fit["weights"]), fit["intercept"]))
        assert 0.0 <= r["agreement"] <= 1.0 and 0.0 <= r["iou"] <= 1.0 and 0.0 <= r["first_iou"] <= 1.0
    acc = report["accuracy"]["pooled"]
    assert acc["n"] == len(rows)
    assert acc["one_look"]["mean_iou"] == pytest.approx(np.mean([r["first_iou"] for r in rows]))
    assert acc["still"]["mean_iou"] == pytest.approx(np.mean([r["iou"] for r in rows]))
    assert acc["gain"][1] <= acc["gain"][0] <= acc["gain"][2]
    held = fit["held_out"]["separation"]["confidence"]
    assert held["n_right"] + held["n_wrong"] == 4 == fit["held_out"]["accuracy"]["n"]
    sep = report["separation"]["pooled"]
    assert set(sep) == set(bench.SCORES) == set(report["intervals"])
    assert sep["checked_confidence"]["n_right"] == sum(r["iou"] >= 0.9 for r in rows)
    assert sep["one look: confidence"]["n_right"] == sum(r["first_iou"] >= 0.9 for r in rows)
    out = tmp_path / "s.json"
    bench.plot(report, out.with_suffix(".png"))
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for bad in (["--sets", "real-nowhere"], ["--fit", "9500"], ["--fit", "9500:0"], ["--fit", "a:3"]):
        with pytest.raises(SystemExit):
            bench.main(bad + ["-o", str(out)])
    assert not out.exists()


def test_eval_second_look_reports_checked_confidence(shared, tmp_path):
    import shutil

    src = shared / "data" / "real-photos-dev"
    labels = json.loads((src / "labels.json").read_text())
    names = sorted(labels)[:3]
    photos = tmp_path / "photos"
    photos.mkdir()
    for n in names:
        shutil.copy(src / n, photos / n)
    (photos / "labels.json").write_text(json.dumps({n: labels[n] for n in names}))
    out = tmp_path / "eval"
    res = CliRunner().invoke(main, ["eval", str(photos), str(photos / "labels.json"), "--no-overlays",
                                    "-o", str(out)])   # four looks are the default, as in detect
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert report["looks"] == 4
    for r in report["images"]:
        assert r["checked_confidence"] == pytest.approx(checked_confidence(r["confidence"], r["agreement"]))
        # the table shows each photo's checked confidence beside its confidence
        shown = rf"{r['confidence']:.2f}\s+│\s+{r['agreement']:.2f}\s+│\s+{r['checked_confidence']:.2f}\s+│"
        assert re.search(shown.replace(".", r"\."), res.output), res.output
    sep = report["summary"]["checked_confidence"]
    assert sep["n_right"] + sep["n_wrong"] == 3
    plain = CliRunner().invoke(main, ["eval", str(photos), str(photos / "labels.json"), "--no-overlays",
                                      "--looks", "1", "-o", str(tmp_path / "plain")])
    assert plain.exit_code == 0
    plain_report = json.loads((tmp_path / "plain" / "report.json").read_text())
    assert plain_report["summary"]["checked_confidence"] is None and plain_report["looks"] == 1
    refused = CliRunner().invoke(main, ["eval", str(photos), str(photos / "labels.json"), "--method", "classic",
                                        "--looks", "2", "-o", str(tmp_path / "c")])
    assert refused.exit_code != 0 and "--looks" in refused.output
    classic = CliRunner().invoke(main, ["eval", str(photos), str(photos / "labels.json"), "--method", "classic",
                                        "--no-overlays", "-o", str(tmp_path / "c")])
    assert classic.exit_code == 0
    assert json.loads((tmp_path / "c" / "report.json").read_text())["looks"] is None
