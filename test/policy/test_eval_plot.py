"""eval.png: outcome shares per task and the success rate's Wilson interval."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.policy.eval_plot import OUTCOMES, outcome_counts, plot_eval, wilson_interval
from vla_ros.policy.evaluate import EpisodeResult, TaskSummary
from vla_ros.sim.target_trace import TargetTrace


def _episode(success: bool, trace: TargetTrace | None) -> EpisodeResult:
    return EpisodeResult("pick_cube", "seen", 0, "pick", success, 1.0, 0.0, np.zeros(0),
                         np.zeros((0, 0)), np.zeros((0, 0, 0)), np.zeros(0, bool),
                         target=trace)


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(10, 10)
    assert lo == pytest.approx(0.7225, abs=1e-4) and hi == pytest.approx(1.0)
    lo, hi = wilson_interval(20, 40)
    assert lo == pytest.approx(1 - hi) and lo == pytest.approx(0.352, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_outcomes_and_plot(tmp_path):
    results = [_episode(True, TargetTrace(0.0, 0.1, None)),
               _episode(False, TargetTrace(0.3, 0.0, None)),
               _episode(False, TargetTrace(0.01, 0.0, None)),
               _episode(False, TargetTrace(0.01, 0.2, None)),
               _episode(False, None)]
    assert list(outcome_counts(results).values()) == [1, 1, 1, 1, 1]
    assert list(outcome_counts(results)) == list(OUTCOMES)
    path = plot_eval([TaskSummary("pick_cube", "seen", results),
                      TaskSummary("close_door", "unseen", results[1:2])],
                     tmp_path / "eval.png", "title")
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 400
