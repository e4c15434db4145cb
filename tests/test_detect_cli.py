"""`docscan detect` and the Detector library on a tiny fixed-weight HED-convention CNN."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from detect_helpers import PAGE, photo, save_keras, save_tflite, write_photo  # noqa: E402

from docscan.cli import main  # noqa: E402
from docscan.detect.detector import Detector  # noqa: E402
from docscan.detect.geometry import polygon_iou  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {
        "keras": save_keras(d / "sobel.keras"),
        "tflite": save_tflite(d / "sobel.tflite"),
        "int8": save_tflite(d / "sobel.int8.tflite", int8=True),
    }


@pytest.mark.parametrize("kind", ["keras", "tflite", "int8"])
def test_detector_finds_the_page(models, kind):
    det = Detector(models[kind]).detect(photo())
    assert det.found, det.reason
    assert polygon_iou(det.corners, PAGE) > 0.97
    assert det.edge_map.shape == (64, 64) and 0 <= det.edge_map.min() and det.edge_map.max() <= 1
    assert set(det.timings) == {"model", "quad", "warp"}
    assert det.scan is not None and det.scan.shape[0] > det.scan.shape[1]   # portrait page


def test_photo_stored_sideways_is_read_the_way_it_is_shown(models, tmp_path):
    # Phones store a portrait shot as landscape pixels plus an EXIF orientation tag, and
    # labels are drawn on the photo as shown: corners must come back in that frame.
    from PIL import Image

    upright = photo()
    stored = np.ascontiguousarray(np.rot90(upright, 1))      # tag 6 = turn 90 degrees clockwise to show
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    im.save(path, quality=95, exif=exif.tobytes())
    image, det = Detector(models["tflite"]).detect_file(path)
    assert image.shape == upright.shape
    assert det.found, det.reason
    assert polygon_iou(det.corners, PAGE) > 0.97


def test_detector_reports_no_document(models):
    flat = np.full((300, 400, 3), 128, np.uint8)
    det = Detector(models["tflite"]).detect(flat)
    assert not det.found and det.reason == "no document found" and det.scan is None


def test_cli_writes_json_overlay_and_scan(models, tmp_path):
    a = write_photo(tmp_path / "a.png")
    b = write_photo(tmp_path / "b.jpg", seed=1)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["detect", str(a), str(b), "--model", str(models["int8"]), "-o", str(out)])
    assert r.exit_code == 0, r.output
    for stem in ("a", "b"):
        rec = json.loads((out / f"{stem}.json").read_text())
        assert rec["found"] and len(rec["corners"]) == 4
        assert polygon_iou(np.array(rec["corners"]), PAGE) > 0.97
        assert set(rec["timings_ms"]) == {"load", "model", "looks", "quad", "warp"}   # four looks: a still
        overlay = cv2.imread(str(out / f"{stem}.overlay.png"))
        assert overlay.shape[:2] == (480, 360)
        assert cv2.imread(str(out / f"{stem}.scan.png")) is not None
    assert "model" in r.output and "quad" in r.output


def test_cli_bad_file_is_named_and_others_still_written(models, tmp_path):
    good = write_photo(tmp_path / "good.png")
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a JPEG")
    missing = tmp_path / "missing.png"
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["detect", str(bad), str(good), str(missing), "--model", str(models["tflite"]),
                                  "-o", str(out)])
    assert r.exit_code == 2
    assert "notes.jpg: not a readable image" in r.output and "missing.png: no such file" in r.output
    assert "Traceback" not in r.output
    assert (out / "good.json").is_file() and (out / "good.scan.png").is_file()
    assert not (out / "notes.json").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_cli_model_with_wrong_input_shape(tmp_path):
    import keras

    inp = keras.Input((64, 64, 1))                       # grey input: not an RGB edge model
    m = keras.Model(inp, keras.layers.Conv2D(1, 1)(inp))
    path = tmp_path / "grey.keras"
    m.save(path)
    img = write_photo(tmp_path / "a.png")
    r = CliRunner().invoke(main, ["detect", str(img), "--model", str(path), "-o", str(tmp_path / "out")])
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and "grey.keras" in r.output and "input shape" in r.output
    assert not (tmp_path / "out").exists()


def test_cli_model_file_problems(tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 64)
    img = write_photo(tmp_path / "a.png")
    for model, msg in ((junk, "junk.tflite: not a loadable .tflite model"),
                       (tmp_path / "nope.tflite", "nope.tflite: model file not found"),
                       (img, "unknown model format")):
        r = CliRunner().invoke(main, ["detect", str(img), "--model", str(model), "-o", str(tmp_path / "o")])
        assert r.exit_code == 2 and msg in r.output, r.output


def test_default_model_missing_is_a_clear_error(monkeypatch, tmp_path):
    import docscan.detect.edge_model as pipeline

    monkeypatch.setattr(pipeline, "MODELS_DIR", tmp_path)
    with pytest.raises(DocscanError, match="no shipped model"):
        pipeline.default_model_path()


@pytest.fixture(scope="module")
def region_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("region_models")
    return {
        "keras": save_keras(d / "sobel_region.keras", region="bright"),
        "tflite": save_tflite(d / "sobel_region.tflite", region="bright"),
        "int8": save_tflite(d / "sobel_region.int8.tflite", int8=True, region="bright"),
    }


@pytest.mark.parametrize("kind", ["keras", "tflite", "int8"])
def test_region_output_is_found_and_read(region_models, kind):
    """A 7-output HED: the region output is found by name (Keras) or position (.tflite,
    whose outputs are Identity..Identity_6), read through its own int8 table, and used."""
    det = Detector(region_models[kind])
    assert det.model.has_region
    image = photo()
    edge, region = det.model.maps(image)
    assert edge.shape == region.shape == det.model.input_hw
    # the page is inside, the table outside (PAGE is in photo pixels; the map is 64x64)
    h, w = region.shape
    cx, cy = PAGE.mean(axis=0) * np.array([w / 360, h / 480])
    assert region[int(cy), int(cx)] > 0.9 and region[2, 2] < 0.1 and region[-3, -3] < 0.1
    reference = Detector(region_models["keras"]).model.maps(image)[1]
    assert np.abs(region - reference).max() < (0.06 if kind == "int8" else 1e-4)
    d = det.detect(image)
    assert d.region_map is not None and polygon_iou(d.corners, PAGE) > 0.97


def test_region_output_of_the_wrong_shape_is_a_clear_error(tmp_path):
    path = save_tflite(tmp_path / "bad_region.tflite", region="pooled")
    with pytest.raises(DocscanError, match="bad_region.tflite: region output shape"):
        Detector(path)
    kpath = save_keras(tmp_path / "bad_region.keras", region="pooled")
    with pytest.raises(DocscanError, match="bad_region.keras: region output shape"):
        Detector(kpath)


def test_model_frame_stretches_only_low_contrast_frames():
    from docscan.detect.edge_model import LOW_CONTRAST_SPAN, model_frame, resize_for_model

    ramp = np.tile(np.linspace(0, 255, 200)[None, :, None], (100, 1, 3)).astype(np.uint8)
    as_is = resize_for_model(ramp, (32, 64))
    # (halved to 100x50 first: the same picture as one INTER_AREA resize, up to rounding)
    one_step = cv2.resize(ramp, (64, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(as_is.astype(int) - one_step).max() <= 1
    assert np.array_equal(model_frame(ramp, (32, 64)), as_is)          # full range: untouched
    grey = (ramp * 0.3 + 90).astype(np.uint8)                          # span ~76 < LOW_CONTRAST_SPAN
    assert np.ptp(grey) < LOW_CONTRAST_SPAN
    seen = model_frame(grey, (32, 64))
    assert seen.shape == (32, 64, 3) and seen.dtype == np.uint8
    assert np.percentile(seen, 1) <= 5 and np.percentile(seen, 99) >= 250
    assert np.abs(seen.astype(int) - as_is).max() <= 8                 # the same picture again


@pytest.mark.parametrize("kind", ["keras", "tflite", "int8"])
def test_detector_sees_a_low_contrast_photo_stretched(models, kind):
    dim = (photo().astype(np.float32) * 0.2 + 100).astype(np.uint8)    # haze: a fifth of the contrast
    det = Detector(models[kind]).detect(dim)
    assert det.found, det.reason
    assert polygon_iou(det.corners, PAGE) > 0.97
