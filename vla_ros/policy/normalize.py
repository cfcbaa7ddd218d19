"""Mean/std normalisation of states and actions, stored beside a checkpoint as JSON.

The network sees zero-mean unit-variance inputs and predicts normalised actions; the
statistics travel with the weights (`normalization.json`) so a checkpoint always
un-normalises with the numbers it was trained with. Near-constant dimensions get a floor
on std so a joint that never moved in the data cannot blow up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.policy.errors import PolicyConfigError

STD_FLOOR = 1e-3
STATE_KEY = "observation.state"
ACTION_KEY = "action"


@dataclass
class Stats:
    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        self.std = np.maximum(np.asarray(self.std, dtype=np.float32).reshape(-1), STD_FLOOR)
        if self.mean.shape != self.std.shape:
            raise PolicyConfigError(f"stats mean {self.mean.shape} and std {self.std.shape} differ")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std))):
            raise PolicyConfigError("normalisation stats hold NaN or infinite values")

    @classmethod
    def of(cls, values: np.ndarray) -> Stats:
        data = np.asarray(values, dtype=np.float64).reshape(-1, np.shape(values)[-1])
        return cls(data.mean(axis=0), data.std(axis=0))

    @classmethod
    def identity(cls, dim: int) -> Stats:
        return cls(np.zeros(dim), np.ones(dim))


@dataclass
class Normalizer:
    """Normalises states and actions with per-dimension mean/std."""

    state: Stats
    action: Stats

    def normalize_state(self, state: np.ndarray) -> np.ndarray:
        return (np.asarray(state, dtype=np.float32) - self.state.mean) / self.state.std

    def normalize_action(self, action: np.ndarray) -> np.ndarray:
        return (np.asarray(action, dtype=np.float32) - self.action.mean) / self.action.std

    def unnormalize_action(self, action: np.ndarray) -> np.ndarray:
        return np.asarray(action, dtype=np.float64) * self.action.std + self.action.mean

    def check_dims(self, state_dim: int, action_dim: int, where: str = "normalization") -> None:
        if self.state.mean.shape != (state_dim,) or self.action.mean.shape != (action_dim,):
            raise PolicyConfigError(
                f"{where}: stats have state dim {self.state.mean.shape[0]} and action dim "
                f"{self.action.mean.shape[0]}, the model has {state_dim} and {action_dim}"
            )

    def to_json(self) -> dict[str, Any]:
        return {key: {"mean": s.mean.tolist(), "std": s.std.tolist()}
                for key, s in ((STATE_KEY, self.state), (ACTION_KEY, self.action))}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Normalizer:
        try:
            return cls(Stats(data[STATE_KEY]["mean"], data[STATE_KEY]["std"]),
                       Stats(data[ACTION_KEY]["mean"], data[ACTION_KEY]["std"]))
        except (KeyError, TypeError) as exc:
            raise PolicyConfigError(
                f"normalisation stats need {STATE_KEY!r} and {ACTION_KEY!r} objects with "
                f"'mean' and 'std' lists (missing {exc})"
            ) from None
        except ValueError as exc:
            raise PolicyConfigError(f"normalisation stats: {exc}") from None

    @classmethod
    def from_dataset_stats(cls, stats: Mapping[str, Mapping[str, Any]]) -> Normalizer:
        """From LeRobot's meta/stats.json shape (feature -> {'mean', 'std', ...})."""
        return cls.from_json(stats)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1))
