"""Detectors by name, for the CLI, checkpoints and the node."""

from __future__ import annotations

from typing import Any

from vla_ros.safety.baselines import BASELINES
from vla_ros.safety.detector import Detector
from vla_ros.safety.safe import SafeLSTM, SafeMLP

DETECTORS: dict[str, type[Detector]] = {SafeMLP.name: SafeMLP, SafeLSTM.name: SafeLSTM,
                                        **BASELINES}


def detector_names() -> list[str]:
    return list(DETECTORS)


def make_detector(name: str, feature_dim: int, **options: Any) -> Detector:
    """A fresh detector `name` for `feature_dim`-dimensional features."""
    cls = DETECTORS.get(name)
    if cls is None:
        raise ValueError(f"unknown detector {name!r}; known: {detector_names()}")
    return cls(feature_dim, **options)
