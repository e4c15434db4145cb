"""Camera files detected at a reduced JPEG decode (issue 16): header parsing, EXIF
orientation, the scale chosen, corners in photo pixels, the flat scan unchanged, cut-short
files named."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from detect_helpers import PAGE, photo, save_tflite  # noqa: E402

from docscan.cli import main  # noqa: E402
from docscan.detect.camera_file import load_for_detection, reduction_for  # noqa: E402
from docscan.detect.detector import Detector, warp_document  # noqa: E402
from docscan.detect.geometry import polygon_iou  # noqa: E402
from docscan.detect.image_io import load_image  # noqa: E402
from docscan.detect.jpeg import jpeg_header  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402

BIG = 4                                   # the big photo is the test photo drawn 4x larger
BIG_PAGE = PAGE * BIG


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tflite(tmp_path_factory.mktemp("m") / "sobel.tflite")


def big_photo() -> np.ndarray:
    return photo(corners=BIG_PAGE, size=(360 * BIG, 480 * BIG))     # 1440 x 1920, portrait


def save_jpeg(path, shown: np.ndarray, orientation: int = 1):
    """Store ``shown`` as a JPEG whose EXIF orientation tag turns the stored pixels back into it."""
    from PIL import Image

    t = (1, 0, 2)
    undo = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
            5: lambda a: a.transpose(t), 6: lambda a: np.rot90(a, 1), 7: lambda a: a[::-1, ::-1].transpose(t),
            8: lambda a: np.rot90(a, -1)}
    im = Image.fromarray(np.ascontiguousarray(undo[orientation](shown)))
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, quality=95, exif=exif.tobytes())
    return path


def test_header_gives_size_and_orientation(tmp_path):
    from PIL import Image, ImageOps

    shown = big_photo()[:1000, :700]
    for tag in range(1, 9):
        path = save_jpeg(tmp_path / f"o{tag}.jpg", shown, tag)
        head = jpeg_header(np.fromfile(path, np.uint8))
        assert head.orientation == tag
        assert head.shown_size == (700, 1000)
        # PIL agrees on what is shown
        assert ImageOps.exif_transpose(Image.open(path)).size == (700, 1000)
    assert jpeg_header(b"\x89PNG\r\n\x1a\n" + b"\0" * 30) is None


@pytest.mark.parametrize("tag", range(1, 9))
def test_reduced_decode_is_the_photo_as_shown(tmp_path, tag):
    shown = big_photo()
    path = save_jpeg(tmp_path / "p.jpg", shown, tag)
    cam = load_for_detection(path)
    full = load_image(path)                          # OpenCV's full decode applies the tag itself
    assert full.shape == shown.shape
    assert cam.scale == 2 and cam.full_size == (1440, 1920)
    assert cam.image.shape == (960, 720, 3)
    assert cam.image.size * 4 == full.size           # a quarter of the pixels decoded
    ref = cv2.resize(full, (720, 960), interpolation=cv2.INTER_AREA)
    assert np.abs(ref.astype(int) - cam.image).mean() < 2.0


def test_scale_choice():
    assert reduction_for((3024, 4032)) == 4          # 12 MP: 756 x 1008
    assert reduction_for((1440, 1920)) == 2
    assert reduction_for((960, 1280)) == 1           # the dev photos: decoded in full as before
    assert reduction_for((6000, 8000)) == 8


def test_camera_file_corners_in_photo_pixels_and_same_scan(model, tmp_path):
    path = save_jpeg(tmp_path / "sideways.jpg", big_photo(), 6)
    det_obj = Detector(model)
    cam, det = det_obj.detect_camera_file(path, scan=True)
    assert cam.scale == 2 and det.found, det.reason
    assert polygon_iou(det.corners, BIG_PAGE) > 0.97
    assert set(det.timings) == {"load", "model", "quad", "warp", "scan_load"}
    # the flat scan is today's warp of the fully decoded photo with these corners, to the byte
    assert np.array_equal(det.scan, warp_document(load_image(path), det.corners))
    _, old = det_obj.detect_file(path)
    assert polygon_iou(old.corners, det.corners) > 0.99
    _, no_scan = det_obj.detect_camera_file(path)
    assert no_scan.scan is None and "scan_load" not in no_scan.timings


def test_small_photo_is_decoded_in_full_as_before(model, tmp_path):
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), cv2.cvtColor(photo(), cv2.COLOR_RGB2BGR))
    d = Detector(model)
    cam, det = d.detect_camera_file(path, scan=True)
    image, old = d.detect_file(path)
    assert cam.scale == 1 and np.array_equal(cam.image, image)
    assert np.array_equal(det.corners, old.corners) and np.array_equal(det.scan, old.scan)


def test_cut_short_jpeg_is_named(tmp_path):
    path = save_jpeg(tmp_path / "whole.jpg", big_photo())
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    for load in (load_for_detection, load_image):
        with pytest.raises(DocscanError, match="cut.jpg: JPEG is cut short"):
            load(cut)
    load_for_detection(path)


def test_cli_camera_file_and_bad_ones(model, tmp_path):
    good = save_jpeg(tmp_path / "big.jpg", big_photo(), 6)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:20000])
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["detect", str(cut), str(good), "--model", str(model), "-o", str(out)])
    assert r.exit_code == 2
    last = r.output.strip().splitlines()[-1]             # the command's one-line error
    assert last.startswith("error: ") and last.endswith("cut.jpg: JPEG is cut short (no end-of-image marker)")
    assert "Traceback" not in r.output
    rec = json.loads((out / "big.json").read_text())
    assert (rec["width"], rec["height"], rec["detected_at_scale"]) == (1440, 1920, 2)
    assert polygon_iou(np.array(rec["corners"]), BIG_PAGE) > 0.97
    assert cv2.imread(str(out / "big.overlay.png")).shape[:2] == (960, 720)
    assert cv2.imread(str(out / "big.scan.png")) is not None
    r = CliRunner().invoke(main, ["detect", str(good), "--no-scan", "--model", str(model), "-o", str(out / "n")])
    assert r.exit_code == 0 and not (out / "n" / "big.scan.png").exists()
    r = CliRunner().invoke(main, ["detect", str(good), "--full-decode", "--model", str(model), "-o", str(out / "f")])
    rec = json.loads((out / "f" / "big.json").read_text())
    assert r.exit_code == 0 and rec["detected_at_scale"] == 1
    assert polygon_iou(np.array(rec["corners"]), BIG_PAGE) > 0.97
