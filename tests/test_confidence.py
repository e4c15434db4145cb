"""docscan.detect.confidence: AUROC and the wrong detections flagged at 95% of right kept."""

from __future__ import annotations

import numpy as np
import pytest

from docscan.detect.confidence import auroc, keep_threshold, separation


def test_auroc_perfect_inverted_and_chance():
    assert auroc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], [True, False, True, False]) == 0.5


def test_auroc_crafted_case_counts_pairs_and_ties_half():
    # right: 0.9, 0.7, 0.4; wrong: 0.7, 0.3. Pairs (right > wrong): 0.9 beats both (2),
    # 0.7 ties 0.7 (0.5) and beats 0.3 (1), 0.4 beats 0.3 (1): 4.5 of 6
    assert auroc([0.9, 0.7, 0.4, 0.7, 0.3], [True, True, True, False, False]) == pytest.approx(4.5 / 6)


def test_auroc_matches_pairwise_count_on_random_scores():
    rng = np.random.default_rng(3)
    s = np.round(rng.random(200), 2)       # many ties
    y = rng.random(200) < 0.7
    pos, neg = s[y], s[~y]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auroc(s, y) == pytest.approx(pairs / (len(pos) * len(neg)))


def test_auroc_needs_both_classes():
    assert auroc([0.1, 0.2], [True, True]) is None
    assert auroc([], []) is None


def test_keep_threshold_keeps_95_percent_of_the_right_ones():
    right = np.arange(1, 41) / 40.0          # 40 right detections: 2 may fall below
    t = keep_threshold(right, 0.95)
    assert t == pytest.approx(3 / 40)
    assert (right >= t).mean() >= 0.95 and (right >= right[3]).mean() < (right >= t).mean()
    assert keep_threshold([0.7], 0.95) == 0.7
    assert keep_threshold([], 0.95) is None


def test_separation_on_a_crafted_set():
    # 20 right ones (IoU 0.95) scored 0.81..1.0, 4 wrong ones; 3 score below the right ones
    right_scores = list(np.linspace(0.81, 1.0, 20))
    scores = right_scores + [0.2, 0.5, 0.8, 0.995]
    ious = [0.95] * 20 + [0.1, 0.0, 0.6, 0.3]
    s = separation(scores, ious)
    assert s["n_right"] == 20 and s["n_wrong"] == 4
    assert s["threshold"] == pytest.approx(0.82)          # one right one (0.81) may fall below
    assert s["kept_right"] == pytest.approx(0.95)
    assert s["flagged_wrong"] == pytest.approx(0.75)      # 0.2, 0.5, 0.8 flagged; 0.995 not
    assert s["auroc"] == pytest.approx((3 * 20 + 1) / 80)  # only the right 1.0 beats the wrong 0.995


def test_separation_iou_exactly_0_9_is_right_and_no_wrong_ones():
    s = separation([0.5, 0.6], [0.9, 0.95])
    assert s["n_wrong"] == 0 and s["auroc"] is None and s["flagged_wrong"] is None and s["kept_right"] == 1.0
