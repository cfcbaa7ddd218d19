"""The `features` block of meta/info.json and the parquet schema derived from it.

LeRobot describes every column by dtype, shape and names; a camera is a feature of dtype
"video" whose pixels live in mp4 files, not in parquet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

STATE_KEY = "observation.state"
ACTION_KEY = "action"
IMAGE_PREFIX = "observation.images."

# Columns LeRobot adds to every dataset, in its order, after the user's features.
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}

NUMERIC_DTYPES = {
    "float32": pa.float32(),
    "float64": pa.float64(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "bool": pa.bool_(),
}


@dataclass(frozen=True)
class ExtraFeature:
    """A per-frame value besides state and action (e.g. `next.reward`, `observation.effort`).

    Scalars use shape (1,) and are stored as plain columns; vectors as fixed-size lists.
    """

    dtype: str = "float32"
    shape: tuple[int, ...] = (1,)
    names: Sequence[str] | None = field(default=None)

    def to_info(self, key: str) -> dict[str, Any]:
        if self.dtype not in NUMERIC_DTYPES:
            raise ValueError(f"extra feature {key!r}: dtype {self.dtype!r} is not one of "
                             f"{sorted(NUMERIC_DTYPES)}")
        if len(self.shape) != 1 or self.shape[0] < 1:
            raise ValueError(f"extra feature {key!r}: shape {self.shape} must be (n,) with n >= 1")
        if self.names is not None and len(self.names) != self.shape[0]:
            raise ValueError(f"extra feature {key!r}: {len(self.names)} names for shape "
                             f"{self.shape}")
        return {"dtype": self.dtype, "shape": [int(self.shape[0])],
                "names": list(self.names) if self.names is not None else None}


def camera_key(camera: str) -> str:
    """Feature key of a camera, as LeRobot names it."""
    return IMAGE_PREFIX + camera


def vector_names(names: Sequence[str] | int, what: str) -> list[str]:
    """Accept either explicit names or a dimension (names are then `<what>_<i>`)."""
    if isinstance(names, int):
        if names < 1:
            raise ValueError(f"{what} dimension must be >= 1, got {names}")
        return [f"{what}_{i}" for i in range(names)]
    out = [str(n) for n in names]
    if not out:
        raise ValueError(f"{what} needs at least one name")
    if len(set(out)) != len(out):
        raise ValueError(f"{what} names repeat: {out}")
    return out


def build_features(
    state_names: Sequence[str] | int,
    action_names: Sequence[str] | int,
    cameras: Mapping[str, tuple[int, ...]],
    video_info: Mapping[str, Any],
    extras: Mapping[str, ExtraFeature] | None = None,
) -> dict[str, dict[str, Any]]:
    """The full features dict written to info.json, in LeRobot's column order."""
    state = vector_names(state_names, "state")
    action = vector_names(action_names, "action")
    features: dict[str, dict[str, Any]] = {
        STATE_KEY: {"dtype": "float32", "shape": [len(state)], "names": state},
        ACTION_KEY: {"dtype": "float32", "shape": [len(action)], "names": action},
    }
    for cam, shape in cameras.items():
        if not cam or "/" in cam or cam.strip() != cam:
            raise ValueError(f"camera name {cam!r} must be non-empty, without '/' or spaces")
        height, width = int(shape[0]), int(shape[1])
        if len(shape) == 3 and int(shape[2]) != 3:
            raise ValueError(f"camera {cam!r}: only 3-channel RGB is supported, got {shape}")
        if height < 2 or width < 2 or height % 2 or width % 2:
            raise ValueError(f"camera {cam!r}: {height}x{width} must be even and >= 2 "
                             "(yuv420p video needs even sizes)")
        features[camera_key(cam)] = {
            "dtype": "video",
            "shape": [height, width, 3],
            "names": ["height", "width", "channels"],
            "info": {**video_info, "video.height": height, "video.width": width},
        }
    for key, extra in (extras or {}).items():
        if key in features or key in DEFAULT_FEATURES:
            raise ValueError(f"extra feature {key!r} clashes with a built-in feature")
        if "/" in key:
            raise ValueError(f"extra feature {key!r}: '/' is not allowed in feature names")
        features[key] = extra.to_info(key)
    features.update({k: dict(v) for k, v in DEFAULT_FEATURES.items()})
    return features


