"""Weight averaging ("model soup") of fine-tunes that share one starting checkpoint.

Why: fine-tunes of one checkpoint on different data mixes land in the same basin of the
loss, and the plain average of their weights (Wortsman et al. 2022, "Model soups") is
often better than any one of them, most of all away from the training distribution —
here, on the unseen tasks — at no cost at run time: the result is one checkpoint of the
same architecture and speed. It only makes sense for networks that share an initial
checkpoint and the same input/output scaling, so everything but the weights must match
exactly; averaging two independently trained networks gives nonsense and is not checked
(it cannot be from the files alone), so the ingredients are recorded in `train_info.json`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from vla_ros.policy.checkpoint import (
    WEIGHTS_FILE,
    Checkpoint,
    check_state_dict,
    load_checkpoint,
    save_checkpoint,
    weights_sha256,
)
from vla_ros.policy.errors import CheckpointError


def average_checkpoints(paths: Sequence[str | Path],
                        weights: Sequence[float] | None = None) -> Checkpoint:
    """The weighted average of checkpoints with identical config and normalisation.

    `weights` (default: equal) are normalised to sum to 1. Integer tensors are not
    averaged: they must be equal in every checkpoint.
    """
    if len(paths) < 2:
        raise CheckpointError(Path(paths[0]) if paths else Path("."),
                              "averaging needs at least two checkpoints")
    mix = _normalised_weights(weights, len(paths))
    loaded = [load_checkpoint(p) for p in paths]
    first = loaded[0]
    for other in loaded[1:]:
        _check_compatible(first, other)
    averaged: dict[str, torch.Tensor] = {}
    for name, tensor in first.state_dict.items():
        if tensor.dtype.is_floating_point:
            total = sum(w * c.state_dict[name].double() for w, c in zip(mix, loaded, strict=True))
            averaged[name] = total.to(tensor.dtype)
        else:
            for other in loaded[1:]:
                if not torch.equal(tensor, other.state_dict[name]):
                    raise CheckpointError(other.path, f"integer tensor {name!r} differs from "
                                                      f"{first.path}'s; it cannot be averaged")
            averaged[name] = tensor.clone()
    info = {"averaged_from": [_ingredient(c, w) for c, w in zip(loaded, mix, strict=True)],
            "parameters": sum(int(t.numel()) for t in averaged.values()),
            "method": "weighted average of the weights (model soup)"}
    return Checkpoint(Path("<average>"), first.config, averaged, first.normalizer, info)


def save_average(paths: Sequence[str | Path], out: str | Path,
                 weights: Sequence[float] | None = None) -> Path:
    """Average `paths` and write the result as a checkpoint folder at `out`."""
    soup = average_checkpoints(paths, weights)
    return save_checkpoint(out, soup.config, soup.state_dict, soup.normalizer, soup.info)


def _normalised_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} weights for {count} checkpoints")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero: "
                         f"{list(weights)}")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def _check_compatible(first: Checkpoint, other: Checkpoint) -> None:
    a, b = first.config.to_json(), other.config.to_json()
    differing = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if differing:
        raise CheckpointError(other.path, f"config differs from {first.path}'s in "
                                          f"{differing}; only fine-tunes of one checkpoint "
                                          "can be averaged")
    if first.normalizer.to_json() != other.normalizer.to_json():
        raise CheckpointError(other.path, f"normalisation statistics differ from "
                                          f"{first.path}'s: its weights expect other scaling")
    check_state_dict(first.state_dict, other.state_dict, other.path / WEIGHTS_FILE)


def _ingredient(checkpoint: Checkpoint, weight: float) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": str(checkpoint.path), "weight": weight,
                             "sha256": weights_sha256(checkpoint.path)}
    for key in ("steps", "dataset"):
        if key in checkpoint.info:
            entry[key] = checkpoint.info[key]
    return entry
