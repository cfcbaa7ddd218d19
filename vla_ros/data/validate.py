"""Consistency check of a LeRobotDataset v3 folder: everything a reader relies on.

Collects every problem instead of stopping at the first, so one run tells an operator
all that is wrong with a recording. Each problem names the file it was found in.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vla_ros.data.errors import DatasetError
from vla_ros.data.features import DEFAULT_FEATURES, arrow_type, video_keys
from vla_ros.data.layout import (
    CODEBASE_VERSION,
    DATA_DIR,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
)
from vla_ros.data.meta import read_episodes, read_info, read_parquet, read_tasks
from vla_ros.data.video import probe

TIMESTAMP_TOLERANCE_S = 1e-4  # LeRobot's default tolerance when looking frames up
REQUIRED_STATS = ("min", "max", "mean", "std", "count")


@dataclass
class ValidationReport:
    root: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    episodes: int = 0
    frames: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_dataset(root: str | Path, check_videos: bool = True) -> ValidationReport:
    """Validate `root`; never raises for dataset problems, returns them in the report."""
    report = ValidationReport(Path(root))
    root = report.root
    try:
        info = read_info(root)
    except DatasetError as exc:
        report.problems.append(str(exc))
        return report
    if not _check_info(root / INFO_PATH, info, report.problems):
        return report  # without a features table nothing else can be checked
    features = info["features"]
    try:
        tasks = read_tasks(root)
        episodes = read_episodes(root, with_stats=True)
    except DatasetError as exc:
        report.problems.append(str(exc))
        return report
    report.episodes = len(episodes)
    report.frames = sum(int(e.get("length", 0)) for e in episodes)
    if not _check_episodes(root, info, tasks, episodes, report.problems):
        return report  # file addresses cannot be trusted; stop before reading data
    _check_data(root, info, tasks, episodes, report)
    if check_videos:
        _check_videos(root, info, episodes, report)
    _check_stats(root / STATS_PATH, features, bool(episodes), report.problems)
    return report


def _check_info(path: Path, info: Mapping[str, Any], problems: list[str]) -> bool:
    """Report info.json problems; False when the features table is unusable."""
    if info.get("codebase_version") != CODEBASE_VERSION:
        problems.append(f"{path}: codebase_version is {info.get('codebase_version')!r}, "
                        f"expected {CODEBASE_VERSION!r}")
    if not isinstance(info.get("fps"), int) or info["fps"] <= 0:
        problems.append(f"{path}: fps must be a positive integer, got {info.get('fps')!r}")
    if not isinstance(info.get("chunks_size"), int) or info["chunks_size"] <= 0:
        problems.append(f"{path}: chunks_size must be a positive integer")
    for key in ("data_path", "video_path"):
        template = info.get(key)
        if template is not None and not all(
                f"{{{p}" in str(template) for p in ("chunk_index", "file_index")):
            problems.append(f"{path}: {key} {template!r} lacks {{chunk_index}}/{{file_index}}")
    features = info.get("features")
    if not isinstance(features, dict) or not features:
        problems.append(f"{path}: features must be a non-empty object")
        return False
    for key, spec in DEFAULT_FEATURES.items():
        if key not in features:
            problems.append(f"{path}: feature {key!r} is missing")
        elif features[key].get("dtype") != spec["dtype"]:
            problems.append(f"{path}: feature {key!r} has dtype {features[key].get('dtype')}, "
                            f"expected {spec['dtype']}")
    for key, feature in features.items():
        where = f"{path}: feature {key!r}"
        shape = feature.get("shape") if isinstance(feature, dict) else None
        if not isinstance(shape, list | tuple) or not all(
                isinstance(d, int) and d > 0 for d in shape):
            problems.append(f"{where}: shape {shape!r} must be a list of positive integers")
            continue
        names = feature.get("names")
        if isinstance(names, dict) and len(names) == 1:
            names = next(iter(names.values()))
        if feature.get("dtype") == "video":
            if len(shape) != 3 or shape[2] != 3:
                problems.append(f"{where}: video shape {shape} must be [height, width, 3]")
            if not isinstance(feature.get("info"), dict) or "video.codec" not in feature["info"]:
                problems.append(f"{where}: video feature lacks info.video.codec")
            if info.get("video_path") is None:
                problems.append(f"{where}: video feature but info.video_path is null")
            continue
        try:
            arrow_type(feature)
        except (ValueError, KeyError) as exc:
            problems.append(f"{where}: {exc}")
            continue
        if isinstance(names, list) and len(shape) == 1 and len(names) != shape[0]:
            problems.append(f"{where}: {len(names)} names for shape {shape}")
    return True


def _check_episodes(root: Path, info: Mapping[str, Any], tasks: list[str],
                    episodes: list[dict[str, Any]], problems: list[str]) -> bool:
    """Report episode metadata problems; False when file addresses cannot be trusted."""
    usable = True
    where = root / "meta/episodes"
    if info.get("total_episodes") != len(episodes):
        problems.append(f"{root / INFO_PATH}: total_episodes is {info.get('total_episodes')} but "
                        f"{where} lists {len(episodes)} episodes")
    if info.get("total_tasks") != len(tasks):
        problems.append(f"{root / INFO_PATH}: total_tasks is {info.get('total_tasks')} but "
                        f"{root / TASKS_PATH} has {len(tasks)}")
    total = sum(int(e.get("length", 0)) for e in episodes)
    if info.get("total_frames") != total:
        problems.append(f"{root / INFO_PATH}: total_frames is {info.get('total_frames')} but "
                        f"episode lengths add up to {total}")
    required = ["episode_index", "tasks", "length", "data/chunk_index", "data/file_index",
                "dataset_from_index", "dataset_to_index"]
    for key in video_keys(info["features"]):
        required += [f"videos/{key}/{c}" for c in ("chunk_index", "file_index",
                                                   "from_timestamp", "to_timestamp")]
    expected_start = 0
    for i, ep in enumerate(episodes):
        missing = [c for c in required if ep.get(c) is None]
        if missing:
            problems.append(f"{where}: episode row {i} lacks {missing}")
            usable = False
            continue
        if ep["episode_index"] != i:
            problems.append(f"{where}: episode indices are not 0..N-1 (row {i} is episode "
                            f"{ep['episode_index']})")
        length = int(ep["length"])
        if length < 1:
            problems.append(f"{where}: episode {i} has length {length}")
        if (ep["dataset_from_index"], ep["dataset_to_index"]) != (expected_start,
                                                                 expected_start + length):
            problems.append(f"{where}: episode {i} covers frames [{ep['dataset_from_index']}, "
                            f"{ep['dataset_to_index']}), expected [{expected_start}, "
                            f"{expected_start + length})")
        expected_start += length
        unknown = [t for t in ep["tasks"] if t not in tasks]
        if unknown:
            problems.append(f"{where}: episode {i} names tasks {unknown} missing from "
                            f"{root / TASKS_PATH}")
        for key in video_keys(info["features"]):
            if ep[f"videos/{key}/to_timestamp"] <= ep[f"videos/{key}/from_timestamp"]:
                problems.append(f"{where}: episode {i} {key} has an empty time range")
    return usable


def _check_data(root: Path, info: Mapping[str, Any], tasks: list[str],
                episodes: list[dict[str, Any]], report: ValidationReport) -> None:
    features = info["features"]
    columns = {k: f for k, f in features.items() if f.get("dtype") != "video" and _typed(f)}
    by_file: dict[Path, list[dict[str, Any]]] = defaultdict(list)
    for ep in episodes:
        by_file[root / info["data_path"].format(chunk_index=int(ep["data/chunk_index"]),
                                                file_index=int(ep["data/file_index"]))].append(ep)
    stray = sorted(set((root / DATA_DIR).glob("*/*.parquet")) - set(by_file))
    for path in stray:
        report.problems.append(f"{path}: data file not referenced by any episode (LeRobot would "
                               "load its rows anyway)")
    for path, eps in sorted(by_file.items()):
        try:
            table = read_parquet(path)
        except DatasetError as exc:
            report.problems.append(str(exc))
            continue
        bad_schema = False
        for key, feature in columns.items():
            if key not in table.column_names:
                report.problems.append(f"{path}: column {key!r} is missing")
                bad_schema = True
            elif not _type_matches(table.schema.field(key).type, arrow_type(feature)):
                report.problems.append(f"{path}: column {key!r} has type "
                                       f"{table.schema.field(key).type}, info.json says "
                                       f"{arrow_type(feature)}")
                bad_schema = True
        if bad_schema:
            continue
        want_rows = sum(int(e["length"]) for e in eps)
        if table.num_rows != want_rows:
            report.problems.append(f"{path}: {table.num_rows} rows, the episodes stored in it "
                                   f"have {want_rows} frames")
        ep_col = table.column("episode_index").to_numpy()
        for ep in eps:
            _check_episode_rows(path, table, ep_col, ep, len(tasks), columns, int(info["fps"]),
                                report.problems)


def _typed(feature: Mapping[str, Any]) -> bool:
    try:
        arrow_type(feature)
    except (ValueError, KeyError, TypeError):
        return False  # reported by _check_info
    return True


def _type_matches(actual: pa.DataType, expected: pa.DataType) -> bool:
    if actual == expected:
        return True
    # Files written through `datasets` may hold variable lists where we write fixed ones.
    if pa.types.is_fixed_size_list(expected) and (pa.types.is_list(actual)
                                                 or pa.types.is_large_list(actual)):
        return actual.value_type == expected.value_type
    return False


def _check_episode_rows(path: Path, table: pa.Table, ep_col: np.ndarray, ep: Mapping[str, Any],
                        num_tasks: int, columns: Mapping[str, Any], fps: int,
                        problems: list[str]) -> None:
    i, length = int(ep["episode_index"]), int(ep["length"])
    mask = ep_col == i
    n = int(mask.sum())
    where = f"{path}: episode {i}"
    if n != length:
        problems.append(f"{where} has {n} rows, metadata says {length}")
        return
    rows = table.filter(pa.array(mask))
    index = rows.column("index").to_numpy()
    if not np.array_equal(index, np.arange(ep["dataset_from_index"], ep["dataset_to_index"])):
        problems.append(f"{where}: index column is not {ep['dataset_from_index']}.."
                        f"{ep['dataset_to_index'] - 1}")
    if not np.array_equal(rows.column("frame_index").to_numpy(), np.arange(length)):
        problems.append(f"{where}: frame_index is not 0..{length - 1}")
    ts = rows.column("timestamp").to_numpy()
    off_grid = np.abs(ts - np.arange(length) / fps) >= TIMESTAMP_TOLERANCE_S
    if off_grid.any():
        k = int(np.argmax(off_grid))
        problems.append(f"{where}: frame {k} has timestamp {ts[k]:.6f} s, not {k}/{fps} s "
                        f"(LeRobot finds video frames at frame_index/fps within "
                        f"{TIMESTAMP_TOLERANCE_S} s)")
    if length > 1 and not np.all(np.diff(ts) > 0):
        k = int(np.argmin(np.diff(ts) > 0))
        problems.append(f"{where}: timestamps not strictly increasing at frame {k + 1} "
                        f"({ts[k]} -> {ts[k + 1]})")
    task_index = rows.column("task_index").to_numpy()
    if task_index.min() < 0 or task_index.max() >= num_tasks:
        problems.append(f"{where}: task_index outside 0..{num_tasks - 1}")
    for key, feature in columns.items():
        if feature["dtype"] not in ("float32", "float64"):
            continue
        col = rows.column(key).combine_chunks()
        values = col.flatten() if pa.types.is_list(col.type) or pa.types.is_fixed_size_list(
            col.type) else col
        if not np.all(np.isfinite(values.to_numpy(zero_copy_only=False))):
            problems.append(f"{where}: column {key!r} holds NaN or inf")


def _check_videos(root: Path, info: Mapping[str, Any], episodes: list[dict[str, Any]],
                  report: ValidationReport) -> None:
    features = info["features"]
    data_ts: dict[int, np.ndarray] = _episode_timestamps(root, info, episodes)
    for key in video_keys(features):
        by_file: dict[Path, list[dict[str, Any]]] = defaultdict(list)
        for ep in episodes:
            by_file[root / info["video_path"].format(
                video_key=key, chunk_index=int(ep[f"videos/{key}/chunk_index"]),
                file_index=int(ep[f"videos/{key}/file_index"]))].append(ep)
        height, width = features[key]["shape"][:2]
        for path, eps in sorted(by_file.items()):
            try:
                stream = probe(path)
                pts = _all_pts(path)
            except DatasetError as exc:
                report.problems.append(str(exc))
                continue
            if (stream.height, stream.width) != (height, width):
                report.problems.append(f"{path}: video is {stream.height}x{stream.width}, "
                                       f"info.json says {height}x{width}")
            for ep in eps:
                i = int(ep["episode_index"])
                start = float(ep[f"videos/{key}/from_timestamp"])
                end = float(ep[f"videos/{key}/to_timestamp"])
                lo = bisect.bisect_left(pts, start - TIMESTAMP_TOLERANCE_S / 2)
                hi = bisect.bisect_left(pts, end - TIMESTAMP_TOLERANCE_S / 2)
                window = np.asarray(pts[lo:hi])
                if len(window) != int(ep["length"]):
                    report.problems.append(f"{path}: episode {i} has {len(window)} video frames "
                                           f"in [{start:.4f}, {end:.4f}) s, expected "
                                           f"{ep['length']}")
                    continue
                ts = data_ts.get(i)
                if ts is not None and len(ts) == len(window):
                    err = np.abs(window - (start + ts.astype(np.float64)))
                    if err.max() >= TIMESTAMP_TOLERANCE_S:
                        k = int(err.argmax())
                        report.problems.append(
                            f"{path}: episode {i} frame {k} is at {window[k]:.6f} s, its "
                            f"timestamp points to {start + ts[k]:.6f} s (LeRobot looks frames "
                            f"up within {TIMESTAMP_TOLERANCE_S} s)")


def _episode_timestamps(root: Path, info: Mapping[str, Any],
                        episodes: list[dict[str, Any]]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    paths = {root / info["data_path"].format(chunk_index=int(e["data/chunk_index"]),
                                             file_index=int(e["data/file_index"]))
             for e in episodes}
    for path in paths:
        try:
            table = read_parquet(path, columns=["episode_index", "timestamp"])
        except DatasetError:
            continue  # already reported by _check_data
        ep_col = table.column("episode_index").to_numpy()
        ts = table.column("timestamp").to_numpy()
        for i in np.unique(ep_col):
            out[int(i)] = ts[ep_col == i]
    return out


def _all_pts(path: Path) -> list[float]:
    import av

    from vla_ros.data.errors import CorruptDatasetError

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base)
            return sorted(p.pts * tb for p in container.demux(stream) if p.pts is not None)
    except (av.error.FFmpegError, OSError) as exc:
        raise CorruptDatasetError(path, f"cannot read video packets: {exc}") from exc


def _check_stats(path: Path, features: Mapping[str, Any], has_episodes: bool,
                 problems: list[str]) -> None:
    if not has_episodes:
        return
    if not path.is_file():
        problems.append(f"{path}: missing (needed for training normalisation)")
        return
    try:
        stats = json.loads(path.read_text())
    except ValueError as exc:
        problems.append(f"{path}: not valid JSON: {exc}")
        return
    for key, feature in features.items():
        if feature.get("dtype") == "string":
            continue
        entry = stats.get(key)
        if not isinstance(entry, dict):
            problems.append(f"{path}: no statistics for feature {key!r}")
            continue
        want = (3, 1, 1) if feature.get("dtype") in ("video", "image") else (
            int(feature["shape"][0]),)
        for stat in REQUIRED_STATS:
            if stat not in entry:
                problems.append(f"{path}: feature {key!r} lacks {stat!r}")
                continue
            value = np.asarray(entry[stat], dtype=np.float64)
            if stat != "count" and value.shape != want:
                problems.append(f"{path}: {key}.{stat} has shape {value.shape}, expected {want}")
            elif not np.all(np.isfinite(value)):
                problems.append(f"{path}: {key}.{stat} holds NaN or inf")
