"""The SAFE evaluation protocol: split, train, calibrate, evaluate, tabulate.

Seen-task rollouts are split per (task, outcome) into train / calibration / seen-test
(default 60/20/20, fixed by `split_seed` so every detector and seed sees the same data);
unseen-task rollouts are test-only. Each detector is trained on train (novelty baselines
on its successes only), its band is calibrated on the calibration successes at level α
(centre/spread from half of them, or from the training successes when there are fewer
than SPLIT_CALIBRATION_MIN), and it is scored on seen-test and unseen: ROC-AUC of the
truncated max-so-far score and TPR / TNR / balanced accuracy / detection time at the
band. Several training seeds give mean ± std.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vla_ros.safety.conformal import ConformalBand, calibrate_band
from vla_ros.safety.detector import Detector
from vla_ros.safety.errors import RolloutDataError
from vla_ros.safety.metrics import alarm_stats, roc_auc, truncated_max
from vla_ros.safety.registry import make_detector
from vla_ros.safety.rollouts import Rollout, RolloutSet

EVAL_SETS = ("seen", "unseen")
CALIBRATIONS = ("tasks", "pooled")  # conformal quantile: task-balanced | every success alike
# Below this many calibration successes the band's centre/spread are fitted on the training
# successes and all calibration successes set the quantile (instead of halving them).
SPLIT_CALIBRATION_MIN = 40

# Options that keep CPU training to minutes; the LSTM is the slow one.
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "safe_mlp": {"hidden": 256, "epochs": 300},
    "safe_lstm": {"hidden": 256, "epochs": 60},
}


@dataclass
class Splits:
    train: list[Rollout]
    calibration: list[Rollout]
    seen_test: list[Rollout]
    unseen: list[Rollout]

    def ids(self) -> dict[str, list[str]]:
        return {k: [r.rollout_id for r in getattr(self, k)]
                for k in ("train", "calibration", "seen_test", "unseen")}

    def test(self, which: str) -> list[Rollout]:
        return self.seen_test if which == "seen" else self.unseen


def split_rollouts(rollouts: RolloutSet | Sequence[Rollout], split_seed: int = 0,
                   fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> Splits:
    """Stratified per (task, success) split of seen rollouts; unseen rollouts → test."""
    rng = np.random.default_rng(split_seed)
    groups: dict[tuple[str, bool], list[Rollout]] = defaultdict(list)
    unseen = []
    for r in rollouts:
        (unseen.append(r) if r.split == "unseen" else groups[(r.task, r.success)].append(r))
    parts: tuple[list[Rollout], list[Rollout], list[Rollout]] = ([], [], [])
    total = sum(fractions)
    for key in sorted(groups):
        group = groups[key]
        order = rng.permutation(len(group))
        n_train = int(math.floor(len(group) * fractions[0] / total + 0.5))
        n_cal = int(math.floor(len(group) * fractions[1] / total + 0.5))
        for rank, i in enumerate(order):
            which = 0 if rank < n_train else (1 if rank < n_train + n_cal else 2)
            parts[which].append(group[i])
    splits = Splits(*parts, unseen)
    if not splits.train or not any(r.success for r in splits.calibration):
        raise RolloutDataError(
            "too few seen-task rollouts to train and calibrate: need successes in both the "
            "train and the calibration split (seen tasks have split='seen')")
    return splits


@dataclass
class Trained:
    detector: Detector
    band: ConformalBand
    seed: int


def train_one(name: str, splits: Splits, feature_dim: int, seed: int, alpha: float,
              options: dict[str, Any] | None = None, calibration: str = "tasks") -> Trained:
    """Train `name` on the train split and calibrate its band on calibration successes,
    task-balanced (`calibration="tasks"`, every seen task weighs the same) or `"pooled"`
    (every success weighs the same; docs/safety.md)."""
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
    opts = {**DEFAULT_OPTIONS.get(name, {}), **(options or {})}
    detector = make_detector(name, feature_dim, **opts).fit(splits.train, seed=seed)
    successes = [r for r in splits.calibration if r.success]
    curves = [detector.rollout_scores(r) for r in successes]
    groups = [r.task for r in successes] if calibration == "tasks" else None
    fit = None
    # Shape the band (mu_t, sigma_t) on the training successes and let every calibration
    # success set q when halving would leave too few: below SPLIT_CALIBRATION_MIN in all,
    # or task-balanced (the quantile is per task: ~6 successes per task in a half of the
    # shipped data, and q varied by 20 points between seeds; docs/safety.md).
    if calibration == "tasks" or len(curves) < SPLIT_CALIBRATION_MIN:
        fit = [detector.rollout_scores(r) for r in splits.train if r.success]
    band = calibrate_band(curves, alpha, seed=seed, fit_curves=fit, groups=groups)
    return Trained(detector, band, seed)


@dataclass
class EvalResult:
    auc: float
    tpr: float
    tnr: float
    balanced_accuracy: float
    detection_time: float
    n_success: int
    n_failure: int
    curves: list[np.ndarray] = field(default_factory=list, repr=False)
    labels: list[int] = field(default_factory=list, repr=False)
    alarmed: list[bool] = field(default_factory=list, repr=False)
    modes: list[str] = field(default_factory=list, repr=False)  # failure_mode per rollout


def evaluate(trained: Trained, rollouts: Sequence[Rollout]) -> EvalResult:
    curves = [trained.detector.rollout_scores(r) for r in rollouts]
    labels = [r.label for r in rollouts]
    auc = roc_auc(truncated_max(curves), labels) if curves else float("nan")
    stats = alarm_stats(curves, labels, trained.band)
    n_fail = int(sum(labels))
    return EvalResult(auc, stats.tpr, stats.tnr, stats.balanced_accuracy,
                      stats.detection_time, len(labels) - n_fail, n_fail, curves, labels,
                      [a is not None for a in stats.alarms],
                      [r.failure_mode or "success" for r in rollouts])


def applicable(name: str, rollouts: RolloutSet) -> bool:
    """STAC needs action chunks [T, H, A] in every rollout."""
    return name != "stac" or rollouts.has_action_chunks


def run_protocol(rollouts: RolloutSet, names: Sequence[str], seeds: Sequence[int],
                 alpha: float = 0.2, split_seed: int = 0,
                 options: dict[str, dict[str, Any]] | None = None,
                 calibration: str = "tasks",
                 on_trained: Callable[[str, Trained], None] | None = None,
                 progress: Callable[[str], None] | None = None,
                 ) -> tuple[Splits, dict[str, list[dict[str, EvalResult]]]]:
    """Train + calibrate + evaluate every detector for every seed.

    Returns the splits and {detector: [ {"seen": EvalResult, "unseen": EvalResult} per seed ]}.
    """
    splits = split_rollouts(rollouts, split_seed)
    results: dict[str, list[dict[str, EvalResult]]] = {}
    for name in names:
        if not applicable(name, rollouts):
            continue
        for seed in seeds:
            if progress:
                progress(f"{name} seed {seed}")
            trained = train_one(name, splits, rollouts.feature_dim, seed, alpha,
                                (options or {}).get(name), calibration)
            if on_trained:
                on_trained(name, trained)
            results.setdefault(name, []).append(
                {k: evaluate(trained, splits.test(k)) for k in EVAL_SETS})
    return splits, results


COLUMNS = [("auc", "ROC-AUC"), ("balanced_accuracy", "bal. acc"), ("tpr", "TPR"),
           ("tnr", "TNR"), ("detection_time", "det. time")]


def _cell(values: list[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return "–"
    return f"{v.mean():.3f} ± {v.std():.3f}" if v.size > 1 else f"{v.mean():.3f}"


def results_table(results: dict[str, list[dict[str, EvalResult]]], alpha: float) -> str:
    """Markdown table: mean ± std over seeds, seen-test then unseen columns."""
    head = ["detector", "seeds"] + [f"{label} {k}" for k in EVAL_SETS for _, label in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, per_seed in results.items():
        row = [name, str(len(per_seed))]
        for k in EVAL_SETS:
            for attr, _ in COLUMNS:
                row.append(_cell([getattr(r[k], attr) for r in per_seed]))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(f"ROC-AUC: max-so-far score truncated to the shortest rollout of each test "
                 f"set; TPR/TNR/balanced accuracy/detection time (fraction of the episode "
                 f"before the alarm, detected failures only) at the conformal band, "
                 f"alpha={alpha}.")
    return "\n".join(lines)


def failure_mode_table(results: dict[str, list[dict[str, EvalResult]]]) -> str:
    """Alarm rate per failure mode (seen-test + unseen pooled, mean over seeds).

    The "success" column is the false-alarm rate; the others are per-mode TPRs, which show
    *what* a detector catches (e.g. image corruption vs. a wrong target).
    """
    modes = sorted({m for per_seed in results.values() for r in per_seed
                    for k in EVAL_SETS for m in r[k].modes} - {"success"})
    cols = ["success"] + modes
    counts = {m: 0 for m in cols}
    any_seed = next(iter(results.values()))[0]
    for k in EVAL_SETS:
        for m in any_seed[k].modes:
            counts[m] += 1
    head = ["detector"] + [f"{m} (n={counts[m]})" for m in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, per_seed in results.items():
        row = [name]
        for m in cols:
            rates = []
            for r in per_seed:
                hits = [a for k in EVAL_SETS for a, mm in zip(r[k].alarmed, r[k].modes,
                                                               strict=True) if mm == m]
                rates.append(np.mean(hits) if hits else np.nan)
            row.append("–" if np.all(np.isnan(rates)) else f"{np.nanmean(rates):.2f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
