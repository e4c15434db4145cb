"""Edge map -> page quadrilateral, robust to occluded or out-of-frame corners.

Steps (all in edge-map pixels):

1. normalise the map against its own background (median) and strong-edge level:
   class-balanced HED training inflates every pixel by a model- and photo-dependent amount;
2. thin it to one-pixel ridges and find line segments (HoughLinesP); merge segments into
   lines (angle + distance), keep the best-supported few, at most 5 per direction;
3. every set of 4 lines (plus the 4 frame borders, for a page running off the frame)
   in each of the 3 cyclic orders is a candidate; corners are line intersections, so a
   corner hidden under a finger or outside the frame still comes out;
4. candidates must have supported sides, be convex, not too small, with sane interior
   angles; they are scored by edge support along each side (O(1) lookups in per-line
   cumulative sums) minus in-frame side length the edge map does not support, times the
   supported share of the outline squared (a page is edged all the way round; a quad
   pieced together from planks, tiles or shadows has gaps); the front
   runners lose the support of the strongest line running right across their inside
   (two pages of a booklet, a page plus the picture behind it are two things, not one);
5. each side of the winner is refitted to the edge mass around it (sub-pixel).

With a page-region map (an HED with ``region_head``), the region decides what the edges
cannot: the 4 sides of the region's outline join the candidate lines (a side the edge
model missed in clutter is still offered), and the front runners are reranked by their
edge score times their IoU with the region, to a power. A sheet on a stack, a sheet next
to another, half a page cut at a fold line all have sharp outlines; only one of them
covers the region. Two guards hand the choice back to the edges (step 4 as above): no
candidate fits the region (IoU below ``region_trust``: a close-up the head sees only in
scraps), or a strong line runs right across the region's pick (``region_defer``: on real
photos the head merges a book's two pages, or a page and the picture behind it) away from
the frame centre (``region_defer_aim``: people centre what they photograph, so a line
through the centre is the fold of a sheet photographed whole). Once deferred, the parts
that line separates are still ranked by edge score times region IoU (``region_defer_power``):
the region merged a page and the wall plaque above it, but covers the page most.

``refine_corners`` then snaps the sides to the strongest intensity step in the
full-resolution photo, which the coarse edge map cannot resolve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docscan.detect.geometry import order_corners, polygon_iou
from docscan.detect.quad_candidates import candidates
from docscan.detect.quad_confidence import confidence, pick_features
from docscan.detect.quad_lines import prepare
from docscan.detect.quad_params import DEFAULT_PARAMS, QuadParams
from docscan.detect.quad_pick import pick
from docscan.detect.quad_refine import refine_corners, refine_on_edge_map

NO_DOCUMENT = "no document found"

# Where each step lives: quad_lines (1-2), quad_candidates (3-4), quad_pick (4's rerank,
# the region guards), quad_refine (5 and refine_corners), geometry (plane geometry).
# polygon_iou is re-exported for docscan.convert.parity, which imports it from here.
__all__ = ["DEFAULT_PARAMS", "NO_DOCUMENT", "QuadParams", "QuadResult", "candidate_quads", "find_quad",
           "polygon_iou", "refine_corners"]


@dataclass
class QuadResult:
    corners: np.ndarray | None          # (4, 2) float32, clockwise from top-left, or None
    confidence: float                   # found: with a region map, quad_confidence's chance that
                                        # the corners are right; without, quad_pick's quality
                                        # (outline support, no edged outline inside); not found:
                                        # the outline support or the chance that fell short
    reason: str = ""                    # why corners is None
    features: dict | None = None        # found with a region map: quad_confidence's inputs


def find_quad(edge_prob: np.ndarray, image: np.ndarray | None = None,
              params: QuadParams = DEFAULT_PARAMS, region: np.ndarray | None = None) -> QuadResult:
    """Find the page outline in an edge-probability map (h, w) with values in [0, 1].

    ``region``: optional page-region probability map of the same shape (see the module
    doc); it picks among candidate quads and offers its own outline's sides.

    Corners come back in edge-map pixel coordinates, clockwise from the top-left. When
    ``image`` (any resolution, same framing) is given, the sides are also refined on it
    with ``refine_corners`` and mapped back to edge-map coordinates.
    """
    prep = prepare(edge_prob, params, region)
    cands = None if prep is None else candidates(prep.lines, prep.support_map, params)
    if cands is None:
        return QuadResult(None, 0.0, NO_DOCUMENT)
    h, w = prep.p.shape
    best = pick(cands, prep.lines, params, h, w, prep.region)
    conf = best.confidence
    # A page the region map outlines well is found even where its edges are faint
    # (white on white); confidence is then the region IoU.
    if best.region_iou is not None and conf < params.min_confidence and best.region_iou >= params.region_accept:
        conf = best.region_iou
    if conf < params.min_confidence:
        return QuadResult(None, conf, NO_DOCUMENT)
    features = chance = None
    if prep.region is not None:
        features = pick_features(best.corners, best.confidence, best.region_iou, best.inner_support, prep.p,
                                 prep.region)
        chance = confidence(features)
        # an edged outline the maps give almost no chance of being a page: a table top,
        # floor tiles, a window in a photo of no document at all
        if chance < params.min_chance:
            return QuadResult(None, chance, NO_DOCUMENT, features=features)
    corners = refine_on_edge_map(prep.p, prep.lines, best.line_ids, best.corners, params)
    if image is not None:
        ih, iw = image.shape[:2]
        scale = np.array([iw / w, ih / h])
        corners = (refine_corners(image, (corners + 0.5) * scale - 0.5) + 0.5) / scale - 0.5
    if chance is None:
        return QuadResult(order_corners(corners), best.quality)   # conf gates; quality is reported
    return QuadResult(order_corners(corners), chance, features=features)


def candidate_quads(edge_prob: np.ndarray, params: QuadParams = DEFAULT_PARAMS,
                    region: np.ndarray | None = None) -> np.ndarray:
    """Every quad ``find_quad`` chooses among, best edge score first, as (K, 4, 2) corners
    in edge-map pixels before any refinement; (0, 4, 2) if none. (Those of the 256 best
    edge-scored with a sane shape; the rest only when none of those has one.)

    With a labelled set, the best of them against the label is the ceiling of any rule that
    picks among these candidates (``benchmarks/region_oracle.py``).
    """
    prep = prepare(edge_prob, params, region)
    cands = None if prep is None else candidates(prep.lines, prep.support_map, params)
    return np.zeros((0, 4, 2)) if cands is None else cands.corners
