"""numpy ↔ ROS message conversions, checked: a malformed message is an error, never a guess.

Works on both backends: reading goes through `np.asarray` on fields, building through the
`msgs` factories.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from vla_ros.runtime import msgs
from vla_ros.runtime.clock import (
    duration_msg_to_seconds,
    seconds_to_duration_msg,
    seconds_to_time_msg,
)


class ConversionError(ValueError):
    """A message does not hold what its fields claim (shape, encoding, lengths, values)."""


# encoding -> (numpy dtype, channels)
IMAGE_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "mono8": (np.dtype(np.uint8), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "mono16": (np.dtype(np.uint16), 1),
}


def _header(stamp: float | None, frame_id: str):
    return msgs.Header(
        stamp=seconds_to_time_msg(stamp) if stamp is not None else msgs.Time(),
        frame_id=frame_id,
    )


# --- images --------------------------------------------------------------------------
def image_to_msg(image: np.ndarray, encoding: str = "rgb8", stamp: float | None = None,
                 frame_id: str = ""):
    """HxWx3 uint8 (rgb8/bgr8), HxW uint8 (mono8) or HxW uint16 (16UC1) → sensor_msgs/Image."""
    if encoding not in IMAGE_ENCODINGS:
        raise ConversionError(
            f"unsupported image encoding '{encoding}'; use one of {sorted(IMAGE_ENCODINGS)}"
        )
    dtype, channels = IMAGE_ENCODINGS[encoding]
    array = np.asarray(image)
    expected_ndim = 3 if channels > 1 else 2
    if array.ndim == 3 and channels == 1 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != expected_ndim or (channels > 1 and array.shape[2] != channels):
        raise ConversionError(
            f"{encoding} image must have shape "
            f"{f'HxWx{channels}' if channels > 1 else 'HxW'}, got {array.shape}"
        )
    if array.dtype != dtype:
        raise ConversionError(f"{encoding} image must be {dtype}, got {array.dtype}")
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise ConversionError(f"empty image {array.shape}")
    array = np.ascontiguousarray(array)
    return msgs.Image(
        header=_header(stamp, frame_id),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=int(sys.byteorder == "big" and dtype.itemsize > 1),
        step=width * channels * dtype.itemsize,
        data=array.reshape(-1).view(np.uint8),
    )


def msg_to_image(msg) -> np.ndarray:
    """sensor_msgs/Image → numpy array (copy-free where possible); checks step and size."""
    encoding = msg.encoding
    if encoding not in IMAGE_ENCODINGS:
        raise ConversionError(
            f"unsupported image encoding '{encoding}'; supported: {sorted(IMAGE_ENCODINGS)}"
        )
    dtype, channels = IMAGE_ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row_bytes = width * channels * dtype.itemsize
    if height <= 0 or width <= 0:
        raise ConversionError(f"image has no pixels ({width}x{height})")
    if step < row_bytes:
        raise ConversionError(
            f"image step {step} is smaller than width*channels*bytes = {row_bytes}"
        )
    data = np.asarray(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise ConversionError(
            f"image data has {data.size} bytes, expected step*height = {step * height}"
        )
    rows = data.reshape(height, step)[:, :row_bytes]
    array = np.ascontiguousarray(rows).view(dtype)
    big = bool(msg.is_bigendian)
    if dtype.itemsize > 1 and big != (sys.byteorder == "big"):
        array = array.byteswap()
    shape = (height, width, channels) if channels > 1 else (height, width)
    return array.reshape(shape)


# --- joint states ----------------------------------------------------------------------
def joint_state_msg(names: Sequence[str], position, velocity=None, effort=None,
                    stamp: float | None = None):
    position = np.asarray(position, dtype=np.float64)
    if len(names) != position.shape[0]:
        raise ConversionError(f"{len(names)} joint names but {position.shape[0]} positions")
    return msgs.JointState(
        header=_header(stamp, ""),
        name=list(names),
        position=position,
        velocity=np.zeros(0) if velocity is None else np.asarray(velocity, dtype=np.float64),
        effort=np.zeros(0) if effort is None else np.asarray(effort, dtype=np.float64),
    )


def joint_positions(msg, names: Sequence[str]) -> np.ndarray:
    """Positions of `names` (in that order) from a JointState; missing joints are an error."""
    got = list(msg.name)
    position = np.asarray(msg.position, dtype=np.float64)
    if len(got) != position.shape[0]:
        raise ConversionError(
            f"JointState has {len(got)} names but {position.shape[0]} positions"
        )
    index = {n: i for i, n in enumerate(got)}
    missing = [n for n in names if n not in index]
    if missing:
        raise ConversionError(f"JointState lacks joints {missing}")
    out = position[[index[n] for n in names]]
    if not np.all(np.isfinite(out)):
        raise ConversionError("JointState holds NaN or infinite positions")
    return out


# --- action chunks / trajectories ------------------------------------------------------
def trajectory_msg(names: Sequence[str], positions: np.ndarray, times: Sequence[float],
                   stamp: float | None = None, velocities: np.ndarray | None = None):
    """[H, D] positions at `times` (seconds from start) → trajectory_msgs/JointTrajectory.

    Used for action chunks (names = action dimensions) and controller commands alike. An
    empty `positions` (H = 0) gives the empty trajectory that stops a controller.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2:
        raise ConversionError(f"trajectory positions must be [H, D], got shape {positions.shape}")
    if positions.shape[0] and positions.shape[1] != len(names):
        raise ConversionError(
            f"trajectory has {positions.shape[1]} columns but {len(names)} joint names"
        )
    if len(times) != positions.shape[0]:
        raise ConversionError(f"{len(times)} times for {positions.shape[0]} points")
    if not np.all(np.isfinite(positions)):
        raise ConversionError("trajectory holds NaN or infinite positions")
    points = []
    for i, t in enumerate(times):
        point = msgs.JointTrajectoryPoint(
            positions=positions[i],
            time_from_start=seconds_to_duration_msg(float(t)),
        )
        if velocities is not None:
            point.velocities = np.asarray(velocities[i], dtype=np.float64)
        points.append(point)
    return msgs.JointTrajectory(header=_header(stamp, ""), joint_names=list(names),
                                points=points)


