"""Evaluation metrics of the SAFE protocol.

- ROC-AUC of the max-so-far score at the shortest rollout's length: every rollout is cut
  to the same number of steps, so a score that only counts steps (failures often run
  longer) cannot separate the classes (time-only → 0.5).
- At the conformal band: TPR (failures alarmed), TNR (successes not alarmed), balanced
  accuracy, and mean detection time = alarm step / rollout length over alarmed failures.
ROC-AUC is the Mann-Whitney statistic (ties count one half); no sklearn needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vla_ros.safety.conformal import ConformalBand


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """P(score of a random failure > score of a random success) + ½ P(tie); NaN if one class."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(scores: Sequence[float], labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) over all thresholds, from (0,0) to (1,1)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    thresholds = np.r_[np.inf, np.unique(s)[::-1]]
    tpr = np.array([(s[y] >= t).mean() if y.any() else 0.0 for t in thresholds])
    fpr = np.array([(s[~y] >= t).mean() if (~y).any() else 0.0 for t in thresholds])
    return fpr, tpr


def truncated_max(curves: Sequence[np.ndarray], length: int | None = None) -> np.ndarray:
    """max_{t < L} s_t per rollout, L = the shortest rollout's length unless given."""
    n = min(len(c) for c in curves) if length is None else int(length)
    return np.array([float(np.max(np.asarray(c)[:n])) for c in curves])


@dataclass
class AlarmStats:
    tpr: float
    tnr: float
    balanced_accuracy: float
    detection_time: float  # mean alarm step / length over detected failures (NaN if none)
    alarms: list[int | None]


def alarm_stats(curves: Sequence[np.ndarray], labels: Sequence[int],
                band: ConformalBand) -> AlarmStats:
    alarms = [band.first_alarm(c) for c in curves]
    y = np.asarray(labels).astype(bool)
    flagged = np.array([a is not None for a in alarms])
    tpr = float(flagged[y].mean()) if y.any() else float("nan")
    tnr = float((~flagged[~y]).mean()) if (~y).any() else float("nan")
    times = [a / len(c) for a, c, fail in zip(alarms, curves, y, strict=True)
             if fail and a is not None]
    return AlarmStats(tpr, tnr, float(np.nanmean([tpr, tnr])),
                      float(np.mean(times)) if times else float("nan"), alarms)
