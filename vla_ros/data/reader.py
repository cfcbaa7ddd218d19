"""DatasetReader: episodes and frames of a LeRobotDataset v3 folder, videos decoded lazily.

Read-only except for one case: if a writer was killed after an episode's commit point,
opening finishes publishing that episode (the same idempotent step the writer would do).
"""

from __future__ import annotations

import bisect
import json
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vla_ros.data import atomic, stats
from vla_ros.data.errors import (
    CorruptDatasetError,
    DatasetLockedError,
    DatasetValidationError,
    NotADatasetError,
    PartialEpisodeWarning,
)
from vla_ros.data.features import (
    ACTION_KEY,
    IMAGE_PREFIX,
    STATE_KEY,
    column_numpy,
    extra_keys,
    video_keys,
)
from vla_ros.data.layout import STAGING_DIR, STATS_PATH, FileRef
from vla_ros.data.meta import read_episodes, read_info, read_parquet, read_tasks
from vla_ros.data.video import decode_at, decode_range


class LazyFrames(Mapping[str, np.ndarray]):
    """camera name -> (T, H, W, 3) uint8, decoded from the mp4 on first access."""

    def __init__(self, sources: Mapping[str, tuple[Path, float, float]], length: int):
        self._sources = dict(sources)
        self._length = length
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, camera: str) -> np.ndarray:
        if camera not in self._cache:
            if camera not in self._sources:
                raise KeyError(f"no camera {camera!r}; cameras are {sorted(self._sources)}")
            path, start, end = self._sources[camera]
            self._cache[camera] = decode_range(path, start, end, expected=self._length)
        return self._cache[camera]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


@dataclass
class Episode:
    """One recorded episode; `frames` decodes a camera's video when first indexed."""

    index: int
    tasks: list[str]
    states: np.ndarray  # (T, state_dim) float32
    actions: np.ndarray  # (T, action_dim) float32
    timestamps: np.ndarray  # (T,) float32, seconds from the episode start
    task_indices: np.ndarray  # (T,) int64
    frames: LazyFrames
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """The episode's (first) task instruction."""
        return self.tasks[0] if self.tasks else ""

    def __len__(self) -> int:
        return len(self.timestamps)


