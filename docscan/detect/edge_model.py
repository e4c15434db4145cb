"""Edge models behind one interface: a Keras file or a .tflite (fp32 or int8 I/O).

Both follow the zoo's HED convention: float RGB in [0, 1] at the model's input size (the
whole frame is resized, aspect ignored; a low-contrast frame is stretched to the full
range, see ``model_frame``), first/``fused`` output = edge logits, and, for a model with
the region head, a 7th output ``region`` = page-region logits that the quad finder also
reads.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from docscan.errors import DocscanError
from docscan.keras_file import load_keras_model
from docscan.paths import MODELS_DIR
from docscan.tflite_names import source_index

LOW_CONTRAST_SPAN = 128   # grey 1st..99th percentile span below which a frame is stretched
SHIPPED_MODELS = ("hed_default.int8.tflite", "hed_default.keras")


def default_model_path() -> Path:
    """The shipped model: int8 .tflite when present, else the Keras file."""
    for name in SHIPPED_MODELS:
        if (MODELS_DIR / name).is_file():
            return MODELS_DIR / name
    raise DocscanError(f"{MODELS_DIR}: no shipped model ({' or '.join(SHIPPED_MODELS)})")


def load_edge_model(path: str | os.PathLike | None = None, num_threads: int = 1) -> EdgeModel:
    """The edge model in ``path`` (default: the shipped one), by file type."""
    path = Path(path) if path is not None else default_model_path()
    if not path.is_file():
        raise DocscanError(f"{path}: model file not found")
    if path.suffix == ".tflite":
        return TFLiteEdgeModel(path, num_threads)
    if path.suffix in (".keras", ".h5"):
        return KerasEdgeModel(path)
    raise DocscanError(f"{path}: unknown model format (expected .keras or .tflite)")


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)


def model_frame(image_rgb: np.ndarray, hw: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """The frame as the model sees it: uint8 RGB resized to ``hw`` (the whole frame, aspect
    ignored), stretched to the full 8-bit range when its contrast is low (haze, a grey
    exposure, glare over the whole frame): grey 1st..99th percentiles less than
    ``LOW_CONTRAST_SPAN`` apart. The labelled dev photos span 146..248 and are left as they
    are; with their contrast halved, mean IoU falls from 0.973 to 0.928 without the stretch
    and to 0.970 with it (``benchmarks/dev_robustness.py [--no-stretch]``, int8 model). On
    the synthetic tuning set it stretches 56 of 500 frames and moves mean IoU by -0.0001."""
    return stretch_low_contrast(resize_for_model(image_rgb, hw, out))


def resize_for_model(image: np.ndarray, hw: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """INTER_AREA down to ``hw``: halvings first while the result stays at least that size,
    then one resize. INTER_AREA by exactly 2 is OpenCV's fastest path (a 1008x756 camera
    image: 1.4 ms in one resize, 0.5 in three); the result differs from one resize by
    rounding only."""
    h, w = hw
    src = image
    for half_h, half_w in halvings(image.shape[:2], hw):
        src = cv2.resize(src, (half_w, half_h), interpolation=cv2.INTER_AREA)
    return cv2.resize(src, (w, h), dst=out, interpolation=cv2.INTER_AREA)


def halvings(image_hw: tuple[int, int], hw: tuple[int, int]) -> list[tuple[int, int]]:
    """The (h, w) sizes ``resize_for_model`` halves an ``image_hw`` image through on its way
    to ``hw``: while both sides are even and their halves at least ``hw``."""
    (ih, iw), (h, w), out = image_hw, hw, []
    while ih % 2 == 0 and iw % 2 == 0 and ih // 2 >= h and iw // 2 >= w:
        ih, iw = ih // 2, iw // 2
        out.append((ih, iw))
    return out


def stretch_low_contrast(small: np.ndarray) -> np.ndarray:
    """``model_frame``'s contrast stretch of an already resized uint8 RGB frame (itself when
    its contrast is not low)."""
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    # (cv2.calcHist: the same counts as np.bincount, in a third of the time)
    counts = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    cdf = np.cumsum(counts) / grey.size
    lo, hi = int(np.searchsorted(cdf, 0.01)), int(np.searchsorted(cdf, 0.99))
    if hi - lo >= LOW_CONTRAST_SPAN:
        return small
    stretch = np.clip(np.rint((np.arange(256) - lo) * (255.0 / max(hi - lo, 1))), 0, 255).astype(np.uint8)
    return stretch[small]


class EdgeModel:
    """What the detector needs of an edge model: ``input_hw``, ``path``, ``has_region`` and
    ``maps(rgb uint8 full frame) -> (edge prob (h, w), region prob or None)``; calling the
    model gives the edge map alone."""

    input_hw: tuple[int, int]
    path: Path
    has_region: bool = False

    def maps(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return self.frame_maps(model_frame(image_rgb, self.input_hw))

    def frame_maps(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``maps`` of a frame already as the model sees it (``model_frame``'s output)."""
        raise NotImplementedError

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        return self.maps(image_rgb)[0]

    def prepare(self, image_rgb: np.ndarray) -> np.ndarray:
        """(1, h, w, 3) float32 in [0, 1]: the model's input for this frame."""
        return model_frame(image_rgb, self.input_hw).astype(np.float32)[None] / 255.0

    @staticmethod
    def _float_input(frame: np.ndarray) -> np.ndarray:
        return frame.astype(np.float32)[None] / 255.0


