"""Several recorded datasets read as one, for training on demos recorded in separate runs
(e.g. in parallel processes, or a second batch of layouts) without rewriting any of them.

The datasets must agree on what a frame is: fps, cameras, state and action names. Episodes
are numbered in order (the first dataset's, then the second's, ...); statistics are the
count-weighted merge of each dataset's meta/stats.json, as LeRobot merges episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.data import stats as stats_mod
from vla_ros.data.errors import IncompatibleDatasetError
from vla_ros.data.reader import DatasetReader, Episode


class ConcatDataset:
    """Read-only union of `DatasetReader`s with the interface training needs."""

    def __init__(self, roots: Sequence[str | Path]) -> None:
        if not roots:
            raise ValueError("ConcatDataset needs at least one dataset folder")
        self.readers = [DatasetReader(r) for r in roots]
        first = self.readers[0]
        for root, reader in zip(roots[1:], self.readers[1:], strict=True):
            for what in ("fps", "cameras", "state_names", "action_names"):
                a, b = getattr(first, what), getattr(reader, what)
                if a != b:
                    raise IncompatibleDatasetError(
                        f"{root}: {what} {b} differs from {roots[0]}'s {a}; only datasets "
                        "recorded with the same features can be trained on together")
        self.roots = [Path(r) for r in roots]
        self.fps = first.fps
        self.cameras = list(first.cameras)
        self._offsets = np.cumsum([0] + [r.num_episodes for r in self.readers])

    @property
    def num_episodes(self) -> int:
        return int(self._offsets[-1])

    @property
    def state_names(self) -> list[str]:
        return self.readers[0].state_names

    @property
    def action_names(self) -> list[str]:
        return self.readers[0].action_names

    @property
    def stats(self) -> dict[str, Any]:
        per_dataset = [r.stats for r in self.readers]
        if not all(per_dataset):
            return {}
        return stats_mod.aggregate(per_dataset)

    def locate(self, index: int) -> tuple[int, int]:
        """(dataset number, episode index inside it) of global episode `index`."""
        if not 0 <= index < self.num_episodes:
            raise IndexError(f"episode {index} out of range (0..{self.num_episodes - 1})")
        d = int(np.searchsorted(self._offsets, index, side="right") - 1)
        return d, index - int(self._offsets[d])

    def episode(self, index: int) -> Episode:
        d, i = self.locate(index)
        return self.readers[d].episode(i)


def open_datasets(roots: Sequence[str | Path]) -> DatasetReader | ConcatDataset:
    """One folder: its reader; several: their union."""
    return DatasetReader(roots[0]) if len(roots) == 1 else ConcatDataset(roots)
