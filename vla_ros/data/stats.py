"""Normalisation statistics in LeRobot's `stats.json` shape.

Per feature: min, max, mean, std, count and the quantiles q01 q10 q50 q90 q99. Vectors give
arrays of their dimension; cameras give per-channel values of shape (3, 1, 1) in [0, 1].
Episode statistics are stored in the episodes metadata (`stats/<feature>/<stat>`) and
merged into meta/stats.json the way LeRobot merges them (count-weighted mean, pooled
variance, min of mins, max of maxes, count-weighted quantiles).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{int(round(q * 100)):02d}" for q in QUANTILES)
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)

Stats = dict[str, np.ndarray]


def vector_stats(values: np.ndarray) -> Stats:
    """Statistics of a (T,) or (T, D) block over time; scalars give shape (1,) arrays."""
    data = np.asarray(values, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    stats: Stats = {
        "min": data.min(axis=0),
        "max": data.max(axis=0),
        "mean": data.mean(axis=0),
        "std": data.std(axis=0),
        "count": np.array([data.shape[0]], dtype=np.int64),
    }
    quantiles = np.quantile(data, QUANTILES, axis=0)
    for key, q in zip(QUANTILE_KEYS, quantiles, strict=True):
        stats[key] = q
    return stats


class ImageStats:
    """Per-channel pixel histograms of an episode's frames, updated one frame at a time.

    uint8 pixels have 256 values, so a histogram gives exact min/max/mean/std/quantiles
    without keeping frames. Large frames are subsampled with a pixel stride.
    """

    def __init__(self, height: int, width: int):
        self.stride = max(1, min(height, width) // 96)
        self.hist = np.zeros((3, 256), dtype=np.int64)
        self.frames = 0

    def update(self, rgb: np.ndarray) -> None:
        sub = rgb[:: self.stride, :: self.stride]
        for c in range(3):
            self.hist[c] += np.bincount(sub[..., c].reshape(-1), minlength=256)
        self.frames += 1

    def result(self) -> Stats:
        """LeRobot's image stats: values in [0, 1], shape (3, 1, 1); count = frames."""
        levels = np.arange(256, dtype=np.float64) / 255.0
        total = self.hist.sum(axis=1).astype(np.float64)
        if self.frames == 0 or (total == 0).any():
            raise ValueError("no frames were added to the image statistics")
        mean = (self.hist * levels).sum(axis=1) / total
        var = (self.hist * (levels[None, :] - mean[:, None]) ** 2).sum(axis=1) / total
        nonzero = self.hist > 0
        mins = np.array([levels[np.argmax(nonzero[c])] for c in range(3)])
        maxs = np.array([levels[255 - np.argmax(nonzero[c][::-1])] for c in range(3)])
        cdf = np.cumsum(self.hist, axis=1) / total[:, None]
        stats: Stats = {"min": mins, "max": maxs, "mean": mean, "std": np.sqrt(var)}
        for key, q in zip(QUANTILE_KEYS, QUANTILES, strict=True):
            stats[key] = np.array([levels[np.searchsorted(cdf[c], q)] for c in range(3)])
        out = {k: v.reshape(3, 1, 1) for k, v in stats.items()}
        out["count"] = np.array([self.frames], dtype=np.int64)
        return out


def aggregate(per_episode: Iterable[Mapping[str, Stats]]) -> dict[str, Stats]:
    """Merge per-episode (or per-dataset) statistics into one set per feature."""
    groups: dict[str, list[Stats]] = {}
    for stats in per_episode:
        for key, value in stats.items():
            groups.setdefault(key, []).append(value)
    return {key: _merge(items) for key, items in groups.items()}


def _merge(items: list[Stats]) -> Stats:
    counts = np.array([float(s["count"][0]) for s in items])
    total = counts.sum()
    shape = (-1,) + (1,) * np.asarray(items[0]["mean"]).ndim
    w = (counts / total).reshape(shape)
    means = np.stack([s["mean"] for s in items])
    mean = (w * means).sum(axis=0)
    var = (w * (np.stack([s["std"] for s in items]) ** 2 + (means - mean) ** 2)).sum(axis=0)
    out: Stats = {
        "min": np.min(np.stack([s["min"] for s in items]), axis=0),
        "max": np.max(np.stack([s["max"] for s in items]), axis=0),
        "mean": mean,
        "std": np.sqrt(np.maximum(var, 0.0)),
        "count": np.array([int(total)], dtype=np.int64),
    }
    for key in QUANTILE_KEYS:
        if all(key in s for s in items):
            out[key] = (w * np.stack([s[key] for s in items])).sum(axis=0)
    return out


def to_json(stats: Mapping[str, Stats]) -> dict[str, dict[str, Any]]:
    return {f: {k: np.asarray(v).tolist() for k, v in s.items()} for f, s in stats.items()}


def from_json(obj: Mapping[str, Mapping[str, Any]]) -> dict[str, Stats]:
    return {f: {k: np.asarray(v) for k, v in s.items()} for f, s in obj.items()}


def to_episode_columns(stats: Mapping[str, Stats]) -> dict[str, Any]:
    """Flatten to the `stats/<feature>/<stat>` columns of the episodes metadata."""
    return {f"stats/{f}/{k}": np.asarray(v).tolist() for f, s in stats.items()
            for k, v in s.items()}


def from_episode_columns(row: Mapping[str, Any]) -> dict[str, Stats]:
    out: dict[str, Stats] = {}
    for column, value in row.items():
        if not column.startswith("stats/") or value is None:
            continue
        feature, stat = column[len("stats/"):].rsplit("/", 1)
        out.setdefault(feature, {})[stat] = np.asarray(value)
    return out