def video_keys(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [k for k, f in features.items() if f.get("dtype") == "video"]


def camera_names(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [k[len(IMAGE_PREFIX):] if k.startswith(IMAGE_PREFIX) else k
            for k in video_keys(features)]


def extra_keys(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    fixed = {STATE_KEY, ACTION_KEY, *DEFAULT_FEATURES}
    return [k for k, f in features.items() if f.get("dtype") != "video" and k not in fixed]


def arrow_type(feature: Mapping[str, Any]) -> pa.DataType:
    """Scalars (shape [1]) are plain columns; vectors are fixed-size lists (datasets' Sequence)."""
    dtype = feature["dtype"]
    if dtype not in NUMERIC_DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r} for a parquet column")
    shape = list(feature["shape"])
    if shape == [1]:
        return NUMERIC_DTYPES[dtype]
    if len(shape) == 1:
        return pa.list_(NUMERIC_DTYPES[dtype], int(shape[0]))
    raise ValueError(f"unsupported shape {shape} for a parquet column")


def arrow_schema(features: Mapping[str, Mapping[str, Any]]) -> pa.Schema:
    """Parquet schema of data files: every non-video feature, in info.json order."""
    return pa.schema([pa.field(k, arrow_type(f)) for k, f in features.items()
                      if f.get("dtype") != "video"])


def column_array(feature: Mapping[str, Any], values: np.ndarray) -> pa.Array:
    """Turn a (T,) or (T, n) numpy block into the arrow column of `feature`."""
    typ = arrow_type(feature)
    np_dtype = np.dtype(feature["dtype"])
    if pa.types.is_fixed_size_list(typ):
        flat = np.ascontiguousarray(values, dtype=np_dtype).reshape(-1)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat, type=typ.value_type),
                                                 typ.list_size)
    return pa.array(np.ascontiguousarray(values, dtype=np_dtype).reshape(-1), type=typ)


def column_numpy(feature: Mapping[str, Any], column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Inverse of `column_array`: (T,) for scalars, (T, n) for vectors."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    np_dtype = np.dtype(feature["dtype"])
    if pa.types.is_fixed_size_list(column.type):
        flat = column.flatten().to_numpy(zero_copy_only=False)
        return flat.astype(np_dtype, copy=False).reshape(len(column), column.type.list_size)
    return column.to_numpy(zero_copy_only=False).astype(np_dtype, copy=False)


def describe_mismatch(stored: Mapping[str, Mapping[str, Any]],
                      wanted: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Human-readable differences between two features dicts (empty when compatible)."""
    problems = []
    for key in stored.keys() - wanted.keys():
        problems.append(f"feature {key!r} is in the dataset but not requested")
    for key in wanted.keys() - stored.keys():
        problems.append(f"feature {key!r} is requested but not in the dataset")
    for key in stored.keys() & wanted.keys():
        a, b = stored[key], wanted[key]
        for attr in ("dtype", "shape", "names"):
            va, vb = a.get(attr), b.get(attr)
            if attr == "shape":
                va, vb = list(va or []), list(vb or [])
            if attr == "names":
                va, vb = _plain_names(va), _plain_names(vb)
            if va != vb:
                problems.append(f"feature {key!r}: {attr} is {va} in the dataset, requested {vb}")
        if a.get("dtype") == "video":
            codec_a = (a.get("info") or {}).get("video.codec")
            codec_b = (b.get("info") or {}).get("video.codec")
            if codec_a != codec_b:
                problems.append(f"feature {key!r}: video codec is {codec_a} in the dataset, "
                                f"requested {codec_b}")
    return sorted(problems)


def _plain_names(names: Any) -> Any:
    """LeRobot sometimes writes names as {"motors": [...]}; compare the list inside."""
    if isinstance(names, dict) and len(names) == 1:
        return list(next(iter(names.values())))
    return names
