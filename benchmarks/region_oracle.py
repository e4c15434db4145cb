"""Where the synthetic gap is: the quad finder on a model's edge map with the learned region,
with the generator's true region, and with the true region and no guards; and, for the
learned and the true region, the best of the quad finder's own candidates against the label.

The held-out set is regenerated sample by sample (``docscan.train.synth.make_sample``, seed 9001,
512x384, the same pixels as ``classic_baseline.py``'s set), so the true page region of every
image is known. The gaps between the three figures split the remaining error into region
quality, the real-photo guards (``region_trust``, ``region_defer``) and everything else
(edges, corner precision). "best candidate" is the ceiling of any rule that picks among the
candidates the finder generates from these maps (``docscan.detect.quad.candidate_quads``,
unrefined corners): what is missing there is missing from the maps' lines, not from the
picking.

    python3 benchmarks/region_oracle.py [--model models/hed_default.int8.tflite] [--n 500]

Writes benchmarks/results/region_oracle.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from docscan.atomic import write_json  # noqa: E402
from docscan.machine import describe_host  # noqa: E402

SEED, SIZE = 9001, (512, 384)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models" / "hed_default.int8.tflite"))
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("-o", "--out", type=Path, default=REPO / "benchmarks" / "results" / "region_oracle.json")
    args = ap.parse_args(argv)

    from docscan.detect.detector import Detector
    from docscan.detect.edge_model import load_edge_model
    from docscan.detect.geometry import polygon_iou, to_full_resolution
    from docscan.detect.quad import DEFAULT_PARAMS, candidate_quads
    from docscan.train.synth import make_sample

    model = load_edge_model(args.model)

    class GivenMaps:
        """The model's maps of the current frame, computed once for every mode."""
        input_hw, path, has_region = model.input_hw, model.path, True

        def maps(self, image_rgb):
            return self.current

    given = GivenMaps()
    no_guards = dataclasses.replace(DEFAULT_PARAMS, region_trust=0.0, region_defer=0.0)
    # mode -> (detector, which region map it is handed)
    modes = {"learned region": (Detector(model=given), "learned"),
             "true region": (Detector(model=given), "true"),
             "true region, no guards": (Detector(model=given, params=no_guards), "true")}
    if not model.has_region:
        modes.pop("learned region")
    ious = {m: [] for m in modes}
    best_of = {"best candidate, learned region": "learned", "best candidate, true region": "true"}
    if not model.has_region:
        best_of.pop("best candidate, learned region")
    ious.update({m: [] for m in best_of})
    for i in range(args.n):
        s = make_sample(SEED, i, SIZE)
        edge, learned = model.maps(s.image)
        h, w = edge.shape
        regions = {"learned": learned, "true": cv2.resize(s.region, (w, h), interpolation=cv2.INTER_AREA)}
        for mode, (detector, which) in modes.items():
            given.current = (edge, regions[which])
            d = detector.detect(s.image, warp=False)
            ious[mode].append(polygon_iou(d.corners, s.corners) if d.found else 0.0)
        for mode, which in best_of.items():
            quads = candidate_quads(edge, region=regions[which])
            ious[mode].append(max((polygon_iou(to_full_resolution(q, (h, w), s.image.shape[:2]), s.corners)
                                   for q in quads), default=0.0))
        if (i + 1) % 100 == 0:
            print(f"{i + 1}/{args.n}", flush=True)
    report = {"model": args.model, "machine": describe_host(), "set": f"synth seed {SEED}, {SIZE[0]}x{SIZE[1]}, n={args.n}",
              "modes": {m: {"mean_iou": float(np.mean(v)), "share_iou_ge_0.9": float(np.mean(np.array(v) >= 0.9))}
                        for m, v in ious.items()}}
    write_json(args.out, report)
    for m, r in report["modes"].items():
        print(f"{m:>30}: mean IoU {r['mean_iou']:.4f}  IoU>=0.9 {r['share_iou_ge_0.9']:.1%}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
