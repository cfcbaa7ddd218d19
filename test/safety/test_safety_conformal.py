"""Functional conformal band: coverage on fresh successes, level handling, too few rollouts."""

import numpy as np
import pytest

from vla_ros.safety import experiment
from vla_ros.safety.conformal import calibrate_band, min_calibration_size
from vla_ros.safety.errors import CalibrationError
from vla_ros.safety.experiment import split_rollouts, train_one
from vla_ros.safety.synthetic import SyntheticConfig, generate_rollouts


def _success_curves(rng, n):
    """Random-walk-like score curves of varying length with a time-varying spread."""
    out = []
    for _ in range(n):
        length = int(rng.integers(30, 60))
        steps = rng.gamma(2.0, 0.5, size=length) * (1 + np.linspace(0, 1, length))
        out.append(np.cumsum(steps) + rng.normal(scale=0.5, size=length))
    return out


@pytest.mark.parametrize("alpha", [0.1, 0.2])
def test_false_alarm_rate_on_fresh_successes_is_at_most_alpha(alpha):
    rng = np.random.default_rng(0)
    rates = []
    for trial in range(5):
        band = calibrate_band(_success_curves(rng, 200), alpha, seed=trial)
        fresh = _success_curves(rng, 1000)
        rates.append(np.mean([band.first_alarm(c) is not None for c in fresh]))
    assert np.mean(rates) <= alpha + 0.03
    assert np.mean(rates) >= alpha - 0.1  # not vacuous: the band is not at infinity


@pytest.mark.parametrize(("shape_from", "calibration"), [("calibration half", "pooled"),
                                                         ("train successes", "pooled"),
                                                         ("train successes", "tasks")])
def test_band_covers_real_detector_scores(shape_from, calibration, monkeypatch):
    """End to end on synthetic rollouts: fresh successes cross the band at a rate ≤ α.

    Both ways of fitting the band's centre/spread are checked: half of the calibration
    successes, or the training successes (then all calibration successes set q; always so
    for the task-balanced quantile).

    Coverage is marginal (over calibration draws), so the rate is averaged over six
    independent data sets; one draw with ~35 quantile rollouts varies by about ±0.07.
    """
    cfg = SyntheticConfig(feature_dim=10, seen_tasks=4, unseen_tasks=1, rollouts_per_task=60,
                          failure_rate=0.2, min_length=20, max_length=35, with_actions=False)
    monkeypatch.setattr(experiment, "SPLIT_CALIBRATION_MIN",
                        0 if shape_from == "calibration half" else 10_000)
    rates = []
    for seed in range(6):
        rs = generate_rollouts(cfg, seed=seed)
        splits = split_rollouts(rs, split_seed=seed, fractions=(0.3, 0.35, 0.35))
        trained = train_one("mahalanobis", splits, rs.feature_dim, seed=0, alpha=0.2,
                            calibration=calibration)
        assert (trained.band.weights is not None) == (calibration == "tasks")
        fresh = [r for r in splits.seen_test if r.success]
        assert len(fresh) >= 40
        rates.append(np.mean([trained.band.first_alarm(trained.detector.rollout_scores(r))
                              is not None for r in fresh]))
    assert np.mean(rates) <= 0.2 + 0.07
    assert np.mean(rates) > 0.05  # the band is not trivially high


def test_smaller_alpha_gives_a_higher_band_and_too_few_rollouts_fail():
    rng = np.random.default_rng(1)
    band = calibrate_band(_success_curves(rng, 60), 0.2)
    strict = band.with_alpha(0.05)
    assert np.all(strict.upper_curve(80) >= band.upper_curve(80))
    assert band.upper(10_000) == band.upper_curve(10_001)[-1]  # held beyond calibration length
    assert min_calibration_size(0.2) == 4
    with pytest.raises(CalibrationError, match="too few for alpha=0.2"):
        calibrate_band(_success_curves(rng, 3), 0.2)
    with pytest.raises(CalibrationError, match="alpha must be in"):
        band.with_alpha(1.5)


def test_band_keeps_rising_past_the_calibration_lengths():
    """A success that outlasts every calibration rollout is not flagged for its length."""
    rng = np.random.default_rng(2)
    curves = [np.arange(n, dtype=float) * rng.normal(0.5, 0.05) + rng.normal(scale=0.1, size=n)
              for n in rng.integers(20, 40, size=40)]
    band = calibrate_band(curves, 0.2)
    assert 0.4 < band.slope < 0.6
    long_success = np.arange(100) * 0.5
    assert band.first_alarm(long_success) is None
    assert band.first_alarm(np.arange(100) * 0.8) is not None  # growing faster: alarm
    falling = calibrate_band([np.r_[np.ones(30), np.zeros(n)] for n in range(5, 45)], 0.2)
    assert falling.slope == 0.0  # the band is never extended downward


