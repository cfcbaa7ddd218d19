"""DatasetWriter: record episodes into a LeRobotDataset v3 folder, one atomic commit each.

Frames are validated as they arrive, camera frames go straight to background encoders,
and `save_episode()` publishes the episode through the journal in `atomic.py`: until it
returns, nothing a reader can see has changed; a recorder killed at any point leaves
every earlier episode readable, and the next open finishes or quarantines the rest.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla_ros.data import atomic, stats
from vla_ros.data.errors import (
    CorruptDatasetError,
    EpisodeError,
    FrameError,
    IncompatibleDatasetError,
    NotADatasetError,
    PartialEpisodeWarning,
)
from vla_ros.data.features import (
    ACTION_KEY,
    IMAGE_PREFIX,
    STATE_KEY,
    ExtraFeature,
    arrow_schema,
    build_features,
    camera_key,
    column_array,
    describe_mismatch,
    extra_keys,
    video_keys,
)
from vla_ros.data.layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    DEFAULT_CHUNKS_SIZE,
    DEFAULT_DATA_FILE_SIZE_MB,
    DEFAULT_VIDEO_FILE_SIZE_MB,
    INFO_PATH,
    MAX_EPISODES_PER_META_FILE,
    QUARANTINE_DIR,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    WORK_DIR,
    FileRef,
)
from vla_ros.data.meta import (
    episodes_files,
    episodes_table,
    read_info,
    read_parquet,
    read_tasks,
    tasks_table,
    write_parquet,
)
from vla_ros.data.video import CameraEncoder, VideoSettings, can_append, concat, probe
from vla_ros.data.video import ticks_per_second as _tps

log = logging.getLogger(__name__)

ENCODER_FOR_INFO_CODEC = {"h264": "libx264", "av1": "libsvtav1"}
MB = 1024 * 1024


@dataclass
class _Episode:
    """Everything about the episode being recorded; nothing here is visible to readers."""

    index: int
    staging: atomic.StagedCommit
    encoders: dict[str, CameraEncoder]
    states: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    pts: list[int] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    extras: dict[str, list[np.ndarray]] = field(default_factory=dict)
    first_clock: float | None = None  # first caller-given timestamp (None: fps clock)

    def __len__(self) -> int:
        return len(self.states)


class DatasetWriter:
    """Record episodes of (state, action, camera images, task) into a LeRobot v3 dataset.

    Creates `root` if it is missing or empty; appends to it if it already holds a dataset
    with the same fps, robot type and features; refuses anything else without touching it.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        fps: int,
        state_names: Sequence[str] | int,
        action_names: Sequence[str] | int,
        cameras: Mapping[str, tuple[int, ...]] | None = None,
        robot_type: str | None = None,
        extras: Mapping[str, ExtraFeature] | None = None,
        video: VideoSettings | None = None,
        chunks_size: int = DEFAULT_CHUNKS_SIZE,
        data_files_size_in_mb: float = DEFAULT_DATA_FILE_SIZE_MB,
        video_files_size_in_mb: float = DEFAULT_VIDEO_FILE_SIZE_MB,
        timestamp_tolerance_s: float = 1e-4,
        lock_timeout_s: float = 5.0,
    ):
        if int(fps) != fps or fps <= 0:
            raise ValueError(f"fps must be a positive integer (LeRobot stores an int), got {fps}")
        if not 0 <= timestamp_tolerance_s < 0.5 / fps:
            raise ValueError(f"timestamp_tolerance_s must be in [0, {0.5 / fps}) at {fps} fps")
        self.timestamp_tolerance_s = float(timestamp_tolerance_s)
        if chunks_size < 1 or data_files_size_in_mb <= 0 or video_files_size_in_mb <= 0:
            raise ValueError("chunks_size and file size limits must be positive")
        self.root = Path(root)
        self.fps = int(fps)
        self.video = video or VideoSettings()
        if cameras:
            self.video.check_available()
        self.cameras = {name: (int(s[0]), int(s[1])) for name, s in (cameras or {}).items()}
        features = build_features(state_names, action_names, self.cameras,
                                  self.video.info(self.fps), extras)
        self._check_target()
        existing = (self.root / INFO_PATH).is_file()
        if existing:  # refuse a mismatch before touching anything
            self._open_existing(features, robot_type)
        self._lock = atomic.WriterLock(self.root, timeout_s=lock_timeout_s)
        self._episode: _Episode | None = None
        self._closed = False
        try:
            self.recovered = self._recover()
            if existing:
                self._info = read_info(self.root)  # as recovery may have finished a commit
            else:
                self._info = self._create(features, robot_type, chunks_size,
                                          data_files_size_in_mb, video_files_size_in_mb)
            self._load_state()
        except BaseException:
            self._lock.release()
            raise

    @classmethod
    def append(cls, root: str | Path, *, video: VideoSettings | None = None,
               lock_timeout_s: float = 5.0) -> DatasetWriter:
        """Reopen an existing dataset with the schema it was created with."""
        info = read_info(Path(root))
        feats = info["features"]
        cams = {k[len(IMAGE_PREFIX):]: tuple(f["shape"][:2]) for k, f in feats.items()
                if f.get("dtype") == "video"}
        if video is None and cams:
            codec = (feats[camera_key(next(iter(cams)))].get("info") or {}).get("video.codec")
            video = VideoSettings(codec=ENCODER_FOR_INFO_CODEC.get(codec, codec or "libx264"))
        extras = {k: ExtraFeature(feats[k]["dtype"], tuple(feats[k]["shape"]), feats[k]["names"])
                  for k in extra_keys(feats)}
        return cls(root, fps=info["fps"], state_names=_names(feats, STATE_KEY),
                   action_names=_names(feats, ACTION_KEY), cameras=cams,
                   robot_type=info.get("robot_type"), extras=extras, video=video,
                   chunks_size=info["chunks_size"],
                   data_files_size_in_mb=info.get("data_files_size_in_mb",
                                                  DEFAULT_DATA_FILE_SIZE_MB),
                   video_files_size_in_mb=info.get("video_files_size_in_mb",
                                                   DEFAULT_VIDEO_FILE_SIZE_MB),
                   lock_timeout_s=lock_timeout_s)

    # ------------------------------------------------------------------ opening
    def _check_target(self) -> None:
        root = self.root
        if root.exists() and not root.is_dir():
            raise NotADatasetError(f"{root} is a file, not a dataset folder")
        if not root.exists() or (root / INFO_PATH).is_file():
            return
        entries = sorted(p.name for p in root.iterdir() if p.name != WORK_DIR)
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise NotADatasetError(
                f"{root} is not empty and holds no {INFO_PATH} (found: {shown}); refusing to "
                "write a dataset into it. Choose a new or empty folder.")

    def _recover(self) -> list[atomic.Recovery]:
        done = atomic.recover(self.root, quarantine=True)
        for item in done:
            if item.action == "quarantined":
                warnings.warn(PartialEpisodeWarning(f"{self.root}: {item.message()}"),
                              stacklevel=3)
            log.warning("%s: %s", self.root, item.message())
        return done

    def _create(self, features: dict[str, Any], robot_type: str | None, chunks_size: int,
                data_mb: float, video_mb: float) -> dict[str, Any]:
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": robot_type,
            "total_episodes": 0,
            "total_frames": 0,
            "total_tasks": 0,
            "chunks_size": int(chunks_size),
            "data_files_size_in_mb": data_mb,
            "video_files_size_in_mb": video_mb,
            "fps": self.fps,
            "splits": {},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if video_keys(features) else None,
            "features": features,
        }
        atomic.write_json_atomic(self.root / INFO_PATH, info)
        return info

    def _open_existing(self, features: dict[str, Any], robot_type: str | None) -> None:
        info = read_info(self.root)
        where = self.root / INFO_PATH
        if info["codebase_version"] != CODEBASE_VERSION:
            raise IncompatibleDatasetError(
                f"{where}: codebase_version is {info['codebase_version']!r}; this writer only "
                f"appends to {CODEBASE_VERSION} datasets (convert it with LeRobot first)")
        problems = describe_mismatch(info["features"], features)
        if info["fps"] != self.fps:
            problems.insert(0, f"fps is {info['fps']} in the dataset, requested {self.fps}")
        if info.get("robot_type") != robot_type:
            problems.insert(0, f"robot_type is {info.get('robot_type')!r} in the dataset, "
                               f"requested {robot_type!r}")
        if problems:
            raise IncompatibleDatasetError(
                f"{where}: cannot append, the dataset was recorded differently:\n  - "
                + "\n  - ".join(problems))

    def _load_state(self) -> None:
        self._features = self._info["features"]
        self._video_keys = video_keys(self._features)
        self._extra_keys = extra_keys(self._features)
        self._schema = arrow_schema(self._features)
        self._tasks = read_tasks(self.root)
        self._task_index = {t: i for i, t in enumerate(self._tasks)}
        files = episodes_files(self.root)
        self._meta_rows: list[dict[str, Any]] = []
        self._meta_ref = FileRef(0, 0)
        self._last: dict[str, Any] | None = None
        counted = 0
        for path in files:
            counted += pq.read_metadata(path).num_rows if path != files[-1] else 0
        if files:
            last_path = files[-1]
            self._meta_rows = read_parquet(last_path).to_pylist()
            counted += len(self._meta_rows)
            if self._meta_rows:
                self._last = max(self._meta_rows, key=lambda r: r["episode_index"])
                self._meta_ref = FileRef(self._last["meta/episodes/chunk_index"],
                                         self._last["meta/episodes/file_index"])
        if counted != self._info["total_episodes"]:
            raise CorruptDatasetError(
                self.root / INFO_PATH, f"total_episodes is {self._info['total_episodes']} but the "
                f"episodes metadata lists {counted}; run validate_dataset() to find out why")
        stats_path = self.root / STATS_PATH
        self._stats = None
        if stats_path.is_file() and counted:
            try:
                self._stats = stats.from_json(json.loads(stats_path.read_text()))
            except ValueError as exc:
                raise CorruptDatasetError(stats_path, f"not valid JSON: {exc}") from exc
        self._data_cache: tuple[FileRef, pa.Table] | None = None

    # --------------------------------------------------------------- properties
    @property
    def num_episodes(self) -> int:
        return int(self._info["total_episodes"])

    @property
    def total_frames(self) -> int:
        return int(self._info["total_frames"])

    @property
    def tasks(self) -> list[str]:
        return list(self._tasks)

    @property
    def features(self) -> dict[str, Any]:
        return self._features

    @property
    def episode_frames(self) -> int:
        """Frames added to the episode in progress (0 when none is open)."""
        return len(self._episode) if self._episode else 0

    # ---------------------------------------------------------------- recording
    def add_frame(
        self,
        state: Any,
        action: Any,
        images: Mapping[str, np.ndarray] | None = None,
        task: str = "",
        timestamp: float | None = None,
        **extra: Any,
    ) -> None:
        """Append one frame to the current episode (started by the first frame).

        `timestamp` (s) is optional: without it frame i is at i/fps. Given timestamps are
        stored relative to the episode's first frame and must increase strictly.
        Extra features are passed by key, e.g. `**{"next.reward": 1.0}`.
        """
        self._check_open()
        ep = self._episode
        n = len(ep) if ep else 0
        index = ep.index if ep else self.num_episodes
        where = f"episode {index} frame {n}"
        state32 = self._vector(STATE_KEY, state, where)
        action32 = self._vector(ACTION_KEY, action, where)
        if not isinstance(task, str) or not task.strip():
            raise FrameError(f"{where}: task must be a non-empty string, got {task!r}")
        frames = self._check_images(images, where)
        extras = self._check_extras(extra, where)
        rel, pts = self._timestamp(ep, timestamp, n, where)
        if ep is None:
            ep = self._episode = self._start_episode()
            if timestamp is not None:
                ep.first_clock = float(timestamp)
        for cam, rgb in frames.items():
            ep.encoders[cam].put(rgb, pts)
        ep.states.append(state32)
        ep.actions.append(action32)
        ep.timestamps.append(rel)
        ep.pts.append(pts)
        ep.tasks.append(task)
        for key, value in extras.items():
            ep.extras.setdefault(key, []).append(value)

    def _vector(self, key: str, value: Any, where: str) -> np.ndarray:
        feature = self._features[key]
        dim = int(feature["shape"][0])
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise FrameError(f"{where}: {key} is not numeric: {exc}") from exc
        if arr.ndim == 0 and dim == 1:
            arr = arr.reshape(1)
        if arr.shape != (dim,):
            raise FrameError(f"{where}: {key} has shape {arr.shape}, expected ({dim},)")
        bad = ~np.isfinite(arr)
        if bad.any():
            names = feature.get("names") or [str(i) for i in range(dim)]
            which = ", ".join(f"{names[i]}={arr[i]}" for i in np.flatnonzero(bad)[:5])
            raise FrameError(f"{where}: {key} has non-finite values ({which})")
        return arr.astype(feature["dtype"])

    def _check_images(self, images: Mapping[str, np.ndarray] | None,
                      where: str) -> dict[str, np.ndarray]:
        images = images or {}
        if not isinstance(images, Mapping):
            raise FrameError(f"{where}: images must be a dict camera -> HxWx3 uint8 array")
        missing = [c for c in self.cameras if c not in images]
        unknown = [c for c in images if c not in self.cameras]
        if missing or unknown:
            raise FrameError(f"{where}: cameras {sorted(self.cameras)} expected; missing "
                             f"{missing}, unknown {unknown}")
        out = {}
        for cam, (h, w) in self.cameras.items():
            img = images[cam]
            if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.shape != (h, w, 3):
                got = (f"{img.shape} {img.dtype}" if isinstance(img, np.ndarray)
                       else type(img).__name__)
                raise FrameError(f"{where}: camera {cam!r} image is {got}, expected "
                                 f"({h}, {w}, 3) uint8 RGB")
            out[cam] = np.array(img, copy=True, order="C")  # the caller may reuse its buffer
        return out

    def _check_extras(self, extra: Mapping[str, Any], where: str) -> dict[str, np.ndarray]:
        missing = [k for k in self._extra_keys if k not in extra]
        unknown = [k for k in extra if k not in self._extra_keys]
        if missing or unknown:
            raise FrameError(f"{where}: extra features {self._extra_keys} expected; missing "
                             f"{missing}, unknown {unknown}")
        out = {}
        for key in self._extra_keys:
            feature = self._features[key]
            if feature["dtype"] in ("float32", "float64"):
                out[key] = self._vector(key, extra[key], where)
                continue
            dim = int(feature["shape"][0])
            arr = np.asarray(extra[key])
            if arr.ndim == 0 and dim == 1:
                arr = arr.reshape(1)
            if arr.shape != (dim,):
                raise FrameError(f"{where}: {key} has shape {arr.shape}, expected ({dim},)")
            try:
                cast = arr.astype(feature["dtype"])
                exact = bool(np.all(cast.astype(arr.dtype) == arr))
            except (TypeError, ValueError):
                exact = False
            if not exact:
                raise FrameError(f"{where}: {key} = {arr.tolist()} cannot be stored exactly as "
                                 f"{feature['dtype']}")
            out[key] = cast
        return out

    def _timestamp(self, ep: _Episode | None, timestamp: float | None, n: int,
                   where: str) -> tuple[float, int]:
        """(seconds from the episode start, video pts) of frame n.

        LeRobot looks a frame up in the mp4 by `round(timestamp * fps)` and then insists the
        frame found is within 1e-4 s, so frame n must sit at n/fps: a given timestamp is a
        check that the recorder neither dropped nor duplicated frames.
        """
        grid = n / self.fps
        pts = n * (_tps(self.fps) // self.fps)
        if ep is not None and n and (timestamp is None) != (ep.first_clock is None):
            raise FrameError(f"{where}: give a timestamp for every frame of an episode or for "
                             "none (mixing clock and frame-count timing is ambiguous)")
        if timestamp is None:
            return grid, pts
        try:
            given = float(timestamp)
        except (TypeError, ValueError) as exc:
            raise FrameError(f"{where}: timestamp {timestamp!r} is not a number") from exc
        if not math.isfinite(given):
            raise FrameError(f"{where}: timestamp is {given}")
        rel = 0.0 if ep is None or not n else given - ep.first_clock
        if abs(rel - grid) > self.timestamp_tolerance_s:
            raise FrameError(
                f"{where}: timestamp {rel:.6f} s after the episode start is {rel - grid:+.6f} s "
                f"off this frame's slot {grid:.6f} s at {self.fps} fps (tolerance "
                f"{self.timestamp_tolerance_s} s). Frames must be 1/fps apart because LeRobot "
                "finds video frames by timestamp: was a frame dropped or duplicated? Omit "
                "`timestamp` to use n/fps.")
        return float(np.float32(rel)), pts

    def _start_episode(self) -> _Episode:
        index = self.num_episodes
        staging = atomic.StagedCommit(self.root, f"episode-{index:06d}")
        encoders: dict[str, CameraEncoder] = {}
        try:
            for cam, (h, w) in self.cameras.items():
                encoders[cam] = CameraEncoder(staging.scratch(f"{cam}.mp4"), self.fps, h, w,
                                              self.video)
        except BaseException:
            for enc in encoders.values():
                enc.abort()
            staging.discard()
            raise
        return _Episode(index=index, staging=staging, encoders=encoders)

    def discard_episode(self) -> int:
        """Drop the episode in progress; returns how many frames were dropped."""
        ep = self._episode
        if ep is None:
            return 0
        self._episode = None
        for enc in ep.encoders.values():
            enc.abort()
        ep.staging.discard()
        return len(ep)

    def save_episode(self) -> int:
        """Commit the episode in progress; returns its episode_index.

        When this returns, the episode's rows, videos and metadata are durably on disk.
        If it raises, nothing visible changed; the episode's files are kept under
        .vla_ros/quarantine for inspection and the writer is ready for a new episode.
        """
        self._check_open()
        ep = self._episode
        if ep is None or not len(ep):
            raise EpisodeError(f"{self.root}: no frames to save; call add_frame() first")
        self._episode = None
        try:
            frames = {cam: enc.finish() for cam, enc in ep.encoders.items()}
            for cam, count in frames.items():
                if count != len(ep):
                    raise EpisodeError(f"camera {cam!r}: encoded {count} frames, episode has "
                                       f"{len(ep)}")
            self._commit(ep)
        except BaseException as exc:
            for enc in ep.encoders.values():
                enc.stop()
            moved = self._quarantine(ep)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise EpisodeError(f"{self.root}: saving episode {ep.index} failed ({exc}); nothing "
                               f"was published; its files were moved to {moved}") from exc
        return ep.index

    def _quarantine(self, ep: _Episode) -> Path | None:
        if not ep.staging.dir.exists():
            return None
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.root / QUARANTINE_DIR / f"{stamp}-{ep.staging.dir.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(ep.staging.dir, target)
        return target

    # ------------------------------------------------------------------ commit
    def _commit(self, ep: _Episode) -> None:
        n, start, info = len(ep), self.total_frames, self._info
        staging = ep.staging
        new_tasks = [t for t in dict.fromkeys(ep.tasks) if t not in self._task_index]
        task_index = {**self._task_index,
                      **{t: len(self._tasks) + i for i, t in enumerate(new_tasks)}}
        columns = self._episode_columns(ep, start, task_index)
        table = pa.table([column_array(self._features[k], columns[k]) for k in self._schema.names],
                         schema=self._schema)

        ep_stats = {k: stats.vector_stats(columns[k]) for k in self._schema.names}
        order: list[str] = []
        row: dict[str, Any] = {"episode_index": ep.index, "tasks": list(dict.fromkeys(ep.tasks)),
                               "length": n}
        data_ref, data_table = self._stage_data(staging, table, n)
        order.append(data_ref.data_path())
        row.update({"data/chunk_index": data_ref.chunk, "data/file_index": data_ref.file,
                    "dataset_from_index": start, "dataset_to_index": start + n})
        tps = _tps(self.fps)
        duration = ep.pts[-1] + tps // self.fps
        for cam, enc in ep.encoders.items():
            key = camera_key(cam)
            ref, offset = self._stage_video(staging, key, enc.path, duration)
            order.append(ref.video_path(key))
            row.update({f"videos/{key}/chunk_index": ref.chunk,
                        f"videos/{key}/file_index": ref.file,
                        f"videos/{key}/from_timestamp": offset / tps,
                        f"videos/{key}/to_timestamp": (offset + duration) / tps})
            ep_stats[key] = enc.stats.result()
        row.update(stats.to_episode_columns(ep_stats))

        if new_tasks:
            write_parquet(tasks_table(self._tasks + new_tasks), staging.stage(TASKS_PATH))
            order.append(TASKS_PATH)
        meta_ref, meta_rows = self._meta_target()
        row.update({"meta/episodes/chunk_index": meta_ref.chunk,
                    "meta/episodes/file_index": meta_ref.file})
        meta_rows = [*meta_rows, row]
        write_parquet(episodes_table(meta_rows), staging.stage(meta_ref.episodes_path()))
        order.append(meta_ref.episodes_path())
        merged = stats.aggregate([self._stats, ep_stats]) if self._stats else ep_stats
        atomic.write_json_atomic(staging.stage(STATS_PATH), stats.to_json(merged))
        order.append(STATS_PATH)
        new_info = {**info, "total_episodes": ep.index + 1, "total_frames": start + n,
                    "total_tasks": len(self._tasks) + len(new_tasks),
                    "splits": {"train": f"0:{ep.index + 1}"}}
        atomic.write_json_atomic(staging.stage(INFO_PATH), new_info)
        order.append(INFO_PATH)

        staging.commit(order)

        self._info = new_info
        self._tasks += new_tasks
        self._task_index = task_index
        self._meta_ref, self._meta_rows, self._last = meta_ref, meta_rows, row
        self._stats = merged
        self._data_cache = (data_ref, data_table)

    def _episode_columns(self, ep: _Episode, start: int,
                         task_index: Mapping[str, int]) -> dict[str, np.ndarray]:
        n = len(ep)
        columns: dict[str, np.ndarray] = {
            STATE_KEY: np.stack(ep.states),
            ACTION_KEY: np.stack(ep.actions),
            "timestamp": np.asarray(ep.timestamps, dtype=np.float32),
            "frame_index": np.arange(n, dtype=np.int64),
            "episode_index": np.full(n, ep.index, dtype=np.int64),
            "index": np.arange(start, start + n, dtype=np.int64),
            "task_index": np.array([task_index[t] for t in ep.tasks], dtype=np.int64),
        }
        for key in self._extra_keys:
            columns[key] = np.stack(ep.extras[key])
        return columns

    def _stage_data(self, staging: atomic.StagedCommit, table: pa.Table,
                    n: int) -> tuple[FileRef, pa.Table]:
        limit = float(self._info.get("data_files_size_in_mb", DEFAULT_DATA_FILE_SIZE_MB)) * MB
        last = self._last
        if last is None:
            ref, existing = FileRef(0, 0), None
        else:
            ref = FileRef(last["data/chunk_index"], last["data/file_index"])
            path = self.root / ref.data_path()
            existing = self._read_data(ref)
            size = path.stat().st_size
            if size + size * n / max(existing.num_rows, 1) >= limit:
                ref, existing = ref.next(self._info["chunks_size"]), None
        if existing is None and (self.root / ref.data_path()).exists():
            raise CorruptDatasetError(self.root / ref.data_path(),
                                      "file exists but no episode refers to it; move it away")
        combined = table if existing is None else pa.concat_tables([existing, table])
        write_parquet(combined, staging.stage(ref.data_path()))
        return ref, combined

    def _read_data(self, ref: FileRef) -> pa.Table:
        if self._data_cache is not None and self._data_cache[0] == ref:
            return self._data_cache[1]
        path = self.root / ref.data_path()
        table = read_parquet(path)
        try:
            return table.select(self._schema.names).cast(self._schema)
        except (KeyError, pa.ArrowException) as exc:
            raise CorruptDatasetError(path, f"columns do not match info.json features: {exc}") \
                from exc

    def _stage_video(self, staging: atomic.StagedCommit, key: str, episode_file: Path,
                     duration: int) -> tuple[FileRef, int]:
        """Place the episode's mp4 in its target file; returns (file, start tick)."""
        limit = float(self._info.get("video_files_size_in_mb", DEFAULT_VIDEO_FILE_SIZE_MB)) * MB
        last = self._last
        tps = _tps(self.fps)
        if last is None or f"videos/{key}/chunk_index" not in last:
            ref, current = FileRef(0, 0), None
        else:
            ref = FileRef(last[f"videos/{key}/chunk_index"], last[f"videos/{key}/file_index"])
            current = self.root / ref.video_path(key)
            too_big = current.stat().st_size + episode_file.stat().st_size >= limit
            if too_big or not can_append(probe(current), probe(episode_file)):
                ref, current = ref.next(self._info["chunks_size"]), None
        target = staging.stage(ref.video_path(key))
        if current is None:
            if (self.root / ref.video_path(key)).exists():
                raise CorruptDatasetError(self.root / ref.video_path(key),
                                          "file exists but no episode refers to it; move it away")
            os.replace(episode_file, target)
            return ref, 0
        offset = round(float(last[f"videos/{key}/to_timestamp"]) * tps)
        concat(current, episode_file, target, offset, Fraction(1, tps))
        return ref, offset

    def _meta_target(self) -> tuple[FileRef, list[dict[str, Any]]]:
        ref, rows = self._meta_ref, self._meta_rows
        if not rows:
            return ref, []
        path = self.root / ref.episodes_path()
        limit = float(self._info.get("data_files_size_in_mb", DEFAULT_DATA_FILE_SIZE_MB)) * MB
        if len(rows) >= MAX_EPISODES_PER_META_FILE or path.stat().st_size >= limit:
            return ref.next(self._info["chunks_size"]), []
        return ref, rows

    # ------------------------------------------------------------------ closing
    def _check_open(self) -> None:
        if self._closed:
            raise EpisodeError(f"{self.root}: the writer is closed")

    def close(self) -> None:
        """Release the dataset. An unsaved episode is discarded (with a warning)."""
        if self._closed:
            return
        if self._episode is not None and len(self._episode):
            warnings.warn(f"{self.root}: closing with an unsaved episode of "
                          f"{len(self._episode)} frames; it was discarded (call save_episode() "
                          "to keep it)", stacklevel=2)
        self.discard_episode()
        self._closed = True
        self._lock.release()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _names(features: Mapping[str, Any], key: str) -> list[str] | int:
    names = features[key].get("names")
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return names
    if isinstance(names, dict) and len(names) == 1:  # LeRobot's {"motors": [...]} form
        return list(next(iter(names.values())))
    return int(features[key]["shape"][0])