class DatasetReader:
    """Read a LeRobotDataset v3 folder written by DatasetWriter or by LeRobot."""

    def __init__(self, root: str | Path, *, recover: bool = True, wait_s: float = 10.0):
        self.root = Path(root)
        if not self.root.is_dir():
            raise NotADatasetError(f"{self.root}: no such dataset folder")
        self._finish_pending_commits(recover, wait_s)
        self.info: dict[str, Any] = read_info(self.root)
        self.features: dict[str, Any] = self.info["features"]
        self.fps = int(self.info["fps"])
        self.tasks: list[str] = read_tasks(self.root)
        self._episodes = read_episodes(self.root)
        self.video_keys = video_keys(self.features)
        self.cameras = [k[len(IMAGE_PREFIX):] for k in self.video_keys]
        self._extra_keys = extra_keys(self.features)
        self._starts = [int(r["dataset_from_index"]) for r in self._episodes]
        self._table_cache: tuple[Path, pa.Table] | None = None
        self._last_episode: Episode | None = None  # numbers only; frames decode per call
        for i, row in enumerate(self._episodes):
            if row.get("episode_index") != i:
                raise CorruptDatasetError(self.root / "meta/episodes",
                                          f"episode indices are not 0..N-1 (row {i} has "
                                          f"{row.get('episode_index')})")

    def _finish_pending_commits(self, recover: bool, wait_s: float) -> None:
        if atomic.uncommitted(self.root):
            lock = atomic.WriterLock.try_acquire(self.root)
            if lock is not None:  # no writer is recording, so these are crash leftovers
                lock.release()
                warnings.warn(PartialEpisodeWarning(
                    f"{self.root}: a crashed recorder left a partly written episode in "
                    f"{self.root / STAGING_DIR}; it is not part of the dataset and the next "
                    "DatasetWriter will move it to the quarantine folder"), stacklevel=3)
        deadline = time.monotonic() + wait_s
        while pending := atomic.pending_commits(self.root):
            if not recover:
                raise CorruptDatasetError(pending[0], "an interrupted episode commit is pending; "
                                                      "open the dataset with recover=True")
            lock = atomic.WriterLock.try_acquire(self.root)
            if lock is not None:  # no live writer: finish its commit for it
                try:
                    atomic.recover(self.root, quarantine=False)
                finally:
                    lock.release()
                return
            if time.monotonic() > deadline:  # a live writer is mid-commit for too long
                raise DatasetLockedError(f"{self.root}: a writer is publishing an episode; "
                                         "try again")
            time.sleep(0.02)

    # ----------------------------------------------------------------- metadata
    @property
    def num_episodes(self) -> int:
        return len(self._episodes)

    @property
    def num_frames(self) -> int:
        return int(self.info["total_frames"])

    @property
    def robot_type(self) -> str | None:
        return self.info.get("robot_type")

    @property
    def state_names(self) -> list[str]:
        return list(self.features[STATE_KEY].get("names") or [])

    @property
    def action_names(self) -> list[str]:
        return list(self.features[ACTION_KEY].get("names") or [])

    @property
    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """meta/stats.json as arrays (feature -> stat -> array); {} before any episode."""
        path = self.root / STATS_PATH
        if not path.is_file():
            return {}
        try:
            return stats.from_json(json.loads(path.read_text()))
        except ValueError as exc:
            raise CorruptDatasetError(path, f"not valid JSON: {exc}") from exc

    def episode_meta(self, index: int) -> dict[str, Any]:
        """The episode's metadata row (lengths, file addresses, video time ranges)."""
        self._check_index(index)
        return dict(self._episodes[index])

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.num_episodes:
            raise IndexError(f"{self.root}: episode {index} out of range "
                             f"(dataset has {self.num_episodes})")

    # ----------------------------------------------------------------- episodes
    def episode(self, index: int) -> Episode:
        self._check_index(index)
        row = self._episodes[index]
        table, path = self._episode_rows(row)
        length = int(row["length"])
        timestamps = column_numpy(self.features["timestamp"], table.column("timestamp"))
        frame_index = table.column("frame_index").to_numpy()
        if not np.array_equal(frame_index, np.arange(length)):
            raise CorruptDatasetError(path, f"episode {index}: frame_index is not 0..{length - 1}")
        sources = {}
        for key, cam in zip(self.video_keys, self.cameras, strict=True):
            start = float(row[f"videos/{key}/from_timestamp"])
            end = float(row[f"videos/{key}/to_timestamp"])
            sources[cam] = (self._video_path(row, key), start, end)
        return Episode(
            index=index,
            tasks=list(row.get("tasks") or []),
            states=column_numpy(self.features[STATE_KEY], table.column(STATE_KEY)),
            actions=column_numpy(self.features[ACTION_KEY], table.column(ACTION_KEY)),
            timestamps=timestamps,
            task_indices=table.column("task_index").to_numpy(),
            frames=LazyFrames(sources, length),
            extras={k: column_numpy(self.features[k], table.column(k))
                    for k in self._extra_keys},
        )

    def episodes(self) -> Iterator[Episode]:
        for i in range(self.num_episodes):
            yield self.episode(i)

    def _episode_rows(self, row: Mapping[str, Any]) -> tuple[pa.Table, Path]:
        ref = FileRef(int(row["data/chunk_index"]), int(row["data/file_index"]))
        path = self.root / self.info["data_path"].format(chunk_index=ref.chunk,
                                                         file_index=ref.file)
        if self._table_cache is None or self._table_cache[0] != path:
            self._table_cache = (path, read_parquet(path))
        table = self._table_cache[1]
        missing = [k for k in (STATE_KEY, ACTION_KEY, "timestamp", "frame_index",
                               "episode_index", "task_index", *self._extra_keys)
                   if k not in table.column_names]
        if missing:
            raise CorruptDatasetError(path, f"missing columns {missing}")
        rows = table.filter(pc.equal(table.column("episode_index"), row["episode_index"]))
        if rows.num_rows != int(row["length"]):
            raise CorruptDatasetError(path, f"episode {row['episode_index']} has {rows.num_rows} "
                                            f"rows, metadata says {row['length']}")
        return rows, path

    def _video_path(self, row: Mapping[str, Any], key: str) -> Path:
        return self.root / self.info["video_path"].format(
            video_key=key, chunk_index=int(row[f"videos/{key}/chunk_index"]),
            file_index=int(row[f"videos/{key}/file_index"]))

    # ------------------------------------------------------------------- frames
    def __len__(self) -> int:
        return self.num_frames

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.iter_frames()

    def iter_frames(self, episodes: Sequence[int] | None = None,
                    images: bool = True) -> Iterator[dict[str, Any]]:
        """Frames as LeRobot-style dicts, episode by episode (videos decoded per episode)."""
        for ep_index in episodes if episodes is not None else range(self.num_episodes):
            ep = self.episode(ep_index)
            start = self._starts[ep_index]
            decoded = {cam: ep.frames[cam] for cam in self.cameras} if images else {}
            for i in range(len(ep)):
                yield self._frame_dict(ep, i, start, {c: v[i] for c, v in decoded.items()})

    def frame(self, index: int) -> dict[str, Any]:
        """Random access to global frame `index` (seeks in each camera's video)."""
        if not 0 <= index < self.num_frames:
            raise IndexError(f"{self.root}: frame {index} out of range ({self.num_frames})")
        ep_index = bisect.bisect_right(self._starts, index) - 1
        if self._last_episode is None or self._last_episode.index != ep_index:
            self._last_episode = self.episode(ep_index)
        ep = self._last_episode
        i = index - self._starts[ep_index]
        row = self._episodes[ep_index]
        images = {cam: decode_at(self._video_path(row, key),
                                 float(row[f"videos/{key}/from_timestamp"])
                                 + float(ep.timestamps[i]))
                  for key, cam in zip(self.video_keys, self.cameras, strict=True)}
        return self._frame_dict(ep, i, self._starts[ep_index], images)

    def _frame_dict(self, ep: Episode, i: int, start: int,
                    images: Mapping[str, np.ndarray]) -> dict[str, Any]:
        task_index = int(ep.task_indices[i])
        item: dict[str, Any] = {
            STATE_KEY: ep.states[i],
            ACTION_KEY: ep.actions[i],
            "timestamp": float(ep.timestamps[i]),
            "frame_index": i,
            "episode_index": ep.index,
            "index": start + i,
            "task_index": task_index,
            "task": self.tasks[task_index] if task_index < len(self.tasks) else "",
        }
        for key, values in ep.extras.items():
            item[key] = values[i]
        for cam, img in images.items():
            item[IMAGE_PREFIX + cam] = img
        return item

    # --------------------------------------------------------------- validation
    def validate(self, check_videos: bool = True, raise_on_error: bool = True):
        """Check schema and consistency; raises DatasetValidationError listing every problem."""
        from vla_ros.data.validate import validate_dataset

        report = validate_dataset(self.root, check_videos=check_videos)
        if raise_on_error and report.problems:
            raise DatasetValidationError(self.root, report.problems)
        return report