def test_identical_curves_never_alarm_on_themselves():
    curves = [np.arange(20.0)] * 10
    band = calibrate_band(curves, 0.2)
    assert band.first_alarm(np.arange(20.0)) is None
    assert band.first_alarm(np.arange(20.0) + 1.0) == 0


def test_band_is_not_razor_thin_where_every_success_starts_alike():
    """Successes that all start at the same score (spread ~0 there) and then spread out:
    the band's spread is floored at its median, so a start a fraction of that typical spread
    higher is not flagged at step 0, while a curve far above the band still is."""
    rng = np.random.default_rng(3)
    curves = [np.r_[1.0 + rng.normal(scale=1e-3), 1.0 + np.cumsum(rng.normal(1.0, 0.5, 29))]
              for _ in range(60)]
    band = calibrate_band(curves, 0.2)
    typical = float(np.median(band.scale))
    assert band.scale[0] >= 0.9 * typical  # not the ~1e-3 spread of the starts
    start_higher = np.r_[1.0 + 0.5 * typical, curves[0][1:]]
    assert band.first_alarm(start_higher) is None
    assert band.first_alarm(curves[0] + 10 * typical) == 0


def _task_curves(rng, n, drift):
    return [np.cumsum(rng.gamma(2.0, 0.5 * drift, size=int(rng.integers(30, 50))))
            for _ in range(n)]


def test_task_balanced_quantile_equals_the_plain_one_for_equal_tasks():
    rng = np.random.default_rng(4)
    curves = _success_curves(rng, 80)
    groups = [f"task{i % 4}" for i in range(80)]
    for alpha in (0.05, 0.1, 0.2):
        plain = calibrate_band(curves, alpha, seed=1)
        balanced = calibrate_band(curves, alpha, seed=1, groups=groups)
        # the quantile split's groups are only nearly equal: q within one rank
        ranks = np.searchsorted(plain.residuals, [plain.q, balanced.q])
        assert abs(int(ranks[0]) - int(ranks[1])) <= 2


def test_task_balanced_band_covers_a_rare_task_the_pooled_band_flags():
    """Calibration dominated by an easy task (150 successes, low scores) and a rare hard
    one (30, scores growing twice as fast): the pooled band flags the hard task's fresh
    successes far above α; the task-balanced band keeps them near α, and successes of a
    task drawn uniformly from the two stay within α."""
    alpha = 0.1
    pooled_rates, balanced_rates, mixed_rates = [], [], []
    for trial in range(5):
        rng = np.random.default_rng(10 + trial)
        easy, hard = _task_curves(rng, 150, 1.0), _task_curves(rng, 30, 2.0)
        groups = ["easy"] * 150 + ["hard"] * 30
        pooled = calibrate_band(easy + hard, alpha, seed=trial)
        balanced = calibrate_band(easy + hard, alpha, seed=trial, groups=groups)
        fresh_hard = _task_curves(rng, 400, 2.0)
        fresh_mix = _task_curves(rng, 200, 1.0) + fresh_hard[:200]
        pooled_rates.append(np.mean([pooled.first_alarm(c) is not None for c in fresh_hard]))
        balanced_rates.append(np.mean([balanced.first_alarm(c) is not None
                                       for c in fresh_hard]))
        mixed_rates.append(np.mean([balanced.first_alarm(c) is not None for c in fresh_mix]))
    assert np.mean(pooled_rates) > 0.5
    assert np.mean(balanced_rates) <= 2 * alpha + 0.05
    assert np.mean(mixed_rates) <= alpha + 0.03


def test_task_balanced_band_needs_enough_successes_per_task_and_survives_a_save():
    from vla_ros.safety.conformal import ConformalBand

    rng = np.random.default_rng(5)
    curves = _success_curves(rng, 41)
    groups = ["common"] * 40 + ["rare"]
    with pytest.raises(CalibrationError, match="task-balanced weights: the smallest task"):
        calibrate_band(curves, 0.05, groups=groups, fit_curves=curves)
    with pytest.raises(CalibrationError, match="2 group labels for 41 curves"):
        calibrate_band(curves, 0.2, groups=["a", "b"])
    band = calibrate_band(curves[:40], 0.2, seed=0, groups=[f"t{i % 5}" for i in range(40)])
    again = ConformalBand.from_arrays(band.arrays(), 0.2)
    assert again.q == band.q and np.array_equal(again.weights, band.weights)
    assert again.with_alpha(0.1).q >= band.q
    bad = {**band.arrays(), "band.weights": -band.weights}
    with pytest.raises(CalibrationError, match="positive weights expected"):
        ConformalBand.from_arrays(bad, 0.2)
