"""ROC-AUC (against brute force), ROC curve, alarm statistics."""

import numpy as np

from vla_ros.safety.conformal import ConformalBand
from vla_ros.safety.metrics import alarm_stats, roc_auc, roc_curve, truncated_max


def _brute_auc(s, y):
    pos, neg = s[y == 1], s[y == 0]
    return ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (
        len(pos) * len(neg))


def test_auc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(2, 40))
        s = rng.integers(0, 5, size=n).astype(float)  # many ties
        y = rng.integers(0, 2, size=n)
        if y.min() == y.max():
            continue
        assert abs(roc_auc(s, y) - _brute_auc(s, y)) < 1e-12


def test_auc_extremes_and_single_class():
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert np.isnan(roc_auc([0.1, 0.2], [1, 1]))


def test_roc_curve_runs_corner_to_corner_and_integrates_to_auc():
    rng = np.random.default_rng(1)
    s = rng.normal(size=60)
    y = (s + rng.normal(size=60) > 0).astype(int)
    fpr, tpr = roc_curve(s, y)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert abs(np.trapezoid(tpr, fpr) - roc_auc(s, y)) < 1e-9


def test_truncated_max_cuts_to_shortest():
    curves = [np.array([0.0, 5.0]), np.array([1.0, 0.0, 9.0])]
    np.testing.assert_array_equal(truncated_max(curves), [5.0, 1.0])


def test_alarm_stats():
    band = ConformalBand(np.zeros(4), np.ones(4), np.array([0.5]), alpha=0.5, split=False)
    curves = [np.array([0, 0, 2, 2.0]),  # failure caught at step 2 of 4
              np.array([0, 0, 0, 0.0]),  # failure missed
              np.array([0, 0.4, 0, 0.0]),  # success, no alarm
              np.array([3, 0, 0, 0.0])]  # success, false alarm
    stats = alarm_stats(curves, [1, 1, 0, 0], band)
    assert stats.alarms == [2, None, None, 0]
    assert (stats.tpr, stats.tnr, stats.balanced_accuracy) == (0.5, 0.5, 0.5)
    assert stats.detection_time == 0.5
