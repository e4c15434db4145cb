"""Preview frames already in memory -> page corners, as a scanner app's live view needs them.

``FrameDetector.detect(frame, fmt)`` takes RGB (H, W, 3) uint8, or NV21 / I420 (YUV420)
bytes as phone cameras deliver them (W x H luma, then the chroma planes at half size), and
returns corners in frame pixels with a confidence. Nothing frame-sized is allocated per
call: the buffers for a frame size are made on its first frame and reused.

- The model frame: RGB is reduced once by the work scale k below (an integer INTER_AREA,
  1280x720 -> 640x360), then halved while that stays at least the model size, then resized
  (INTER_AREA) into a preallocated model-size buffer: 1280x720 -> 640x360 -> 320x180 ->
  160x160. OpenCV's INTER_AREA is fastest by 2 (0.23 ms for the first step, 0.06 for the
  next, where one 1280x720 -> 160x180 step took 0.70), and the 640x360 RGB also gives the
  refinement its grey (0.07 ms, where converting the full-size frame took 0.30). For YUV
  the luma and chroma planes are resized to the model size first and converted to RGB
  there (YUV -> RGB is affine, so averaging first differs from converting first only by
  rounding), so the full-size frame is never converted at all; each plane is halved like
  RGB (NV21's interleaved VU split into two planes first: halving one plane by 2 is
  OpenCV's fastest resize, 0.03 ms for 1280x720 luma, where 1280x720 -> 160x180 took 0.37
  and the VU pairs 0.51).
- The refinement runs on grey at a reduced integer scale (the luma plane for YUV),
  shorter side >= ``REFINE_MIN_SIDE``, in preallocated buffers (``RefineScratch``); it is
  made only when a page was found (for YUV only the window it reads, ``refine_window``); one
  pass (``refine_passes``): on 8 dev photos at 720p, IoU with ``Detector.detect``'s corners
  is >= 0.994 with one pass (6.5 ms), >= 0.995 with two (18 ms), >= 0.97 with none.
- With ``smooth`` in (0, 1), corners are averaged exponentially with the previous frame's
  while the page stays put (IoU with it >= ``SMOOTH_MIN_IOU``), and follow at once when it
  moves: steadier overlays, no lag on a new page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from docscan.detect.detector import Detector
from docscan.detect.edge_model import halvings, stretch_low_contrast
from docscan.detect.geometry import order_corners, polygon_iou
from docscan.detect.quad_refine import RefineScratch, refine_corners, refine_window
from docscan.errors import DocscanError

FORMATS = ("rgb", "nv21", "i420")
REFINE_MIN_SIDE = 360     # grey the refinement runs on: 640x360 for 720p and 1080p frames
SMOOTH_MIN_IOU = 0.8


@dataclass
class FrameResult:
    corners: np.ndarray | None     # (4, 2) float32 frame pixels, clockwise from top-left
    confidence: float
    reason: str = ""
    timings: dict = field(default_factory=dict)   # ms: prepare (resize, colour), model, quad

    @property
    def found(self) -> bool:
        return self.corners is not None


class _Buffers:
    """Everything one frame size and format needs, allocated once."""

    def __init__(self, fmt: str, w: int, h: int, model_hw: tuple[int, int]):
        mh, mw = model_hw
        self.small = np.empty((mh, mw, 3), np.uint8)
        self.k = work_scale(w, h)
        self.work = np.empty((h // self.k, w // self.k), np.uint8)
        if fmt == "rgb":
            # the frame at work size, then halvings of it down to the model size
            self.work_rgb = np.empty((h // self.k, w // self.k, 3), np.uint8) if self.k > 1 else None
            self.halves = [np.empty((hh, hw, 3), np.uint8) for hh, hw in halvings((h // self.k, w // self.k), model_hw)]
        else:
            # luma and each chroma plane halved down towards the model size, as RGB is (a
            # single-plane halving is OpenCV's fastest resize; interleaved VU is not)
            self.luma_halves = [np.empty(hw_, np.uint8) for hw_ in halvings((h, w), model_hw)]
            ch, cw = h // 2, w // 2
            self.chroma_planes = [np.empty((ch, cw), np.uint8) for _ in range(2)] if fmt == "nv21" else None
            self.chroma_halves = [[np.empty(hw_, np.uint8) for hw_ in halvings((ch, cw), (mh // 2, mw // 2))]
                                  for _ in range(2)]
            self.chroma_small = [np.empty((mh // 2, mw // 2), np.uint8) for _ in range(2)]
        # the refinement window's grey at work size, before it goes into ``work`` (flat: a
        # window's shape varies from frame to frame)
        self.window = np.empty(self.work.size, np.uint8)
        self.scratch = RefineScratch(self.work.size)
        if fmt != "rgb":
            if mh % 2 or mw % 2:
                raise DocscanError(f"model input {mw}x{mh} is odd: YUV frames need an even model size")
            self.yuv = np.empty(mh * mw * 3 // 2, np.uint8)


def halve_into(src: np.ndarray, halves: list[np.ndarray], dst: np.ndarray) -> np.ndarray:
    """INTER_AREA ``src`` into ``dst`` through ``halves`` (buffers of its halvings, ``halvings``)."""
    for half in halves:
        src = cv2.resize(src, (half.shape[1], half.shape[0]), dst=half, interpolation=cv2.INTER_AREA)
    return cv2.resize(src, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=cv2.INTER_AREA)


def work_scale(w: int, h: int, min_side: int = REFINE_MIN_SIDE) -> int:
    """The largest integer k dividing both sides with min(w, h) / k >= min_side (1 if none)."""
    for k in range(max(1, min(w, h) // min_side), 1, -1):
        if w % k == 0 and h % k == 0:
            return k
    return 1


class FrameDetector:
    """A ``Detector`` for a stream of frames: ``detect(frame, fmt="rgb", size=None)``."""

    def __init__(self, detector: Detector | None = None, smooth: float = 0.0, refine_passes: int = 1,
                 **detector_kw):
        if not 0.0 <= smooth < 1.0:
            raise DocscanError(f"smooth must be in [0, 1), got {smooth}")
        self.detector = detector if detector is not None else Detector(**detector_kw)
        self.model = self.detector.model
        self.smooth = smooth
        self.refine_passes = refine_passes
        self._buffers: dict = {}
        self._previous = None

    def reset(self) -> None:
        """Forget the previous frame (a new scene: no smoothing across it)."""
        self._previous = None

    def detect(self, frame: np.ndarray, fmt: str = "rgb", size: tuple[int, int] | None = None,
               name: str = "frame") -> FrameResult:
        """Corners of one frame. ``fmt``: "rgb" (H, W, 3) uint8, or "nv21" / "i420" uint8
        of W * H * 3 / 2 bytes with ``size=(W, H)``. DocscanError naming ``name`` when the
        frame is not what ``fmt`` says."""
        t0 = time.perf_counter()
        w, h, luma, chroma = self._check(frame, fmt, size, name)
        key = (fmt, w, h)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = _Buffers(fmt, w, h, self.model.input_hw)
        small = self._model_frame(frame, fmt, luma, chroma, buf)
        t1 = time.perf_counter()
        edge, region = _frame_maps(self.model, small)
        t2 = time.perf_counter()

        def refine(c):
            if self.refine_passes == 0:
                return c
            grey = self._work_grey(frame, fmt, luma, buf, refine_window(buf.work.shape, c))
            return refine_corners(grey, c, passes=self.refine_passes, scratch=buf.scratch)

        q, corners = self.detector.locate(edge, region, buf.work.shape, refine)
        if corners is not None:
            corners = order_corners((np.asarray(corners, np.float64) + 0.5) * buf.k - 0.5)
            corners = self._smoothed(corners)
        else:
            self._previous = None
        t3 = time.perf_counter()
        timings = {"prepare": (t1 - t0) * 1e3, "model": (t2 - t1) * 1e3, "quad": (t3 - t2) * 1e3}
        return FrameResult(corners, float(q.confidence), q.reason, timings)

    def _check(self, frame, fmt, size, name):
        if fmt not in FORMATS:
            raise DocscanError(f"{name}: unknown frame format {fmt!r} (expected one of {', '.join(FORMATS)})")
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            got = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
            raise DocscanError(f"{name}: frame must be uint8, got {got}")
        if fmt == "rgb":
            if frame.ndim != 3 or frame.shape[2] != 3 or min(frame.shape[:2]) < 16:
                raise DocscanError(f"{name}: an RGB frame must be (H, W, 3) with H, W >= 16, got {frame.shape}")
            return frame.shape[1], frame.shape[0], None, None
        if size is None:
            raise DocscanError(f"{name}: a {fmt} frame needs its size (width, height)")
        w, h = (int(v) for v in size)
        if w < 16 or h < 16 or w % 2 or h % 2:
            raise DocscanError(f"{name}: a {fmt} frame needs even width and height >= 16, got {w}x{h}")
        if frame.size != w * h * 3 // 2 or not frame.flags.c_contiguous:
            raise DocscanError(f"{name}: a {w}x{h} {fmt} frame is {w * h * 3 // 2} contiguous bytes, "
                               f"got shape {frame.shape}")
        flat = frame.reshape(-1)
        luma = flat[:w * h].reshape(h, w)
        if fmt == "nv21":
            chroma = (flat[w * h:].reshape(h // 2, w // 2, 2),)
        else:
            q = (w // 2) * (h // 2)
            chroma = (flat[w * h:w * h + q].reshape(h // 2, w // 2), flat[w * h + q:].reshape(h // 2, w // 2))
        return w, h, luma, chroma

    def _model_frame(self, frame, fmt, luma, chroma, buf: _Buffers) -> np.ndarray:
        mh, mw = buf.small.shape[:2]
        if fmt == "rgb":
            src = frame
            if buf.work_rgb is not None:
                src = cv2.resize(frame, (buf.work_rgb.shape[1], buf.work_rgb.shape[0]), dst=buf.work_rgb,
                                 interpolation=cv2.INTER_AREA)
            halve_into(src, buf.halves, buf.small)
        else:
            y, q = mh * mw, (mh // 2) * (mw // 2)
            halve_into(luma, buf.luma_halves, buf.yuv[:y].reshape(mh, mw))
            if fmt == "nv21":
                planes = cv2.split(chroma[0], buf.chroma_planes)          # V, U
                smalls = buf.chroma_small
                code = cv2.COLOR_YUV2RGB_NV21
            else:
                planes = chroma                                            # U, V
                smalls = [buf.yuv[y + k * q:y + (k + 1) * q].reshape(mh // 2, mw // 2) for k in range(2)]
                code = cv2.COLOR_YUV2RGB_I420
            for plane, halves, small in zip(planes, buf.chroma_halves, smalls):
                halve_into(plane, halves, small)
            if fmt == "nv21":
                cv2.merge(smalls, buf.yuv[y:].reshape(mh // 2, mw // 2, 2))
            cv2.cvtColor(buf.yuv.reshape(mh * 3 // 2, mw), code, dst=buf.small)
        return stretch_low_contrast(buf.small)

    @staticmethod
    def _work_grey(frame, fmt, luma, buf: _Buffers, window) -> np.ndarray:
        """The work grey (the frame's grey, INTER_AREA-reduced by k) where the refinement
        reads it. RGB: the grey of the work-size RGB the model frame was made from (grey is
        per pixel, so this differs from reducing the grey only by rounding). YUV: the luma
        in the ``refine_window`` (x0, y0, x1, y1) alone is reduced (on the dev frames about
        60% of the frame), exactly what reducing the whole plane would put there."""
        k = buf.k
        if fmt == "rgb":
            return cv2.cvtColor(buf.work_rgb if k > 1 else frame, cv2.COLOR_RGB2GRAY, dst=buf.work)
        if k == 1:
            return luma
        x0, y0, x1, y1 = window
        shape = (y1 - y0, x1 - x0)
        out = buf.window[:shape[0] * shape[1]].reshape(shape)
        cv2.resize(luma[k * y0:k * y1, k * x0:k * x1], (shape[1], shape[0]), dst=out, interpolation=cv2.INTER_AREA)
        buf.work[y0:y1, x0:x1] = out
        return buf.work

    def _smoothed(self, corners: np.ndarray) -> np.ndarray:
        prev, self._previous = self._previous, corners
        if self.smooth <= 0 or prev is None or polygon_iou(prev, corners) < SMOOTH_MIN_IOU:
            return corners
        out = (self.smooth * prev.astype(np.float64) + (1 - self.smooth) * corners).astype(np.float32)
        self._previous = out
        return out


def _frame_maps(model, small: np.ndarray):
    """The model's maps of a model-size frame (any EdgeModel; others through ``maps``)."""
    frame_maps = getattr(model, "frame_maps", None)
    if frame_maps is not None:
        try:
            return frame_maps(small)
        except NotImplementedError:
            pass
    return model.maps(small)
