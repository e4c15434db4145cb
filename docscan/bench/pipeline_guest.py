"""docscan's detect pipeline, stage by stage, between instruction-count markers.

Copied into the emulated ARM device and run there by ``pipeline_stages.py`` under qemu with
docscan's block plugin (``bench/estimate/blocks.c``):

    python3 pipeline_guest.py SPEC.json   ->   one JSON line on stdout between markers

It runs the real docscan code from the checkout (``spec["repo"]`` on sys.path; qemu-user
reads host paths the rootfs does not have), unchanged: ``Detector.detect_camera_file`` for a
photo, ``FrameDetector.detect`` for an in-memory RGB preview frame. Stage boundaries come
from probes: the functions each stage is made of are wrapped, in their modules, by a
function that makes a marker system call on entry and exit (``lseek`` on a descriptor no
process has; it fails harmlessly and the plugin closes a segment there). Each segment is
attributed here to the innermost probe open when it ends ("other" when none: Python glue
between stages), so the host only sums segments. A probe whose function the checkout no
longer has is reported as missing and its work lands in "other": the totals stay right.

Runs on Debian 12's python3 3.11, numpy 1.24, Debian's python3-opencv 4.6 and PyPI's
tflite-runtime 2.14 (installed as ``ai_edge_litert.interpreter`` for docscan's import).
One gap between that and the host is bridged here, and listed in the result: OpenCV 4.6
has no ``cv2.approxPolyN`` (4.11+; a Python version of its greedy contraction stands in,
counted as its own stage, within a pixel of OpenCV's).
"""

import json
import os
import sys
import types

BEGIN = "@@DOCSCAN-PIPELINE-BEGIN@@"
END = "@@DOCSCAN-PIPELINE-END@@"

# (module, attribute path, stage) per pipeline. Order of first appearance = table order.
PROBES = {
    "camera": [
        ("docscan.detect.detector", "load_for_detection", "decode"),
        ("docscan.detect.detector", "load_image", "full decode for the scan"),
        ("docscan.detect.edge_model", "model_frame", "resize+contrast"),
        ("docscan.detect.edge_model", "TFLiteEdgeModel.frame_maps", "model"),
        ("docscan.detect.detector", "find_quad", "quad finder"),
        ("docscan.detect.detector", "refine_corners", "corner refinement"),
        ("docscan.detect.detector", "warp_document", "warp"),
    ],
    "preview": [
        ("docscan.detect.frames", "FrameDetector._model_frame", "resize+contrast"),
        ("docscan.detect.frames", "FrameDetector._work_grey", "resize+contrast"),
        ("docscan.detect.edge_model", "TFLiteEdgeModel.frame_maps", "model"),
        ("docscan.detect.detector", "find_quad", "quad finder"),    # FrameDetector -> Detector.locate
        ("docscan.detect.frames", "refine_corners", "corner refinement"),
    ],
}


class Marks:
    """Marker system calls and which stage each closed segment belongs to."""

    def __init__(self, fd):
        self.fd = fd
        self.next_id = 1          # segment 0 is the plugin's own (program exit)
        self.stack = []
        self.frame = None         # measured frame index; None outside frames
        self.segments = []        # [id, stage, frame] per closed segment

    def mark(self):
        self.segments.append([self.next_id, self.stack[-1] if self.stack else "other", self.frame])
        try:
            os.lseek(self.fd, self.next_id, 0)
        except OSError:
            pass
        self.next_id += 1

    def probe(self, fn, stage):
        def probed(*args, **kwargs):
            self.mark()
            self.stack.append(stage)
            try:
                return fn(*args, **kwargs)
            finally:
                self.mark()
                self.stack.pop()
        probed.__wrapped__ = fn
        return probed


def use_tflite_runtime():
    # docscan's edge model imports ai_edge_litert (the host's runtime); the device has
    # PyPI's tflite-runtime, whose Interpreter has the same API.
    try:
        import ai_edge_litert.interpreter  # noqa: F401
        return "ai-edge-litert"
    except ImportError:
        import tflite_runtime
        from tflite_runtime import interpreter
    pkg = types.ModuleType("ai_edge_litert")
    pkg.interpreter = interpreter
    sys.modules["ai_edge_litert"] = pkg
    sys.modules["ai_edge_litert.interpreter"] = interpreter
    return "tflite-runtime " + getattr(tflite_runtime, "__version__", "?")


