"""Detector checkpoints: `config.json` + `model.safetensors` in one directory.

The config names the detector, its options, the feature dimension and the id of the policy
whose features it was trained on, plus the conformal band's level; the safetensors file
holds the detector's arrays and the band (centre, spread, residuals). A detector trained
for one policy is meaningless on another's features, so loading checks both the feature
dimension and the policy id and refuses a mismatch with a clear error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.safety.conformal import ConformalBand
from vla_ros.safety.detector import Detector
from vla_ros.safety.errors import DetectorCheckpointError
from vla_ros.safety.registry import DETECTORS

FORMAT = "vla_ros.safety.detector"
VERSION = 1
CONFIG = "config.json"
WEIGHTS = "model.safetensors"


@dataclass
class DetectorBundle:
    """A loaded checkpoint: the detector, its band and where it came from."""

    detector: Detector
    band: ConformalBand | None
    policy_id: str
    meta: dict[str, Any] = field(default_factory=dict)


def save_detector(directory: str | Path, detector: Detector, band: ConformalBand | None,
                  policy_id: str, **meta: Any) -> Path:
    """Write the checkpoint directory; returns it."""
    from safetensors.numpy import save_file

    if not detector.fitted:
        raise DetectorCheckpointError(f"{detector.name}: refusing to save an untrained detector")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in detector.state().items()}
    if band is not None:
        arrays.update({k: np.ascontiguousarray(v) for k, v in band.arrays().items()})
    save_file(arrays, str(out / WEIGHTS))
    config = {
        "format": FORMAT, "version": VERSION, **detector.config(), "policy_id": policy_id,
        "band": None if band is None else {"alpha": band.alpha, "split": band.split,
                                           "q": band.q},
        "meta": meta,
    }
    (out / CONFIG).write_text(json.dumps(config, indent=2, default=_jsonable))
    return out


def load_detector(directory: str | Path, *, feature_dim: int | None = None,
                  policy_id: str | None = None, alpha: float | None = None) -> DetectorBundle:
    """Load a checkpoint; `feature_dim`/`policy_id` (when given) must match what it was
    trained for; `alpha` re-derives the band at another level."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    d = Path(directory)
    cfg_path, weights_path = d / CONFIG, d / WEIGHTS
    if not cfg_path.is_file() or not weights_path.is_file():
        raise DetectorCheckpointError(
            f"{d}: not a detector checkpoint (needs {CONFIG} and {WEIGHTS})")
    try:
        cfg = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise DetectorCheckpointError(f"{cfg_path}: invalid JSON ({exc})") from exc
    if cfg.get("format") != FORMAT or cfg.get("version") != VERSION:
        raise DetectorCheckpointError(
            f"{cfg_path}: format {cfg.get('format')!r} v{cfg.get('version')!r}, expected "
            f"{FORMAT!r} v{VERSION}")
    name = cfg.get("name")
    if name not in DETECTORS:
        raise DetectorCheckpointError(f"{cfg_path}: unknown detector {name!r}")
    dim = int(cfg.get("feature_dim", 0))
    if feature_dim is not None and feature_dim > 0 and dim != feature_dim:
        raise DetectorCheckpointError(
            f"{d}: detector {name} was trained on {dim}-dimensional features, but the "
            f"policy publishes {feature_dim}; train a detector for this policy")
    stored_policy = str(cfg.get("policy_id", ""))
    if policy_id and stored_policy != policy_id:
        raise DetectorCheckpointError(
            f"{d}: detector {name} was trained for policy {stored_policy!r}, not "
            f"{policy_id!r}; its scores mean nothing for another policy's features")
    try:
        arrays = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise DetectorCheckpointError(f"{weights_path}: unreadable ({exc})") from exc
    detector = DETECTORS[name](dim, **cfg.get("options", {}))
    detector.load_state(arrays)
    band = None
    band_cfg = cfg.get("band")
    if band_cfg is not None:
        try:
            band = ConformalBand.from_arrays(arrays, float(band_cfg["alpha"]),
                                             bool(band_cfg.get("split", True)))
        except KeyError as exc:
            raise DetectorCheckpointError(f"{d}: band config present but {exc} missing") from None
        if alpha is not None:
            band = band.with_alpha(alpha)
    return DetectorBundle(detector, band, stored_policy, cfg.get("meta", {}))


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a detector config")
