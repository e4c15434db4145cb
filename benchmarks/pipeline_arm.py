"""The whole detect pipeline on emulated 32- and 64-bit ARM: guest instructions per stage, per frame.

The seed's 2.8 FPS was the whole app on a 32-bit phone. This asks the same of docscan's
pipeline: inside the emulated armv7 (armhf) and aarch64 (arm64) Debian 12 root filesystems,
with Debian's OpenCV 4.6 and tflite-runtime 2.14, docscan's own detect code runs on

* a camera file: a 12 MP phone JPEG through ``Detector.detect_camera_file(scan=True)``
  (reduced-scale decode, resize + contrast, model, quad finder, corner refinement, full
  decode for the flat scan, warp);
* a preview frame: a 1280x720 SmartDoc video frame, in memory, through ``FrameDetector.detect``;

and qemu's block plugin counts the instructions of each stage between probe markers
(``docscan.bench.pipeline_stages``). One warm-up frame, then ``--frames`` measured frames,
averaged. The bare model's ``count_emulated`` is given beside the model stage, and the
host's corners for the same inputs beside the guest's (the guest's OpenCV is 4.6, the
host's newer, and the guest has a numpy ``approxPolyN``: corners may differ by a pixel or so).

EMULATED: instruction counts under qemu-user, not phone time.

    python benchmarks/pipeline_arm.py [--frames 2]
Writes benchmarks/results/pipeline_arm.json and .png.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docscan.bench import pipeline_stages as ps  # noqa: E402
from docscan.commands.bench_pipeline import share_model_count  # noqa: E402
from docscan.machine import host_cpu  # noqa: E402
from docscan.paths import shared_dir  # noqa: E402

CAMERA = "data/real-photos-fullres/daniiiigm__Hoja_01.jpg"                                        # 4032x3024
PREVIEW = "data/real-photos-dev2/smartdoc15_via_shehryar__background01_letter001_frame_0098.jpg"   # 1280x720
OUT = ROOT / "benchmarks" / "results" / "pipeline_arm.json"


def host_corners(kind: str, photo: Path, frame_size=(1280, 720)):
    """The host's corners for the same input (ai-edge-litert, the host's OpenCV)."""
    import cv2
    import numpy as np

    from docscan.detect.detector import Detector
    from docscan.detect.frames import FrameDetector
    from docscan.detect.image_io import load_image

    det = Detector()
    if kind == "camera":
        return det.detect_camera_file(photo)[1].corners
    frame = np.ascontiguousarray(cv2.resize(load_image(photo), frame_size, interpolation=cv2.INTER_AREA))
    return FrameDetector(det).detect(frame).corners


def say(text, done=None, total=None) -> None:
    print(text, file=sys.stderr, flush=True)


def code_state() -> dict:
    """Which docscan the guests ran: the pipeline is the working tree's, committed or not."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"),
            "uncommitted_detect_files": git("status", "--porcelain", "--", "docscan/detect").splitlines()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=2)
    args = ap.parse_args()
    import numpy as np

    counts, extra = [], []
    started = time.time()
    code = code_state()
    # every run sees the same docscan code, even if the checkout changes meanwhile
    tmp = tempfile.TemporaryDirectory(prefix="docscan-pipeline-src-")
    source = ps.snapshot_source(tmp.name)
    for kind, rel in (("camera", CAMERA), ("preview", PREVIEW)):
        photo = shared_dir() / rel
        host = host_corners(kind, photo)
        for isa in ("armv7", "aarch64"):
            t0 = time.time()
            c = ps.count_pipeline(photo, isa, pipeline=kind, frames=args.frames, compare_model=(kind == "camera"),
                                  source=source, progress=say)
            diff = (float(np.abs(np.asarray(c.corners) - host).max())
                    if c.corners is not None and host is not None else None)
            extra.append({"device": c.device, "pipeline": kind, "seconds": round(time.time() - t0, 1),
                          "host_corners": None if host is None else np.asarray(host).round(2).tolist(),
                          "max_corner_difference_px_vs_host": diff})
            counts.append(c)
            print(f"{c.device} {kind}: {c.total / 1e6:.1f} M instructions per frame, dominant {c.dominant()}",
                  file=sys.stderr, flush=True)
    share_model_count(counts)
    report = ps.PipelineReport(counts)
    ps.save(report, OUT)
    data = json.loads(OUT.read_text())
    per_kind = {}
    for kind in ("camera", "preview"):
        sub = ps.PipelineReport([c for c in counts if c.pipeline == kind])
        per_kind[kind] = {"ratio_32_64": {s: sub.ratio(s) for s in sub.stages()} | {"total": sub.ratio()},
                          "dominant": {c.device: c.dominant() for c in sub.counts},
                          "dominant_corners_only": {c.device: c.dominant(scan=False) for c in sub.counts}}
    data.pop("ratio_32_64", None)       # over both pipelines it means nothing: per pipeline below
    data.update({"command": "python benchmarks/pipeline_arm.py --frames %d" % args.frames,
                 "host": host_cpu(), "docscan": code, "wall_seconds": round(time.time() - started),
                 "per_pipeline": per_kind, "runs": extra})
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {OUT} and {OUT.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
