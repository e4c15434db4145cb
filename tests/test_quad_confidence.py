"""docscan.detect.quad_confidence: the features of a pick, read off real maps, and the fitted
chance that the pick is right, which ``find_quad`` reports for region-head models."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_quad import QUAD, S, edge_map, region_map

from docscan.detect.quad import DEFAULT_PARAMS, find_quad
from docscan.detect.quad_confidence import FEATURES, confidence, pick_features

ELSEWHERE = np.array([[5, 5], [60, 5], [60, 60], [5, 60]], np.float64)


def test_features_of_a_clean_page():
    res = find_quad(edge_map(QUAD), region=region_map(QUAD))
    f = res.features
    assert set(FEATURES) <= set(f)
    assert f["share"] > 0.95 and f["region_iou"] > 0.9
    assert f["region_in"] > 0.9                  # the region head is sure inside it
    assert f["edge_on_outline"] > 0.5            # its outline runs along the edges
    assert f["inner"] < 0.05                     # nothing edged inside a page
    assert res.confidence == pytest.approx(confidence(f))


def test_features_follow_the_maps():
    corners = QUAD.astype(np.float32)
    page, blank = edge_map(QUAD), np.zeros((S, S), np.float32)
    on = pick_features(corners, 1.0, 0.9, 0.0, page, region_map(QUAD))
    off = pick_features(corners, 1.0, 0.9, 0.0, blank, region_map(ELSEWHERE))
    assert on["edge_on_outline"] > 0.5 and off["edge_on_outline"] == 0.0
    assert on["region_in"] > 0.9 and off["region_in"] < on["region_in"] - 0.5
    # the pick's own measures are passed through
    assert (off["share"], off["region_iou"], off["inner"]) == (1.0, 0.9, 0.0)


def test_a_degenerate_pick_has_no_support():
    f = pick_features(np.full((4, 2), -50, np.float32), 0.0, 0.0, 0.0,
                      np.ones((S, S), np.float32), np.ones((S, S), np.float32))
    assert f["region_in"] == 0.0 and f["edge_on_outline"] == 0.0


@pytest.mark.parametrize("feature", ["region_iou", "region_in", "edge_on_outline"])
def test_more_evidence_for_the_page_raises_confidence(feature):
    base = {"region_iou": 0.7, "inner": 0.1, "region_in": 0.7, "edge_on_outline": 0.4}
    assert confidence({**base, feature: base[feature] + 0.2}) > confidence(base)


def test_an_edged_outline_inside_lowers_confidence():
    base = {"region_iou": 0.8, "inner": 0.0, "region_in": 0.8, "edge_on_outline": 0.5}
    assert confidence({**base, "inner": 1.0}) < confidence(base)


def test_confidence_is_a_probability_even_for_extreme_features():
    lo = confidence(dict.fromkeys(FEATURES, -1e6))
    hi = confidence(dict.fromkeys(FEATURES, 1e6))
    assert 0.0 <= lo <= 1.0 and 0.0 <= hi <= 1.0


def test_given_weights_replace_the_fitted_ones():
    f = dict.fromkeys(FEATURES, 1.0)
    assert confidence(f, dict.fromkeys(FEATURES, 0.0), 0.0) == 0.5


def test_region_disagreement_lowers_confidence_of_the_same_corners():
    edges = edge_map(QUAD)
    agree = find_quad(edges, region=region_map(QUAD))
    # (no floor on the chance: the same corners must come back to be compared)
    disagree = find_quad(edges, region=region_map(ELSEWHERE), params=dataclasses.replace(DEFAULT_PARAMS, min_chance=0.0))
    assert np.abs(agree.corners - disagree.corners).max() < 1.0
    assert disagree.confidence < agree.confidence


def test_without_a_region_map_there_are_no_features():
    res = find_quad(edge_map(QUAD))
    assert res.features is None and res.confidence > 0.95