def _check_input_shape(path: Path, shape) -> tuple[int, int]:
    shape = tuple(shape)
    if len(shape) != 4 or shape[3] != 3 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape[1:3]):
        raise DocscanError(f"{path}: model input shape {shape} is not an RGB image (batch, H, W, 3)")
    h, w = int(shape[1]), int(shape[2])
    if h < 32 or w < 32:
        raise DocscanError(f"{path}: model input {h}x{w} is too small for an edge detector (need >= 32x32)")
    return h, w


def _is_integer(dtype) -> bool:
    return dtype in (np.int8, np.uint8)


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

    def frame_maps(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if _is_integer(self.inp["dtype"]):
            # Integer I/O: quantising 8-bit pixels and turning 8-bit logits into
            # probabilities are both functions of 256 values, so each is one table lookup,
            # written straight into the interpreter's input (no temporary, no set_tensor
            # copy: 0.34 -> 0.05 ms a frame). The view must be gone before invoke.
            x = self.interp.tensor(self.inp["index"])()
            cv2.LUT(np.ascontiguousarray(frame, np.uint8), self._in_lut, dst=x[0])
            del x
        else:
            self.interp.set_tensor(self.inp["index"], self._float_input(frame).astype(self.inp["dtype"]))
        self.interp.invoke()
        edge = self._prob(self.out)
        return edge, (self._prob(self.region) if self.region is not None else None)

    def _prob(self, detail) -> np.ndarray:
        if _is_integer(detail["dtype"]):
            # One cv2.LUT over the interpreter's output in place (no get_tensor copy), read as
            # uint8 bytes: OpenCV versions differ on where an int8 value indexes, so the
            # table is laid out by byte (``_byte_luts``) and the view is explicit.
            y = self.interp.tensor(detail["index"])()[0, ..., 0]
            return cv2.LUT(np.ascontiguousarray(y).view(np.uint8), self._byte_luts[detail["index"]])
        return _sigmoid(self.interp.get_tensor(detail["index"])[0, ..., 0].astype(np.float32))

    def _tables(self):
        """The lookup tables of integer I/O: pixel value -> input, output value -> probability."""
        if _is_integer(self.inp["dtype"]):
            scale, zero = self.inp["quantization"]
            info = np.iinfo(self.inp["dtype"])
            self._in_lut = np.clip(np.rint(np.arange(256) / 255.0 / scale + zero), info.min, info.max
                                   ).astype(self.inp["dtype"])
        self._out_luts = {}
        for detail in (self.out, self.region):
            if detail is not None and _is_integer(detail["dtype"]):
                scale, zero = detail["quantization"]
                info = np.iinfo(detail["dtype"])
                logits = (np.arange(info.min, info.max + 1, dtype=np.float64) - zero) * scale
                self._out_luts[detail["index"]] = _sigmoid(logits)
        # the same tables indexed by the output's byte: an int8 value v is byte v & 0xff
        self._byte_luts = {k: (np.roll(v, 128) if info_min < 0 else v).copy()
                           for k, v, info_min in ((d["index"], self._out_luts[d["index"]], np.iinfo(d["dtype"]).min)
                                                  for d in (self.out, self.region)
                                                  if d is not None and d["index"] in self._out_luts)}


class KerasEdgeModel(EdgeModel):
    def __init__(self, path: Path | None = None, model=None):
        self.path = path or Path("<in-memory>")
        if model is None:
            model = load_keras_model(path, what="not a loadable Keras model")
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

    def frame_maps(self, frame):
        outs = self._outputs(self._float_input(frame))
        edge = _sigmoid(np.asarray(outs[0])[0, ..., 0].astype(np.float32))
        region = _sigmoid(np.asarray(outs[1])[0, ..., 0].astype(np.float32)) if len(outs) > 1 else None
        return edge, region
