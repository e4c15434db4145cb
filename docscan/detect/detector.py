"""Photo -> edge model -> page corners -> flat scan, with per-stage timings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from docscan.detect import close_look as closer
from docscan.detect import second_look as looks
from docscan.detect.camera_file import DETECT_MIN_SIDE, CameraImage, load_for_detection
from docscan.detect.edge_model import EdgeModel, load_edge_model, model_frame
from docscan.detect.geometry import order_corners, to_full_resolution
from docscan.detect.image_io import load_image
from docscan.detect.quad import DEFAULT_PARAMS, QuadParams, QuadResult, find_quad, refine_corners
from docscan.errors import DocscanError

REFINE_MIN_SCALE = 2.0   # photo / edge-map size from which sub-pixel refinement on the photo pays


@dataclass
class Detection:
    corners: np.ndarray | None            # (4, 2) float32 full-image pixels, clockwise from top-left
    confidence: float
    edge_map: np.ndarray | None           # (h, w) float32 edge probability at model resolution
    timings: dict = field(default_factory=dict)   # ms per stage: load, model, (looks,) quad, warp
    reason: str = ""
    scan: np.ndarray | None = None        # perspective-corrected page, RGB
    region_map: np.ndarray | None = None  # (h, w) page-region probability (region-head models)
    features: dict | None = None          # what the confidence was computed from (region-head models)
    second_look: looks.SecondLook | None = None   # with Detector(second_look=True)
    close_look: closer.CloseLook | None = None    # with Detector(close_look=True)

    @property
    def found(self) -> bool:
        return self.corners is not None


class Detector:
    """Edge model + quad finder. ``detect(image_rgb)`` or ``detect_file(path)``.

    With ``second_look``, every frame is also seen mirrored: the answer comes from both
    looks' maps averaged, and ``Detection.second_look`` holds the looks' agreement and the
    checked confidence (``docscan.detect.second_look``); one more model run per frame.
    With ``close_look``, the part of the photo around the page is cut out and seen again
    (mirrored too, with ``second_look``), its maps pasted over the frame's
    (``docscan.detect.close_look``); one or two more model runs and a quad search."""

    def __init__(self, model_path=None, num_threads: int = 1, params: QuadParams = DEFAULT_PARAMS,
                 refine: bool = True, model: EdgeModel | None = None, use_region: bool = True,
                 second_look: bool = False, close_look: bool = False):
        self.model = model if model is not None else load_edge_model(model_path, num_threads)
        self.params = params
        self.refine = refine
        self.use_region = use_region
        self.second_look = second_look
        self.close_look = close_look

    def detect(self, image_rgb: np.ndarray, warp: bool = True) -> Detection:
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise DocscanError(f"image must be RGB (H, W, 3), got shape {image_rgb.shape}")
        timings = {}
        t0 = time.perf_counter()
        # with a second look, the model frame is kept to be mirrored
        frame = model_frame(image_rgb, self.model.input_hw) if self.second_look else None
        edge, region = self.model.maps(image_rgb) if frame is None else self.model.frame_maps(frame)
        t1 = time.perf_counter()
        timings["model"] = (t1 - t0) * 1e3
        agreement = None
        if frame is not None:
            edge, region, agreement = self._look_again(frame, edge, region)
        t_close = time.perf_counter()
        close = found = None
        if self.close_look:
            edge, region, box, found = self._look_closer(image_rgb, edge, region)
            close = closer.CloseLook(box, (time.perf_counter() - t_close) * 1e3)
        t2 = time.perf_counter()
        if self.second_look or self.close_look:
            timings["looks"] = (t2 - t1) * 1e3   # the mirrored and close looks' model runs and searches
        q, corners = self.locate(edge, region, image_rgb.shape[:2],
                                 lambda c: order_corners(refine_corners(image_rgb, c)), found)
        t3 = time.perf_counter()
        timings["quad"] = (t3 - t2) * 1e3
        scan = warp_document(image_rgb, corners) if (warp and corners is not None) else None
        timings["warp"] = (time.perf_counter() - t3) * 1e3
        look = None
        if agreement is not None:
            weights, intercept = looks.CHECKS[4 if self.close_look else 2]
            look = looks.SecondLook(agreement, looks.checked_confidence(q.confidence, agreement, weights, intercept),
                                    (t_close - t1) * 1e3)
        return Detection(corners, q.confidence, edge, timings, q.reason, scan, region, q.features, look, close)

    def _look_again(self, frame: np.ndarray, edge: np.ndarray, region: np.ndarray | None):
        """The mirrored look at the model ``frame``: both looks' maps averaged, and the looks'
        agreement."""
        edge2, region2 = looks.mirrored_maps(self.model, frame)
        agreement = looks.agreement((edge, region if self.use_region else None),
                                    (edge2, region2 if self.use_region else None), self.params)
        return (*looks.averaged((edge, region), (edge2, region2)), agreement)

    def _look_closer(self, image_rgb: np.ndarray, edge: np.ndarray, region: np.ndarray | None):
        """The close look around where ``edge`` and ``region`` put the page: the maps pasted
        with it, its box (map pixels) and None; or, when the page already fills the frame or
        there is none, the maps as they were, None and the quad finder's result on them (the
        answer's search, done)."""
        used = region if self.use_region else None
        q = find_quad(edge, params=self.params, region=used)
        box = closer.close_box(q.corners, used, edge.shape)
        if box is None:
            return edge, region, None, q
        frame = model_frame(closer.cut(image_rgb, box, edge.shape), self.model.input_hw)
        maps = self.model.frame_maps(frame)
        if self.second_look:
            maps = looks.averaged(maps, looks.mirrored_maps(self.model, frame))
        return (*closer.pasted((edge, region), maps, box), box, None)

    def locate(self, edge: np.ndarray, region: np.ndarray | None, image_hw: tuple[int, int],
               refine: Callable[[np.ndarray], np.ndarray],
               found: QuadResult | None = None) -> tuple[QuadResult, np.ndarray | None]:
        """The model's maps -> the quad finder's result (``found``, when it was already
        searched on these maps) and its corners in pixels of an image of ``image_hw`` (None
        when no page), passed through ``refine`` (corners -> corners on that image) when it
        is large enough to add detail: the edge-map fit lacks only what a much larger image
        resolves."""
        q = found if found is not None else find_quad(edge, params=self.params,
                                                      region=region if self.use_region else None)
        if q.corners is None:
            return q, None
        corners = to_full_resolution(q.corners, edge.shape, image_hw)
        ratio = max(image_hw[0] / edge.shape[0], image_hw[1] / edge.shape[1])
        if self.refine and ratio >= REFINE_MIN_SCALE:
            corners = refine(corners)
        return q, corners

    def detect_file(self, path, warp: bool = True) -> tuple[np.ndarray, Detection]:
        """Today's way with a file: decoded in full, detected on every pixel (``docscan
        detect --full-decode``). ``detect_camera_file`` finds the same corners several times
        faster."""
        t0 = time.perf_counter()
        image = load_image(path)
        load_ms = (time.perf_counter() - t0) * 1e3
        det = self.detect(image, warp=warp)
        det.timings = {"load": load_ms, **det.timings}
        return image, det

    def detect_camera_file(self, path, scan: bool = False,
                           min_side: int = DETECT_MIN_SIDE) -> tuple[CameraImage, Detection]:
        """Photo file -> corners without touching every photo pixel: JPEG decoded at 1/2,
        1/4 or 1/8 scale (shorter side >= ``min_side``, EXIF orientation applied), the
        model, quad finder and refinement run on that; corners come back in photo pixels.
        With ``scan``, the photo is then decoded in full for the flat scan (the same scan
        ``detect_file`` gives for the same corners); timings add ``scan_load``."""
        t0 = time.perf_counter()
        cam = load_for_detection(path, min_side)
        load_ms = (time.perf_counter() - t0) * 1e3
        det = self.detect(cam.image, warp=scan and cam.scale == 1)
        det.timings = {"load": load_ms, **det.timings}
        det.corners = cam.to_photo(det.corners)
        if scan and cam.scale != 1 and det.corners is not None:
            t1 = time.perf_counter()
            full = load_image(path)
            t2 = time.perf_counter()
            det.scan = warp_document(full, det.corners)
            det.timings.update(scan_load=(t2 - t1) * 1e3, warp=(time.perf_counter() - t2) * 1e3)
        return cam, det


def warp_document(image: np.ndarray, corners, max_side: int = 4000) -> np.ndarray:
    """Perspective-correct the page: output size from the longer of each pair of sides."""
    c = order_corners(corners).astype(np.float32)
    top, right = np.linalg.norm(c[1] - c[0]), np.linalg.norm(c[2] - c[1])
    bottom, left = np.linalg.norm(c[2] - c[3]), np.linalg.norm(c[3] - c[0])
    w = int(np.clip(round(max(top, bottom)), 1, max_side))
    h = int(np.clip(round(max(left, right)), 1, max_side))
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    M = cv2.getPerspectiveTransform(c, dst)
    return cv2.warpPerspective(image, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
