"""The quad finder's choice and confidence on a page lying on a light table (issue 15):
the page, fully edged, is not the table top it lies on, and a pick that holds another
edged outline, or that the region map does not cover, is reported with low confidence."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from test_quad import QUAD, edge_map, region_map

from docscan.detect.geometry import polygon_iou
from docscan.detect.quad import DEFAULT_PARAMS, NO_DOCUMENT, find_quad
from docscan.detect.quad_pick import _quality

TABLE = np.array([[20, 14], [236, 20], [244, 250], [10, 244]], np.float64)
PAGE = np.array([[80, 70], [180, 76], [176, 196], [76, 190]], np.float64)
# the quad finder's weights before issue 15
OLD = dataclasses.replace(DEFAULT_PARAMS, ratio_power=2.0, region_power=4.0)


def page_on_table():
    """A table top edged about 80% of the way round (its far edge fades into the wall),
    the page on it edged all round, and a region map that covers the page and, half as
    sure, the rest of the table (what the region head gives for white paper on a light
    grey table: about as good a fit to either)."""
    table = edge_map(TABLE)
    cv2.line(table, (60, 17), (150, 19), 0.0, 7)     # gaps along the table's far edge
    cv2.line(table, (240, 120), (242, 190), 0.0, 7)  # ... and its right side
    m = np.maximum(table, edge_map(PAGE))
    return m, np.maximum(0.5 * region_map(TABLE), region_map(PAGE))


def test_the_page_not_the_table_it_lies_on():
    m, region = page_on_table()
    res = find_quad(m, region=region)
    assert polygon_iou(res.corners, PAGE) > 0.95
    old = find_quad(m, params=OLD, region=region)
    assert polygon_iou(old.corners, TABLE) > 0.9      # the table top won before


def test_a_pick_holding_an_edged_outline_is_not_confident():
    m, region = page_on_table()
    page = find_quad(m, region=region)
    table = find_quad(m, params=OLD, region=region)
    # the table pick holds the page's outline: it is less sure than the page, and not sure
    # at all (both are modest: the region map fits neither well)
    assert table.confidence < page.confidence
    assert table.confidence < 0.5
    assert page.confidence == pytest.approx(find_quad(edge_map(PAGE), region=region).confidence, abs=0.02)


def test_a_clean_page_is_confident_and_region_disagreement_lowers_it():
    clean = find_quad(edge_map(QUAD), region=region_map(QUAD))
    assert clean.confidence > 0.85
    region = region_map(np.array([[5, 5], [40, 5], [40, 40], [5, 40]]))
    elsewhere = find_quad(edge_map(QUAD), params=dataclasses.replace(DEFAULT_PARAMS, min_chance=0.0), region=region)
    assert polygon_iou(elsewhere.corners, QUAD) > 0.95    # the edges still decide ...
    assert elsewhere.confidence < 0.2                      # ... but the region head saw no page there
    # ... so little that, with the default floor on that chance, it is no page at all
    assert elsewhere.confidence < DEFAULT_PARAMS.min_chance
    rejected = find_quad(edge_map(QUAD), region=region)
    assert rejected.corners is None and rejected.reason == NO_DOCUMENT
    assert rejected.confidence == pytest.approx(elsewhere.confidence) and rejected.features is not None
    edges_only = find_quad(edge_map(QUAD))
    assert edges_only.confidence > 0.95


def test_quality_formula():
    p = DEFAULT_PARAMS
    assert _quality(1.0, None, 0.0, p) == 1.0
    assert _quality(0.9, None, 0.0, p) == pytest.approx(0.81)
    assert _quality(1.0, 0.8, 0.25, p) == pytest.approx(0.8 * 0.75)
    assert _quality(1.0, 0.8, 1.5, p) == 0.0
    # a weakly edged page the region map outlines well: its region IoU, as find_quad accepts it
    assert _quality(0.2, 0.9, 0.0, p) == pytest.approx(0.9)
