"""One ``docscan detect`` per line of stdin, timed here, for ``pipeline_speed.py``'s ``at-filing``
method: run with PYTHONPATH pointing at an earlier docscan tree (``git archive`` of the commit
an issue was filed against), so that version's pipeline is measured in the same run, on the
same photos, as today's. Each stdin line is a photo path; each stdout line is JSON with the
stage timings that version's ``Detector.detect_file`` reports (load, model, quad, warp: the
flat scan included, as ``docscan detect`` made one), wall and thread-CPU totals measured here
(the pipe is left out), and the corners.

    PYTHONPATH=TREE python3 benchmarks/detect_worker.py MODEL.tflite
"""

from __future__ import annotations

import json
import sys
import time

import one_thread  # noqa: F401  (before numpy / cv2 / TensorFlow)


def main() -> None:
    import cv2

    from docscan.detect.detector import Detector  # the tree on PYTHONPATH

    cv2.setNumThreads(1)
    det = Detector(sys.argv[1], num_threads=1)
    print(json.dumps({"ready": True, "docscan": __import__("docscan").__file__}), flush=True)
    for line in sys.stdin:
        path = line.strip()
        c0, t0 = time.thread_time(), time.perf_counter()
        _, d = det.detect_file(path)
        wall, cpu = (time.perf_counter() - t0) * 1e3, (time.thread_time() - c0) * 1e3
        corners = None if d.corners is None else [[float(x), float(y)] for x, y in d.corners]
        print(json.dumps({"timings": d.timings, "total": wall, "total_cpu": cpu, "corners": corners}), flush=True)


if __name__ == "__main__":
    main()