def trajectory_arrays(msg) -> tuple[list[str], np.ndarray, np.ndarray]:
    """JointTrajectory → (names, positions [H, D], times [H]); validates every point.

    Rejected: duplicate names, a point whose length differs from the names, NaN/inf,
    negative or non-increasing `time_from_start`.
    """
    names = list(msg.joint_names)
    if len(set(names)) != len(names):
        raise ConversionError(f"duplicate joint names in trajectory: {names}")
    count = len(msg.points)
    positions = np.empty((count, len(names)))
    times = np.empty(count)
    for i, point in enumerate(msg.points):
        p = np.asarray(point.positions, dtype=np.float64)
        if p.shape != (len(names),):
            raise ConversionError(
                f"trajectory point {i} has {p.size} positions for {len(names)} joints"
            )
        positions[i] = p
        times[i] = duration_msg_to_seconds(point.time_from_start)
    if not np.all(np.isfinite(positions)):
        raise ConversionError("trajectory holds NaN or infinite positions")
    if count and (times[0] < 0 or np.any(np.diff(times) <= 0)):
        raise ConversionError(
            f"trajectory time_from_start must be >= 0 and strictly increasing, got {times.tolist()}"
        )
    return names, positions, times


# --- Float32MultiArray ----------------------------------------------------------------
def multiarray_msg(array: np.ndarray, labels: Sequence[str] | None = None):
    """N-d float array → Float32MultiArray with a row-major layout; `labels` name the dims."""
    array = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    labels = list(labels) if labels is not None else [f"dim{i}" for i in range(array.ndim)]
    if len(labels) != array.ndim:
        raise ConversionError(f"{len(labels)} labels for a {array.ndim}-d array")
    dims = []
    stride = array.size
    for size, label in zip(array.shape, labels, strict=True):
        dims.append(msgs.MultiArrayDimension(label=label, size=size, stride=stride))
        stride = stride // size if size else 0
    return msgs.Float32MultiArray(
        layout=msgs.MultiArrayLayout(dim=dims, data_offset=0), data=array.reshape(-1)
    )


def multiarray_to_array(msg) -> tuple[np.ndarray, list[str]]:
    """Float32MultiArray → (array shaped by its layout, dimension labels)."""
    data = np.asarray(msg.data, dtype=np.float32)
    offset = int(msg.layout.data_offset)
    dims = list(msg.layout.dim)
    if not dims:
        return data[offset:], []
    shape = tuple(int(d.size) for d in dims)
    need = int(np.prod(shape))
    if data.size - offset != need:
        raise ConversionError(
            f"Float32MultiArray layout {shape} needs {need} values, data has {data.size - offset}"
        )
    return data[offset:].reshape(shape), [d.label for d in dims]
