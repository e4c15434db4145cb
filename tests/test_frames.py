"""Preview frames in memory (issue 16): RGB, NV21 and I420 give the page, nothing
frame-sized is allocated per call, smoothing, bad frames named; `docscan frames`."""

from __future__ import annotations

import json
import os
import tracemalloc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from detect_helpers import PAGE, photo, save_tflite  # noqa: E402

from docscan.cli import main  # noqa: E402
from docscan.detect.detector import Detector  # noqa: E402
from docscan.detect.frames import FrameDetector, work_scale  # noqa: E402
from docscan.detect.geometry import polygon_iou  # noqa: E402
from docscan.errors import DocscanError  # noqa: E402


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    return Detector(save_tflite(tmp_path_factory.mktemp("m") / "sobel.tflite"))


def frame(scale: int = 2, seed: int = 0) -> np.ndarray:
    return photo(corners=PAGE * scale, size=(360 * scale, 480 * scale), seed=seed)


def to_yuv(rgb: np.ndarray, fmt: str) -> np.ndarray:
    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)
    if fmt == "i420":
        return i420
    h, w = rgb.shape[:2]
    y, q = w * h, (w // 2) * (h // 2)
    vu = np.empty(2 * q, np.uint8)
    vu[0::2], vu[1::2] = i420[y + q:], i420[y:y + q]
    return np.concatenate([i420[:y], vu])


@pytest.mark.parametrize("fmt", ["rgb", "nv21", "i420"])
def test_frame_formats_find_the_page(detector, fmt):
    rgb = frame()
    h, w = rgb.shape[:2]
    r = FrameDetector(detector).detect(rgb if fmt == "rgb" else to_yuv(rgb, fmt), fmt, size=(w, h))
    assert r.found, r.reason
    assert polygon_iou(r.corners, PAGE * 2) > 0.97
    assert polygon_iou(r.corners, detector.detect(rgb, warp=False).corners) > 0.98
    assert set(r.timings) == {"prepare", "model", "quad"}


def _peak_bytes(fd: FrameDetector, f: np.ndarray, fmt: str, size) -> int:
    fd.detect(f, fmt, size)              # first frame of this size: buffers made here
    tracemalloc.start()
    try:
        for _ in range(2):
            fd.detect(f, fmt, size)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["rgb", "nv21"])
def test_no_frame_sized_allocation_per_call(detector, fmt):
    """What one call allocates does not grow with the frame: a 16x larger frame costs the
    same few model-sized arrays."""
    peaks = {}
    for scale in (1, 4):
        f = frame(scale)
        h, w = f.shape[:2]
        peaks[scale] = _peak_bytes(FrameDetector(detector), f if fmt == "rgb" else to_yuv(f, fmt), fmt, (w, h))
    big_frame_bytes = 360 * 4 * 480 * 4                      # one grey plane of the big frame
    assert peaks[4] < big_frame_bytes / 4, peaks
    assert peaks[4] - peaks[1] < 64 * 1024, peaks


def test_buffers_are_reused_across_calls(detector):
    fd = FrameDetector(detector)
    f = frame()
    fd.detect(f)
    bufs = dict(fd._buffers)
    fd.detect(frame(seed=1))
    assert fd._buffers.keys() == bufs.keys() and all(fd._buffers[k] is bufs[k] for k in bufs)


def test_smoothing_steadies_a_still_page_and_follows_a_new_one(detector):
    fd = FrameDetector(detector, smooth=0.6)
    a = fd.detect(frame(seed=0)).corners
    b = fd.detect(frame(seed=1)).corners
    raw = FrameDetector(detector).detect(frame(seed=1)).corners
    np.testing.assert_allclose(b, 0.6 * a + 0.4 * raw, atol=1e-3)
    moved = PAGE * 2 + np.array([120, 0], np.float32)
    m = fd.detect(photo(corners=moved, size=(720, 960))).corners       # a new page: no lag
    assert polygon_iou(m, moved) > 0.97


def test_bad_frames_are_named(detector):
    fd = FrameDetector(detector)
    with pytest.raises(DocscanError, match="cam0: frame must be uint8, got float32"):
        fd.detect(frame().astype(np.float32), name="cam0")
    with pytest.raises(DocscanError, match=r"cam0: an RGB frame must be \(H, W, 3\)"):
        fd.detect(frame()[..., 0], name="cam0")
    with pytest.raises(DocscanError, match="cam0: a 720x960 nv21 frame is 1036800 contiguous bytes"):
        fd.detect(np.zeros(1000, np.uint8), "nv21", (720, 960), name="cam0")
    with pytest.raises(DocscanError, match="needs even width and height"):
        fd.detect(np.zeros(1000, np.uint8), "i420", (721, 960), name="cam0")


def test_work_scale():
    assert work_scale(1280, 720) == 2 and work_scale(1920, 1080) == 3 and work_scale(640, 480) == 1


def test_cli_frames_video_folder_and_bad_inputs(detector, tmp_path):
    video = tmp_path / "clip.avi"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (720, 960))
    for k in range(4):
        vw.write(cv2.cvtColor(frame(seed=k), cv2.COLOR_RGB2BGR))
    vw.release()
    folder = tmp_path / "shots"
    folder.mkdir()
    for k in range(2):
        cv2.imwrite(str(folder / f"{k}.png"), cv2.cvtColor(frame(seed=k), cv2.COLOR_RGB2BGR))
    (folder / "2.jpg").write_bytes(b"\xff\xd8\xff\xe0junk")
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["frames", str(video), str(empty), str(folder), "--model", str(detector.model.path),
                                  "-o", str(out)])
    assert r.exit_code == 2, r.output
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("error: 2 inputs failed") and "empty.avi: no frames" in last and "2.jpg" in last
    assert "Traceback" not in r.output
    rec = json.loads((out / "clip.frames.json").read_text())
    assert len(rec["frames"]) == 4 and rec["found"] == 4
    assert all(polygon_iou(np.array(f["corners"]), PAGE * 2) > 0.95 for f in rec["frames"])
    shots = json.loads((out / "shots.frames.json").read_text())
    assert [f["frame"] for f in shots["frames"]] == ["0.png", "1.png", "2.jpg"] and shots["found"] == 2
    assert "error" in shots["frames"][2]
    assert not (out / "empty.frames.json").exists()
