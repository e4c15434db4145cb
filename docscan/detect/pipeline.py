"""Photo -> HED edge map -> page corners -> flat scan, with per-stage timings.

The edge model is a Keras file or a .tflite (fp32 or int8 I/O) following the zoo's HED
convention: float RGB in [0, 1] at the model's input size (the whole frame is resized,
aspect ignored; a low-contrast frame is stretched to the full range, see ``model_frame``),
first/``fused`` output = edge logits, and, for a model with the region head, a 7th output
``region`` = page-region logits that the quad finder also reads.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from docscan.detect.quad import (
    DEFAULT_PARAMS,
    NO_DOCUMENT,
    QuadParams,
    find_quad,
    order_corners,
    polygon_iou,
    refine_corners,
)
from docscan.errors import DocscanError
from docscan.images import IMAGE_SUFFIXES  # re-exported: eval imports it from here
from docscan.paths import MODELS_DIR
from docscan.tflite_names import source_index

REFINE_MIN_SCALE = 2.0   # photo / edge-map size from which sub-pixel refinement on the photo pays


def default_model_path() -> Path:
    """The shipped model: int8 .tflite when present, else the Keras file."""
    for name in ("hed_default.int8.tflite", "hed_default.keras"):
        if (MODELS_DIR / name).is_file():
            return MODELS_DIR / name
    raise DocscanError(f"{MODELS_DIR}: no shipped model (hed_default.int8.tflite or hed_default.keras); "
                       "pass --model or train one with `docscan train`")


# ---------------------------------------------------------------------------------------
# Images

def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read a photo as RGB uint8; DocscanError naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise DocscanError(f"{path}: no such file")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None or img.size == 0:
        raise DocscanError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def encode_png(image_rgb: np.ndarray) -> bytes:
    img = image_rgb if image_rgb.ndim == 2 else cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise DocscanError("cannot encode PNG")
    return buf.tobytes()


# ---------------------------------------------------------------------------------------
# Edge models

def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)


LOW_CONTRAST_SPAN = 128   # grey 1st..99th percentile span below which a frame is stretched


def model_frame(image_rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The frame as the model sees it: uint8 RGB resized to ``hw`` (the whole frame, aspect
    ignored), stretched to the full 8-bit range when its contrast is low (haze, a grey
    exposure, glare over the whole frame): grey 1st..99th percentiles less than
    ``LOW_CONTRAST_SPAN`` apart. The labelled dev photos span 146..248 and are left as they
    are; with their contrast halved, mean IoU falls from 0.973 to 0.928 without the stretch
    and to 0.970 with it (``benchmarks/dev_robustness.py [--no-stretch]``, int8 model). On
    the synthetic tuning set it stretches 56 of 500 frames and moves mean IoU by -0.0001."""
    h, w = hw
    small = cv2.resize(image_rgb, (w, h), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    cdf = np.cumsum(np.bincount(grey.ravel(), minlength=256)) / grey.size
    lo, hi = int(np.searchsorted(cdf, 0.01)), int(np.searchsorted(cdf, 0.99))
    if hi - lo >= LOW_CONTRAST_SPAN:
        return small
    stretch = np.clip(np.rint((np.arange(256) - lo) * (255.0 / max(hi - lo, 1))), 0, 255).astype(np.uint8)
    return stretch[small]


class EdgeModel:
    """Common interface: ``input_hw``, ``has_region``, ``__call__(rgb uint8 full frame) ->
    edge prob (h, w)`` and ``maps(frame) -> (edge prob, region prob or None)``."""

    input_hw: tuple[int, int]
    path: Path
    has_region: bool = False

    def maps(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self(image_rgb), None

    def prepare(self, image_rgb: np.ndarray) -> np.ndarray:
        return model_frame(image_rgb, self.input_hw).astype(np.float32)[None] / 255.0

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        return _sigmoid(self.logits(self.prepare(image_rgb)))

    def logits(self, x: np.ndarray) -> np.ndarray:  # (1, h, w, 3) float -> (h, w) logits
        raise NotImplementedError


def _check_input_shape(path: Path, shape) -> tuple[int, int]:
    shape = tuple(shape)
    if len(shape) != 4 or shape[3] != 3 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape[1:3]):
        raise DocscanError(f"{path}: model input shape {shape} is not an RGB image (batch, H, W, 3)")
    h, w = int(shape[1]), int(shape[2])
    if h < 32 or w < 32:
        raise DocscanError(f"{path}: model input {h}x{w} is too small for an edge detector (need >= 32x32)")
    return h, w


class TFLiteEdgeModel(EdgeModel):
    def __init__(self, path: Path, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.path = path
        try:
            self.interp = Interpreter(model_path=str(path), num_threads=num_threads)
            self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise DocscanError(f"{path}: not a loadable .tflite model ({str(exc).splitlines()[0]})") from None
        inputs = self.interp.get_input_details()
        if len(inputs) != 1:
            raise DocscanError(f"{path}: model has {len(inputs)} inputs, an edge detector has 1")
        self.inp = inputs[0]
        self.input_hw = _check_input_shape(path, self.inp["shape"])
        outs = self.interp.get_output_details()
        self.out = self._fused_output(outs)
        oshape = tuple(self.out["shape"])
        if len(oshape) != 4 or tuple(oshape[1:3]) != self.input_hw:
            raise DocscanError(f"{path}: output shape {oshape} is not an edge map of the input size {self.input_hw}")
        self.region = self._region_output(outs)
        self.has_region = self.region is not None
        if self.has_region and tuple(self.region["shape"]) != oshape:
            raise DocscanError(f"{path}: region output shape {tuple(self.region['shape'])} differs from the "
                               f"edge map's {oshape}")
        self._tables()

    def _output(self, outs, name: str, index: int):
        """Output ``index`` of the source model, called ``name`` there: by signature name,
        else tensor name, else the index in its tensor name; None when none matches.

        Converters scramble output order and names (``StatefulPartitionedCall:4`` may be
        side5), so the signature's own output names come first.
        """
        by_index = {o["index"]: o for o in outs}
        try:
            sigs = self.interp._get_full_signature_list()   # {'serving_default': {'outputs': {name: index}}}
        except Exception:  # noqa: BLE001 - optional API; fall back to tensor names
            sigs = {}
        for sig in sigs.values():
            named = sig.get("outputs", {})
            for key in (name, f"output_{index}"):
                if key in named and named[key] in by_index:
                    return by_index[named[key]]
        for o in outs:
            if name in o["name"]:
                return o
        return next((o for o in outs if source_index(o["name"]) == index), None)

    def _fused_output(self, outs):
        """The fused edge output; failing every name, the first output of the source model."""
        return self._output(outs, "fused", 0) or min(outs, key=lambda o: source_index(o["name"]))

    def _region_output(self, outs):
        """The region output of a 7-output HED (the source model's output 6); None for a plain HED."""
        return self._output(outs, "region", 6) if len(outs) == 7 else None

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        return self.maps(image_rgb)[0]

    def maps(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self.inp["dtype"] not in (np.int8, np.uint8):
            self.logits(self.prepare(image_rgb))
        else:
            # Integer I/O: quantising 8-bit pixels and turning 8-bit logits into
            # probabilities are both functions of 256 values, so each is one table lookup.
            self.interp.set_tensor(self.inp["index"], self._in_lut[model_frame(image_rgb, self.input_hw)][None])
            self.interp.invoke()
        edge = self._prob(self.out)
        return edge, (self._prob(self.region) if self.region is not None else None)

    def _prob(self, detail) -> np.ndarray:
        y = self.interp.get_tensor(detail["index"])[0, ..., 0]
        if y.dtype in (np.int8, np.uint8):
            lut = self._out_luts[detail["index"]]
            return lut[y.astype(np.int16) + 128] if y.dtype == np.int8 else lut[y]
        return _sigmoid(y.astype(np.float32))

    def _tables(self):
        if self.inp["dtype"] in (np.int8, np.uint8):
            scale, zero = self.inp["quantization"]
            info = np.iinfo(self.inp["dtype"])
            self._in_lut = np.clip(np.rint(np.arange(256) / 255.0 / scale + zero), info.min, info.max
                                   ).astype(self.inp["dtype"])
        self._out_luts = {}
        for detail in (self.out, self.region):
            if detail is not None and detail["dtype"] in (np.int8, np.uint8):
                scale, zero = detail["quantization"]
                info = np.iinfo(detail["dtype"])
                logits = (np.arange(info.min, info.max + 1, dtype=np.float64) - zero) * scale
                self._out_luts[detail["index"]] = _sigmoid(logits)

    def logits(self, x):
        dtype = self.inp["dtype"]
        if dtype in (np.int8, np.uint8):
            scale, zero = self.inp["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.rint(x / scale + zero), info.min, info.max).astype(dtype)
        else:
            x = x.astype(dtype)
        self.interp.set_tensor(self.inp["index"], x)
        self.interp.invoke()
        y = self.interp.get_tensor(self.out["index"])
        if y.dtype in (np.int8, np.uint8):
            scale, zero = self.out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y[0, ..., 0].astype(np.float32)


class KerasEdgeModel(EdgeModel):
    def __init__(self, path: Path | None = None, model=None):
        import keras

        self.path = path or Path("<in-memory>")
        if model is None:
            try:
                model = keras.saving.load_model(str(path), compile=False)
            except Exception as exc:  # Keras raises many types for a bad file
                raise DocscanError(f"{path}: not a loadable Keras model ({str(exc).splitlines()[0][:200]})") from None
        if len(model.inputs) != 1:
            raise DocscanError(f"{self.path}: model has {len(model.inputs)} inputs, an edge detector has 1")
        shape = tuple(model.inputs[0].shape)
        self.input_hw = _check_input_shape(self.path, (1,) + shape[1:])
        self.model = model
        oshape = tuple(model.outputs[0].shape)
        if len(oshape) != 4 or tuple(oshape[1:3]) != self.input_hw:
            raise DocscanError(f"{self.path}: output shape {oshape} is not an edge map of the input size")
        names = list(getattr(model, "output_names", []) or [])
        self.region_index = names.index("region") if "region" in names else None
        self.has_region = self.region_index is not None
        if self.has_region and tuple(model.outputs[self.region_index].shape) != oshape:
            raise DocscanError(f"{self.path}: region output shape {tuple(model.outputs[self.region_index].shape)} "
                               f"differs from the edge map's {oshape}")

    def _outputs(self, x):
        y = self.model(x, training=False)
        if isinstance(y, dict):
            return [y.get("fused", next(iter(y.values())))] + ([y["region"]] if "region" in y else [])
        if not isinstance(y, (list, tuple)):
            return [y]
        return [y[0]] + ([y[self.region_index]] if self.region_index is not None else [])

    def logits(self, x):
        return np.asarray(self._outputs(x)[0])[0, ..., 0].astype(np.float32)

    def maps(self, image_rgb):
        outs = self._outputs(self.prepare(image_rgb))
        edge = _sigmoid(np.asarray(outs[0])[0, ..., 0].astype(np.float32))
        region = _sigmoid(np.asarray(outs[1])[0, ..., 0].astype(np.float32)) if len(outs) > 1 else None
        return edge, region


def load_edge_model(path: str | os.PathLike | None = None, num_threads: int = 1) -> EdgeModel:
    path = Path(path) if path is not None else default_model_path()
    if not path.is_file():
        raise DocscanError(f"{path}: model file not found")
    if path.suffix == ".tflite":
        return TFLiteEdgeModel(path, num_threads)
    if path.suffix in (".keras", ".h5"):
        return KerasEdgeModel(path)
    raise DocscanError(f"{path}: unknown model format (expected .keras or .tflite)")


# ---------------------------------------------------------------------------------------
# Detection

@dataclass
class Detection:
    corners: np.ndarray | None            # (4, 2) float32 full-image pixels, clockwise from top-left
    confidence: float
    edge_map: np.ndarray | None           # (h, w) float32 edge probability at model resolution
    timings: dict = field(default_factory=dict)   # ms per stage: load, model, quad, warp
    reason: str = ""
    scan: np.ndarray | None = None        # perspective-corrected page, RGB
    region_map: np.ndarray | None = None  # (h, w) page-region probability (region-head models)

    @property
    def found(self) -> bool:
        return self.corners is not None


class Detector:
    """Edge model + quad finder. ``detect(image_rgb)`` or ``detect_file(path)``."""

    def __init__(self, model_path=None, num_threads: int = 1, params: QuadParams = DEFAULT_PARAMS,
                 refine: bool = True, model: EdgeModel | None = None, use_region: bool = True):
        self.model = model if model is not None else load_edge_model(model_path, num_threads)
        self.params = params
        self.refine = refine
        self.use_region = use_region

    def detect(self, image_rgb: np.ndarray, warp: bool = True) -> Detection:
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
            raise DocscanError(f"image must be RGB (H, W, 3), got shape {image_rgb.shape}")
        timings = {}
        t0 = time.perf_counter()
        edge, region = self.model.maps(image_rgb)
        t1 = time.perf_counter()
        timings["model"] = (t1 - t0) * 1e3
        q = find_quad(edge, params=self.params, region=region if self.use_region else None)
        corners = None
        if q.corners is not None:
            H, W = image_rgb.shape[:2]
            h, w = edge.shape
            corners = to_full_resolution(q.corners, (h, w), (H, W))
            # The photo only adds detail the edge-map fit lacks when it is much larger.
            if self.refine and max(H / h, W / w) >= REFINE_MIN_SCALE:
                corners = order_corners(refine_corners(image_rgb, corners))
        t2 = time.perf_counter()
        timings["quad"] = (t2 - t1) * 1e3
        scan = warp_document(image_rgb, corners) if (warp and corners is not None) else None
        timings["warp"] = (time.perf_counter() - t2) * 1e3
        return Detection(corners, q.confidence, edge, timings, q.reason, scan, region)

    def detect_file(self, path, warp: bool = True) -> tuple[np.ndarray, Detection]:
        t0 = time.perf_counter()
        image = load_image(path)
        load_ms = (time.perf_counter() - t0) * 1e3
        det = self.detect(image, warp=warp)
        det.timings = {"load": load_ms, **det.timings}
        return image, det


# ---------------------------------------------------------------------------------------
# Geometry used by detect and eval

def to_full_resolution(corners, map_hw, image_hw) -> np.ndarray:
    """Edge-map pixel coordinates -> photo pixel coordinates (pixel centres at integers)."""
    scale = np.array([image_hw[1] / map_hw[1], image_hw[0] / map_hw[0]], np.float64)
    return ((np.asarray(corners, np.float64) + 0.5) * scale - 0.5).astype(np.float32)


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


def corner_error(pred, truth, diagonal: float) -> float:
    """Mean corner distance / image diagonal, under the best cyclic matching of corners.

    Which corner is the page's top-left is ambiguous for rotated pages, so both quads
    are put in clockwise order and every cyclic shift of the prediction is tried.
    """
    p = order_corners(pred).astype(np.float64)
    t = order_corners(truth).astype(np.float64)
    best = min(np.linalg.norm(np.roll(p, k, axis=0) - t, axis=1).mean() for k in range(4))
    return float(best / diagonal)


def draw_overlay(image_rgb: np.ndarray, edge_map: np.ndarray | None, corners=None, truth=None,
                 max_side: int = 1280, region_map: np.ndarray | None = None) -> np.ndarray:
    """Photo with the edge map in magenta, the region map's outline (p = 0.5) dashed in
    cyan, the found quad in green and the label in blue."""
    img = image_rgb
    H, W = img.shape[:2]
    s = min(1.0, max_side / max(H, W))
    if s < 1.0:
        img = cv2.resize(img, (int(round(W * s)), int(round(H * s))), interpolation=cv2.INTER_AREA)
    out = img.astype(np.float32)
    if edge_map is not None:
        e = cv2.resize(edge_map.astype(np.float32), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
        e = np.clip(e, 0, 1)[..., None] * 0.75
        out = out * (1 - e) + np.array([255, 0, 255], np.float32) * e
    out = np.clip(out, 0, 255).astype(np.uint8)
    lw = max(2, int(round(max(out.shape[:2]) / 300)))
    if region_map is not None:
        r = cv2.resize(region_map.astype(np.float32), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
        contours, _ = cv2.findContours((r > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for cnt in contours:
            pts = cnt.reshape(-1, 2)
            dash = max(4, 3 * lw)
            for i in range(0, len(pts) - dash, 2 * dash):   # dashed: the label's line stays visible
                cv2.polylines(out, [pts[i:i + dash].reshape(-1, 1, 2)], False, (0, 220, 255), max(1, lw - 1),
                              cv2.LINE_AA)
    if truth is not None:
        t = np.round(np.asarray(truth, np.float64) * s * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [t], True, (40, 120, 255), lw, cv2.LINE_AA, shift=4)
    if corners is not None:
        c = np.round(np.asarray(corners, np.float64) * s * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [c], True, (0, 230, 0), lw, cv2.LINE_AA, shift=4)
        for k, (x, y) in enumerate(c.reshape(-1, 2)):
            cv2.circle(out, (int(x), int(y)), (lw + 3) * 16, (255, 255, 0) if k == 0 else (0, 230, 0), -1,
                       cv2.LINE_AA, shift=4)
    return out


__all__ = ["Detector", "Detection", "EdgeModel", "KerasEdgeModel", "TFLiteEdgeModel", "load_edge_model",
           "load_image", "warp_document", "polygon_iou", "corner_error", "draw_overlay", "default_model_path",
           "NO_DOCUMENT", "IMAGE_SUFFIXES", "encode_png", "model_frame"]
