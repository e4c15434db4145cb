"""The quad finder's tuning knobs, one frozen dataclass (see ``docscan.detect.quad``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from docscan.errors import DocscanError


@dataclass(frozen=True)
class QuadParams:
    min_contrast: float = 0.12      # strong edges (99.7th percentile) minus the median: below is blank
    ridge_threshold: float = 0.3    # ridge pixels kept for line detection
    peak_quantile: float = 0.997    # the map's strong-edge level (edges are a few % of pixels)
    smooth: float = 1.0             # Gaussian sigma before ridge detection, per 256 px of map
    interior_penalty: float = 2.0   # per pixel of supported edge inside a candidate quad
    rerank: int = 16                # candidates reranked with the interior penalty
    interior_cover: float = 0.8     # ... counting lines supported over this share of the crossing
    support_lo: float = 0.1         # edge probability giving 0 support ...
    support_hi: float = 0.75        # ... and full support (linear in between)
    max_lines: int = 14             # real lines kept for candidate enumeration
    max_per_direction: int = 6      # ... of which at most this many within 15 degrees
    border_support: float = 0.3     # support credited along a frame border used as a side
    unsupported_penalty: float = 1.0
    min_area: float = 0.04          # fraction of the frame
    min_angle_deg: float = 35.0     # interior angles within [min, 180 - min]
    max_outside: float = 0.35       # corners may lie this fraction of the frame outside it
    min_side_cover: float = 0.2     # each real side: supported share of its in-frame part
    min_confidence: float = 0.35    # supported share of the pick's outline: below is no document
    min_chance: float = 0.01        # with a region map, the pick's fitted chance of being the page
                                    # (quad_confidence): below is no document. On the author's 207
                                    # background photos (no page in them) 68 picks stay, against 197
                                    # with none; no right pick lost on 1300 synthetic scenes nor on
                                    # the real views (0.02 lost two of a notebook's, with two looks).
    hough_votes: float = 0.04       # HoughLinesP threshold, min segment length and gap,
    min_segment: float = 0.06       # ... as fractions of the map's short side
    max_gap: float = 0.03
    ratio_power: float = 12.0       # score *= (supported share of the in-frame outline) ** this
                                    # (2 until issue 15: a table top edged at 90% outscored the
                                    # fully edged page on it on light grey tables)
    # with a region map:
    region_rerank: int = 32         # front runners reranked by IoU with the region
    region_power: float = 2.0       # rank key = edge score * IoU ** this (4 until issue 15)
    region_scale: int = 4           # IoUs on the region map shrunk by this factor
    region_accept: float = 0.85     # IoU that accepts a quad whose edge support is weak
    region_line_support: float = 0.3   # support credited along a region side
    region_trust: float = 0.5       # below this IoU of the region's pick, the edges decide
    region_defer: float = 0.5       # a line across the region's pick supported over this share
                                    # of the pick's size hands the choice back to the edges,
    region_defer_aim: float = 0.05  # ... if it runs off the frame centre by more than this
                                    # share of the pick's width across it
    region_defer_power: float = 2.0 # ... where edge score (less the line across) * region IoU ** this
                                    # picks among the parts (0: edge score alone, until stop 22)
    # the reported confidence (``docscan.detect.quad_pick``): share ** p * region IoU ** q
    # * (1 - w * support of the lines inside per pixel of perimeter)
    confidence_share_power: float = 2.0
    confidence_region_power: float = 1.0
    confidence_inner_weight: float = 1.0


DEFAULT_PARAMS = QuadParams()


def parse_setting(text: str) -> dict:
    """``KEY=VALUE`` -> {KEY: VALUE as the field's type}; DocscanError naming what is wrong."""
    key, sep, value = text.partition("=")
    if not sep or not hasattr(DEFAULT_PARAMS, key):
        fields = ", ".join(f.name for f in dataclasses.fields(DEFAULT_PARAMS))
        raise DocscanError(f"{text}: expected KEY=VALUE with KEY one of {fields}")
    kind = type(getattr(DEFAULT_PARAMS, key))
    try:
        return {key: kind(value)}
    except ValueError:
        raise DocscanError(f"{text}: {key} takes a {kind.__name__}") from None
