"""Reading and writing the `meta/` files: info.json, tasks.parquet, episodes parquet.

tasks.parquet is what pandas writes for `DataFrame({"task_index": ...}, index=tasks)`
(LeRobot reads it with `pd.read_parquet` and looks tasks up in the index). pandas is not
a dependency here, so the table and its pandas metadata are built with pyarrow directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vla_ros.data.errors import CorruptDatasetError, NotADatasetError
from vla_ros.data.layout import EPISODES_DIR, INFO_PATH, TASKS_PATH

TASK_INDEX_COLUMN = "__index_level_0__"
REQUIRED_INFO_KEYS = ("codebase_version", "fps", "features", "total_episodes", "total_frames",
                      "total_tasks", "chunks_size", "data_path")


def read_info(root: Path) -> dict[str, Any]:
    path = root / INFO_PATH
    if not path.is_file():
        raise NotADatasetError(f"{root}: no {INFO_PATH}; this is not a LeRobot dataset")
    try:
        info = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise CorruptDatasetError(path, f"not valid JSON: {exc}") from exc
    if not isinstance(info, dict):
        raise CorruptDatasetError(path, "top level must be a JSON object")
    missing = [k for k in REQUIRED_INFO_KEYS if k not in info]
    if missing:
        raise CorruptDatasetError(path, f"missing keys {missing}")
    return info


def read_parquet(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """pq.read_table with errors that name the file."""
    if not path.is_file():
        raise CorruptDatasetError(path, "file is missing")
    try:
        return pq.read_table(path, columns=list(columns) if columns is not None else None)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptDatasetError(path, f"cannot read parquet: {exc}") from exc


def write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="snappy")


def tasks_table(tasks: Sequence[str]) -> pa.Table:
    """Task strings (position = task_index) as pandas would store the indexed frame."""
    pandas_meta = {
        "index_columns": [TASK_INDEX_COLUMN],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                            "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
             "numpy_type": "int64", "metadata": None},
            {"name": None, "field_name": TASK_INDEX_COLUMN, "pandas_type": "unicode",
             "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    schema = pa.schema([("task_index", pa.int64()), (TASK_INDEX_COLUMN, pa.string())],
                       metadata={b"pandas": json.dumps(pandas_meta).encode()})
    return pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()),
                     TASK_INDEX_COLUMN: pa.array(list(tasks), pa.string())}, schema=schema)


def read_tasks(root: Path) -> list[str]:
    """Tasks ordered by task_index; [] for a dataset without episodes yet."""
    path = root / TASKS_PATH
    if not path.exists():
        return []
    table = read_parquet(path)
    names = [n for n in table.column_names if n != "task_index"]
    if "task_index" not in table.column_names or not names:
        raise CorruptDatasetError(path, f"expected columns task_index and the task text, "
                                        f"found {table.column_names}")
    column = "task" if "task" in names else names[0]
    indices = table.column("task_index").to_pylist()
    texts = table.column(column).to_pylist()
    if sorted(indices) != list(range(len(indices))):
        raise CorruptDatasetError(path, f"task_index values are not 0..{len(indices) - 1}")
    ordered = [""] * len(indices)
    for i, text in zip(indices, texts, strict=True):
        ordered[i] = text
    return ordered


def episodes_files(root: Path) -> list[Path]:
    return sorted((root / EPISODES_DIR).glob("chunk-*/file-*.parquet"))


def read_episodes(root: Path, with_stats: bool = False) -> list[dict[str, Any]]:
    """Every episode row across the episodes metadata files, by episode_index."""
    rows: list[dict[str, Any]] = []
    for path in episodes_files(root):
        table = read_parquet(path)
        if not with_stats:
            table = table.select([c for c in table.column_names if not c.startswith("stats/")])
        rows.extend(table.to_pylist())
    rows.sort(key=lambda r: r.get("episode_index", -1))
    return rows


def episodes_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Episode rows -> table; column types are fixed so rewrites never drift.

    Columns are the union over rows (in first-seen order): rows written by another tool
    may carry more or fewer statistics than ours.
    """
    columns = list(dict.fromkeys(key for row in rows for key in row))
    arrays = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        arrays[column] = pa.array(values, type=_episode_column_type(column, values))
    return pa.table(arrays)


def _episode_column_type(column: str, values: list[Any]) -> pa.DataType | None:
    if column == "tasks":
        return pa.list_(pa.string())
    if column.endswith(("_index", "/chunk_index", "/file_index")) or column in (
            "length", "dataset_from_index", "dataset_to_index"):
        return pa.int64()
    if column.endswith(("from_timestamp", "to_timestamp")):
        return pa.float64()
    if column.startswith("stats/"):
        depth, sample = 0, next((v for v in values if v is not None), None)
        while isinstance(sample, list):
            depth, sample = depth + 1, (sample[0] if sample else None)
        leaf = pa.int64() if column.endswith("/count") else pa.float64()
        for _ in range(depth):
            leaf = pa.list_(leaf)
        return leaf
    return None
