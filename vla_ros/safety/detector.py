"""The one interface every failure detector exposes, streaming and batch alike.

`reset()` starts an episode; `update(feature_t, action_chunk_t=None) -> score_t` consumes
one inference call's feature vector (and action chunk, for detectors that read actions)
and returns the running failure score; `scores(features, actions=None) -> [T]` computes
the same scores for a whole rollout at once (tests check both agree). Scores are causal:
s_t depends on steps 0..t only. Higher means "more likely failing".

Inference runs on numpy only (weights trained with torch are copied out), so the node and
the benchmark need no torch at run time and per-step overhead stays in microseconds.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from vla_ros.safety.errors import DetectorCheckpointError, DetectorInputError
from vla_ros.safety.rollouts import Rollout


class Detector(abc.ABC):
    """Base class: input checks, standardisation, (de)serialisation of state."""

    name: ClassVar[str] = ""
    needs_actions: ClassVar[bool] = False
    supervised: ClassVar[bool] = False  # trains on failures too (else: successes only)

    def __init__(self, feature_dim: int, **options: Any) -> None:
        if feature_dim <= 0:
            raise ValueError(f"{self.name}: feature_dim must be > 0, got {feature_dim}")
        self.feature_dim = int(feature_dim)
        self.options = dict(options)
        self.mean = np.zeros(self.feature_dim, np.float32)
        self.std = np.ones(self.feature_dim, np.float32)
        self.fitted = False

    # --- training -------------------------------------------------------------------
    def fit(self, rollouts: Sequence[Rollout], seed: int = 0) -> Detector:
        """Train on `rollouts` (labels used only by supervised detectors)."""
        if not rollouts:
            raise ValueError(f"{self.name}: no training rollouts")
        for r in rollouts:
            if r.feature_dim != self.feature_dim:
                raise DetectorInputError(
                    f"{self.name}: rollout {r.rollout_id or r.task} has feature dimension "
                    f"{r.feature_dim}, detector expects {self.feature_dim}")
        pool = rollouts if self.supervised else [r for r in rollouts if r.success]
        if not pool:
            raise ValueError(f"{self.name}: needs successful training rollouts, got none")
        stacked = np.concatenate([r.features for r in pool]).astype(np.float64)
        self.mean = stacked.mean(0).astype(np.float32)
        self.std = np.maximum(stacked.std(0), 1e-6).astype(np.float32)
        self._fit(list(rollouts) if self.supervised else pool, seed)
        self.fitted = True
        self.reset()
        return self

    @abc.abstractmethod
    def _fit(self, rollouts: list[Rollout], seed: int) -> None: ...

    def standardize(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    # --- scoring --------------------------------------------------------------------
    @abc.abstractmethod
    def reset(self) -> None:
        """Forget the running episode."""

    @abc.abstractmethod
    def _update(self, feature: np.ndarray, chunk: np.ndarray | None) -> float: ...

    @abc.abstractmethod
    def _scores(self, features: np.ndarray, actions: np.ndarray | None) -> np.ndarray: ...

    def update(self, feature: np.ndarray, action_chunk: np.ndarray | None = None) -> float:
        """Score after one more step; raises DetectorInputError for bad input."""
        x = np.asarray(feature, dtype=np.float32).reshape(-1)
        if x.shape != (self.feature_dim,):
            raise DetectorInputError(
                f"{self.name}: feature vector has {x.size} values, expected "
                f"{self.feature_dim} (was the detector trained for another policy?)")
        if not np.all(np.isfinite(x)):
            raise DetectorInputError(
                f"{self.name}: feature vector holds NaN/inf at "
                f"{np.flatnonzero(~np.isfinite(x))[:5].tolist()}")
        chunk = None
        if self.needs_actions:
            if action_chunk is None:
                raise DetectorInputError(f"{self.name}: needs the action chunk of each step")
            chunk = np.asarray(action_chunk, dtype=np.float32)
            if chunk.ndim != 2 or not np.all(np.isfinite(chunk)):
                raise DetectorInputError(
                    f"{self.name}: action chunk must be a finite [H, A] array, got "
                    f"shape {chunk.shape}")
        return float(self._update(x, chunk))

    def scores(self, features: np.ndarray, actions: np.ndarray | None = None) -> np.ndarray:
        """Scores of a whole rollout [T]; equals calling reset() then update() per step."""
        f = np.asarray(features, dtype=np.float32)
        if f.ndim != 2 or f.shape[1] != self.feature_dim:
            raise DetectorInputError(
                f"{self.name}: features must be [T, {self.feature_dim}], got {f.shape}")
        if not np.all(np.isfinite(f)):
            raise DetectorInputError(f"{self.name}: features hold NaN/inf")
        a = None
        if self.needs_actions:
            if actions is None or np.asarray(actions).ndim != 3:
                raise DetectorInputError(
                    f"{self.name}: needs action chunks [T, H, A] for every step")
            a = np.asarray(actions, dtype=np.float32)
        return np.asarray(self._scores(f, a), dtype=np.float64)

    def rollout_scores(self, rollout: Rollout) -> np.ndarray:
        return self.scores(rollout.features, rollout.actions)

    # --- persistence ----------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """Arrays to store (safetensors); subclasses add theirs."""
        return {"mean": self.mean, "std": self.std}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        try:
            self.mean = np.asarray(arrays["mean"], np.float32)
            self.std = np.asarray(arrays["std"], np.float32)
            self._load_state(arrays)
        except KeyError as exc:
            raise DetectorCheckpointError(
                f"{self.name}: checkpoint lacks tensor {exc}") from None
        if self.mean.shape != (self.feature_dim,):
            raise DetectorCheckpointError(
                f"{self.name}: stored mean has shape {self.mean.shape}, config says "
                f"feature_dim {self.feature_dim}")
        self.fitted = True
        self.reset()

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:  # noqa: B027
        """Subclasses read their own arrays here."""

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "feature_dim": self.feature_dim, "options": self.options}


class RunningMeanDetector(Detector):
    """Per-step novelty d(x_t) averaged over the episode so far: s_t = mean_{τ≤t} d(x_τ).

    Why the running mean: per-step distances are noisy; averaging keeps the score causal
    and comparable across steps, the same aggregation for every novelty baseline.
    """

    def reset(self) -> None:
        self._sum = 0.0
        self._n = 0
        self._reset_extra()

    def _reset_extra(self) -> None:  # noqa: B027
        pass

    @abc.abstractmethod
    def _raw(self, features: np.ndarray, actions: np.ndarray | None) -> np.ndarray:
        """Per-step novelty [T] of a block of consecutive steps (batch path)."""

    def _raw_step(self, feature: np.ndarray, chunk: np.ndarray | None) -> float:
        return float(self._raw(feature[None], None if chunk is None else chunk[None])[0])

    def _update(self, feature: np.ndarray, chunk: np.ndarray | None) -> float:
        self._sum += self._raw_step(feature, chunk)
        self._n += 1
        return self._sum / self._n

    def _scores(self, features: np.ndarray, actions: np.ndarray | None) -> np.ndarray:
        raw = np.asarray(self._raw(features, actions), np.float64)
        return np.cumsum(raw) / np.arange(1, len(raw) + 1)
