"""Functional conformal prediction: a time-varying upper band for successful rollouts.

Why functional: an alarm fires at the *first* step a score crosses the band, so what must
be controlled is the chance that a successful rollout crosses it *anywhere*, not at one
step. We use a modulated max-over-time nonconformity score:

1. split the calibration successes in two (`fit_fraction`): on the first part estimate a
   per-step centre mu_t and spread sigma_t of the score curves;
2. on the second part compute for each rollout r_i = max_t (s_i(t) − mu_t) / sigma_t;
3. q = the ceil((n + 1)(1 − α))-th smallest r_i; the band is upper_t = mu_t + q·sigma_t.

If a new successful rollout is exchangeable with the second part, P(max_t (s_t − mu_t) /
sigma_t > q) ≤ α, i.e. it crosses the band anywhere with probability ≤ α. Alarms use a
strict `s_t > upper_t`, so ties (e.g. the time-only score, identical for every rollout)
do not break the guarantee. mu_t, sigma_t are estimated only where at least a quarter of
the fit curves reach t; after that sigma is held and mu continues along its recent upward
slope (never downward). Any band shape fixed before the quantile data are seen keeps the
guarantee; this one avoids flagging successes only for running long. The residuals are
stored, so the band can be re-derived for another α without recalibrating (`with_alpha`).

Task-balanced calibration (`groups`, e.g. each rollout's task): the plain quantile treats
every calibration success alike, so tasks with many short, easy successes set the band
and a new, harder task is flagged far more often than α (docs/results.md §2). With groups,
each residual gets weight 1/(successes of its group) and q is the weighted conformal
quantile of Tibshirani et al. (2019, "Conformal prediction under covariate shift"): the
guarantee holds for a success of a task drawn uniformly from the calibration tasks, the
new point counted with the largest weight (conservative: its task is unknown).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from vla_ros.safety.errors import CalibrationError

MIN_SUPPORT = 0.25  # fraction of fit curves that must reach step t to estimate mu_t, sigma_t
# sigma_t >= this x the median sigma. Every successful rollout starts alike, so the first
# steps' spread is tiny and a band of mu_t + q sigma_t there alarms on the smallest change
# of layout or instruction: most of SAFE-MLP's false alarms came in the first two steps
# (32 of 40 on the stage-3 policy's rollouts, docs/results.md; none with the floor at
# 1.0). Any floor keeps the conformal guarantee: it shapes the band before the quantile
# split is seen.
SCALE_FLOOR = 1.0


@dataclass(frozen=True)  # frozen: q is cached, so nothing it depends on may change
class ConformalBand:
    center: np.ndarray  # mu_t [L]
    scale: np.ndarray  # sigma_t [L] (> 0)
    residuals: np.ndarray  # sorted nonconformity scores of the quantile split
    alpha: float
    split: bool = True  # False: centre/spread and quantile from the same rollouts
    slope: float = 0.0  # growth of mu_t per step past the well-supported steps (>= 0)
    weights: np.ndarray | None = None  # per residual (task-balanced); None = all equal

    @cached_property
    def q(self) -> float:
        """Computed once: the failure_detector node reads the band every step."""
        return conformal_quantile(self.residuals, self.alpha, self.weights)

    def upper(self, t: int) -> float:
        return float(self.upper_curve(int(t) + 1)[-1])

    def upper_curve(self, length: int) -> np.ndarray:
        center, scale = _extend(self.center, self.scale, self.slope, length)
        return center + self.q * scale

    def first_alarm(self, scores: np.ndarray) -> int | None:
        """The first step with score > upper_t, or None."""
        s = np.asarray(scores, dtype=np.float64)
        hit = np.flatnonzero(s > self.upper_curve(len(s)))
        return int(hit[0]) if hit.size else None

    def with_alpha(self, alpha: float) -> ConformalBand:
        conformal_quantile(self.residuals, alpha, self.weights)  # raises if too few
        return ConformalBand(self.center, self.scale, self.residuals, float(alpha), self.split,
                             self.slope, self.weights)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"band.center": self.center, "band.scale": self.scale,
               "band.residuals": self.residuals, "band.slope": np.array([self.slope])}
        if self.weights is not None:
            out["band.weights"] = self.weights
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], alpha: float,
                    split: bool = True) -> ConformalBand:
        residuals = np.asarray(arrays["band.residuals"], np.float64)
        weights = arrays.get("band.weights")
        order = np.argsort(residuals, kind="stable")
        if weights is not None:
            weights = np.asarray(weights, np.float64)
            if weights.shape != residuals.shape or not np.all(weights > 0):
                raise CalibrationError(
                    f"band.weights: {weights.shape} positive weights expected, one per "
                    f"residual {residuals.shape}")
            weights = weights[order]
        return cls(np.asarray(arrays["band.center"], np.float64),
                   np.asarray(arrays["band.scale"], np.float64), residuals[order],
                   float(alpha), split, float(np.asarray(arrays["band.slope"]).reshape(-1)[0]),
                   weights)


def min_calibration_size(alpha: float) -> int:
    """Smallest n with ceil((n + 1)(1 − α)) ≤ n (a finite quantile)."""
    return math.ceil((1 - alpha) / alpha)


def conformal_quantile(residuals: np.ndarray, alpha: float,
                       weights: np.ndarray | None = None) -> float:
    if not 0 < alpha < 1:
        raise CalibrationError(f"alpha must be in (0, 1), got {alpha}")
    if weights is not None:
        return _weighted_quantile(np.asarray(residuals, np.float64),
                                  np.asarray(weights, np.float64), alpha)
    n = len(residuals)
    k = math.ceil((n + 1) * (1 - alpha))
    if k > n:
        raise CalibrationError(
            f"{n} calibration successes are too few for alpha={alpha}: need at least "
            f"{min_calibration_size(alpha)} in the quantile split")
    return float(np.sort(residuals)[k - 1])


def _weighted_quantile(residuals: np.ndarray, weights: np.ndarray, alpha: float) -> float:
    """Smallest r_i whose weighted rank reaches 1 − α, the test point weighing max(w)."""
    order = np.argsort(residuals, kind="stable")
    r, w = residuals[order], weights[order]
    reach = np.cumsum(w) / (w.sum() + w.max())
    k = int(np.searchsorted(reach, 1 - alpha - 1e-12))
    if k >= len(r):
        raise CalibrationError(
            f"{len(r)} calibration successes are too few for alpha={alpha} with "
            f"task-balanced weights: the smallest task has {round(1 / w.max())} of them in "
            f"the quantile split; use a larger alpha or more rollouts")
    return float(r[k])


def group_weights(groups: Sequence[str]) -> np.ndarray:
    """1 / (members of the group) per item: every group weighs the same in total."""
    _, inverse, counts = np.unique(np.asarray(groups, dtype=str), return_inverse=True,
                                   return_counts=True)
    return 1.0 / counts[inverse].astype(np.float64)


def calibrate_band(curves: Sequence[np.ndarray], alpha: float, fit_fraction: float = 0.5,
                   seed: int = 0, fit_curves: Sequence[np.ndarray] | None = None,
                   groups: Sequence[str] | None = None) -> ConformalBand:
    """Band from score curves of successful calibration rollouts (see module doc).

    With `fit_curves` (e.g. the training successes' curves), mu/sigma come from those and
    every calibration curve goes to the quantile: still valid (the band's shape does not
    depend on the calibration data) and better when calibration successes are few.
    With `groups` (one label per curve, e.g. its task) the quantile is task-balanced.
    """
    if groups is not None and len(groups) != len(curves):
        raise CalibrationError(f"{len(groups)} group labels for {len(curves)} curves")
    keep = [i for i, c in enumerate(curves) if len(c)]
    labels = None if groups is None else [str(groups[i]) for i in keep]
    curves = [np.asarray(curves[i], dtype=np.float64) for i in keep]
    n = len(curves)
    need = min_calibration_size(alpha)
    if fit_curves is not None:
        fit_list = [np.asarray(c, dtype=np.float64) for c in fit_curves if len(c)]
        if len(fit_list) < 2:
            raise CalibrationError("need at least 2 curves to fit the band's centre/spread")
        if n < need:
            raise CalibrationError(
                f"{n} successful calibration rollouts are too few for alpha={alpha}: need "
                f"at least {need}")
        center, scale, slope = _center_scale(fit_list)
        return _band(curves, labels, center, scale, slope, alpha, True)
    order = np.random.default_rng(seed).permutation(n)
    n_fit = int(round(n * fit_fraction))
    split = n_fit >= 2 and n - n_fit >= need
    quant_idx = order[n_fit:] if split else np.arange(n)
    fit = [curves[i] for i in order[:n_fit]] if split else curves
    quant = [curves[i] for i in quant_idx]
    if len(quant) < need:
        raise CalibrationError(
            f"{n} successful calibration rollouts are too few for alpha={alpha}: need at "
            f"least {need} (more with a split)")
    center, scale, slope = _center_scale(fit)
    quant_labels = None if labels is None else [labels[i] for i in quant_idx]
    return _band(quant, quant_labels, center, scale, slope, alpha, split)


def _band(quant: list[np.ndarray], labels: list[str] | None, center: np.ndarray,
          scale: np.ndarray, slope: float, alpha: float, split: bool) -> ConformalBand:
    """Residuals of the quantile curves (sorted, with their weights) → the band."""
    residuals = np.array([_residual(c, center, scale, slope) for c in quant])
    order = np.argsort(residuals, kind="stable")
    weights = None if labels is None else group_weights(labels)[order]
    band = ConformalBand(center, scale, residuals[order], float(alpha), split, slope, weights)
    _ = band.q  # computed (and cached) now, so an alpha out of reach raises here
    return band


def _center_scale(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    length = max(len(c) for c in curves)
    padded = np.full((len(curves), length), np.nan)
    for i, c in enumerate(curves):
        padded[i, : len(c)] = c
    count = np.sum(~np.isnan(padded), axis=0)
    with np.errstate(invalid="ignore"):
        center = np.nanmean(padded, axis=0)
        spread = np.nanstd(padded, axis=0)
    # Where only a few curves are left, mu/sigma are noise (the band would wobble and drop
    # just where long rollouts are judged): continue from the last well-supported step,
    # the centre along its recent upward trend (cumulative scores keep growing; a flat tail
    # would flag every success that runs long), the spread held.
    usable = np.flatnonzero(count >= max(2, math.ceil(MIN_SUPPORT * len(curves))))
    last = int(usable[-1]) if usable.size else 0
    window = max(3, (last + 1) // 5)
    slope = 0.0
    if last >= window:  # per-curve growth of the curves that reach `last` (no survivor shift)
        reach = ~np.isnan(padded[:, last])
        slope = max(0.0, float(np.mean(padded[reach, last] - padded[reach, last - window]))
                    / window)
    center, spread = _extend(center[: last + 1], spread[: last + 1], slope, length)
    positive = spread[spread > 0]
    floor = max(1e-6, SCALE_FLOOR * float(np.median(positive))) if positive.size else 1.0
    return center, np.maximum(spread, floor), slope


def _extend(center: np.ndarray, scale: np.ndarray, slope: float,
            length: int) -> tuple[np.ndarray, np.ndarray]:
    """mu_t, sigma_t for t < length: stored values, then mu rising by `slope`, sigma held."""
    t = np.arange(length)
    idx = np.minimum(t, len(center) - 1)
    past = np.maximum(t - (len(center) - 1), 0)
    return center[idx] + slope * past, scale[idx]


def _residual(curve: np.ndarray, center: np.ndarray, scale: np.ndarray, slope: float) -> float:
    mu, sigma = _extend(center, scale, slope, len(curve))
    return float(np.max((curve - mu) / sigma))