def approx_poly_n(curve, nsides, epsilon_percentage=-1.0, ensure_convex=True):
    """OpenCV >= 4.11's ``cv2.approxPolyN`` for OpenCV builds without it (Debian 12 has
    4.6): the greedy contraction it documents. Of a convex polygon, the edge whose removal
    adds the least area goes: its two neighbours are extended to their intersection,
    which replaces the edge's two vertices, until ``nsides`` remain. Integer input gives
    rounded integer output, as OpenCV does. Only ``epsilon_percentage=-1`` (the default,
    docscan's use) is supported."""
    import numpy as np

    f32 = np.float32
    # Plain Python floats: numpy's per-call overhead on 2-vectors made this 10x slower.
    poly = [(float(x), float(y)) for x, y in np.asarray(curve, np.float64).reshape(-1, 2)]
    integer = np.asarray(curve).dtype.kind in "iu"
    if len(poly) < nsides:
        raise cv2_error()("approxPolyN: fewer points than sides")

    def contraction(i):
        n = len(poly)
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = poly[(i - 1) % n], poly[i], poly[(i + 1) % n], poly[(i + 2) % n]
        ux, uy, vx, vy = bx - ax, by - ay, dx - cx, dy - cy
        den = ux * vy - uy * vx
        if abs(den) < 1e-8:
            return float("inf"), None
        t, s = ((cx - ax) * vy - (cy - ay) * vx) / den, ((cx - ax) * uy - (cy - ay) * ux) / den
        if t < 1.0 - 1e-9 or s > 1e-9:
            return float("inf"), None      # the neighbours diverge: they meet behind the edge
        # OpenCV keeps the new vertex and its area in float32: so do ties and rounding here
        x = (float(f32(ax + t * ux)), float(f32(ay + t * uy)))
        return float(f32(0.5 * abs((cx - bx) * (x[1] - by) - (cy - by) * (x[0] - bx)))), x

    # Contracting edge i changes only the contractions of its neighbours: recompute those
    # (O(n) in all, where rescanning every edge each step was O(n^2) Python calls).
    areas = [contraction(i) for i in range(len(poly))]
    while len(poly) > nsides:
        best = min(range(len(poly)), key=lambda i: areas[i][0])
        area, x = areas[best]
        if x is None:
            raise cv2_error()("approxPolyN: cannot contract the polygon further")
        n = len(poly)
        poly[best] = x
        gone = (best + 1) % n
        del poly[gone]
        del areas[gone]
        n -= 1
        best = best if gone > best else best - 1
        for i in range(best - 2, best + 2):
            areas[i % n] = contraction(i % n)
    out = np.array(poly)
    if integer:
        out = np.rint(out).astype(np.int32)
    return out.reshape(1, -1, 2)


def cv2_error():
    import cv2
    return cv2.error


def install_probes(marks, pipeline):
    import importlib

    missing = []
    for module, attr, stage in PROBES[pipeline]:
        owner = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        fn = getattr(owner, name, None) if owner is not None else None
        if fn is None:
            missing.append(f"{module}.{attr}")
            continue
        raw = owner.__dict__.get(name) if isinstance(owner, type) else None
        if isinstance(raw, (staticmethod, classmethod)):   # keep the descriptor kind
            setattr(owner, name, type(raw)(marks.probe(raw.__func__, stage)))
        else:
            setattr(owner, name, marks.probe(fn, stage))
    return missing


def main():
    spec = json.load(open(sys.argv[1]))
    sys.path.insert(0, spec["repo"])
    runtime = use_tflite_runtime()
    import cv2
    import numpy as np

    # One thread everywhere: qemu counts all guest threads together, and a phone app's
    # detection runs on one core next to the camera.
    cv2.setNumThreads(0)
    marks = Marks(spec["mark_fd"])
    polyfills = []
    if not hasattr(cv2, "approxPolyN"):
        cv2.approxPolyN = marks.probe(approx_poly_n, "quad finder: approxPolyN polyfill")
        polyfills.append("cv2.approxPolyN (OpenCV %s has none; a Python version, its own stage)" % cv2.__version__)
    from docscan.detect.detector import Detector
    from docscan.detect.frames import FrameDetector
    from docscan.detect.image_io import load_image

    missing = install_probes(marks, spec["pipeline"])
    detector = Detector(spec["model"], num_threads=1)
    if spec["pipeline"] == "camera":
        def run():
            cam, det = detector.detect_camera_file(spec["photo"], scan=True)
            return det.corners, det.confidence, list(cam.image.shape)
    else:
        w, h = spec["frame_size"]
        frame = np.ascontiguousarray(cv2.resize(load_image(spec["photo"]), (w, h), interpolation=cv2.INTER_AREA))
        frames = FrameDetector(detector)

        def run():
            res = frames.detect(frame)
            return res.corners, res.confidence, list(frame.shape)

    run()                          # warm-up: lazy set-up (XNNPACK packing, caches) happens here
    results = []
    for k in range(spec["frames"]):
        marks.mark()               # closes the segment before the frame
        marks.frame = k
        corners, confidence, shape = run()
        marks.mark()
        marks.frame = None
        results.append({"corners": None if corners is None else np.asarray(corners).round(3).tolist(),
                        "confidence": round(float(confidence), 6), "shape": shape})
    try:
        from docscan.detect import native
        quad_path = native.status()
    except ImportError:          # a checkout from before the C path
        quad_path = "numpy"
    out = {"segments": marks.segments, "frames": results, "missing_probes": missing, "polyfills": polyfills, "runtime": runtime,
           "opencv": cv2.__version__, "numpy": np.__version__, "python": sys.version.split()[0], "quad_path": quad_path}
    print(BEGIN + json.dumps(out) + END)


if __name__ == "__main__":
    main()
