"""Fuzzing the message conversions every node relies on.

Invariant: any message, however malformed, either converts to a well-formed array or
raises `ConversionError` with a message — never another exception, never NaN through.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vla_ros.runtime import msgs
from vla_ros.runtime.clock import seconds_to_duration_msg
from vla_ros.runtime.convert import (
    IMAGE_ENCODINGS,
    ConversionError,
    image_to_msg,
    joint_positions,
    msg_to_image,
    multiarray_msg,
    multiarray_to_array,
    trajectory_arrays,
    trajectory_msg,
)

ENCODINGS = sorted(IMAGE_ENCODINGS) + ["rgba8", "yuv422", "", "RGB8", "32FC1"]
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
names = st.lists(st.sampled_from(["j1", "j2", "j3", "j4", "gripper", "", "j1 "]), max_size=8)


@given(encoding=st.sampled_from(ENCODINGS), height=st.integers(-2, 12),
       width=st.integers(-2, 12), step=st.integers(-4, 80), big=st.integers(0, 2),
       data=st.binary(max_size=2000))
def test_any_image_message_converts_or_is_a_conversion_error(encoding, height, width, step,
                                                             big, data):
    msg = msgs.Image(height=max(height, 0), width=max(width, 0), encoding=encoding,
                     is_bigendian=big, step=max(step, 0),
                     data=np.frombuffer(data, dtype=np.uint8))
    try:
        image = msg_to_image(msg)
    except ConversionError as err:
        assert str(err)
        return
    dtype, channels = IMAGE_ENCODINGS[encoding]
    assert image.dtype == dtype and image.shape[:2] == (height, width)
    assert image.ndim == (3 if channels > 1 else 2)


@given(st.sampled_from(sorted(IMAGE_ENCODINGS)), st.integers(1, 9), st.integers(1, 9),
       st.integers(0, 2**31), st.booleans())
def test_valid_images_round_trip_bit_exact_either_endianness(encoding, h, w, seed, swap):
    dtype, channels = IMAGE_ENCODINGS[encoding]
    rng = np.random.default_rng(seed)
    shape = (h, w, channels) if channels > 1 else (h, w)
    image = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)
    msg = image_to_msg(image, encoding)
    if swap and dtype.itemsize > 1:  # the same pixels sent by a big-endian machine
        msg.data = image.astype(dtype.newbyteorder(">")).reshape(-1).view(np.uint8)
        msg.is_bigendian = 1
    np.testing.assert_array_equal(msg_to_image(msg), image)


point_lists = st.lists(
    st.tuples(st.lists(floats, max_size=6), st.floats(-2, 5)), max_size=6)


@given(names=names, points=point_lists)
def test_any_trajectory_converts_to_finite_increasing_points_or_is_rejected(names, points):
    msg = msgs.JointTrajectory(joint_names=names, points=[
        msgs.JointTrajectoryPoint(positions=np.array(p, float),
                                  time_from_start=seconds_to_duration_msg(t))
        for p, t in points])
    try:
        got_names, positions, times = trajectory_arrays(msg)
    except ConversionError as err:
        assert str(err)
        return
    assert got_names == names and len(set(names)) == len(names)
    assert positions.shape == (len(points), len(names))
    assert np.all(np.isfinite(positions))
    assert len(times) == 0 or (times[0] >= 0 and np.all(np.diff(times) > 0))


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                  elements=floats),
       st.lists(st.floats(0, 10), max_size=6))
def test_building_a_trajectory_never_lets_nan_out(positions, times):
    labels = [f"j{i}" for i in range(positions.shape[1])]
    try:
        msg = trajectory_msg(labels, positions, times)
    except ConversionError:
        return
    assert all(np.all(np.isfinite(p.positions)) for p in msg.points)


@given(msg_names=names, position=st.lists(floats, max_size=8), wanted=names)
def test_joint_positions_are_finite_and_complete_or_rejected(msg_names, position, wanted):
    msg = msgs.JointState(name=msg_names, position=np.array(position, float))
    try:
        out = joint_positions(msg, wanted)
    except ConversionError as err:
        assert str(err)
        return
    assert out.shape == (len(wanted),) and np.all(np.isfinite(out))


@given(sizes=st.lists(st.integers(0, 5), max_size=4), offset=st.integers(0, 6),
       data=st.lists(st.floats(width=32), max_size=64))
def test_any_multiarray_layout_is_honoured_or_rejected(sizes, offset, data):
    msg = msgs.Float32MultiArray(
        layout=msgs.MultiArrayLayout(
            dim=[msgs.MultiArrayDimension(label=f"d{i}", size=s, stride=0)
                 for i, s in enumerate(sizes)], data_offset=offset),
        data=np.array(data, np.float32))
    try:
        array, labels = multiarray_to_array(msg)
    except ConversionError as err:
        assert str(err)
        return
    if sizes:
        assert array.shape == tuple(sizes) and len(labels) == len(sizes)


@given(hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=5),
                  elements=st.floats(width=32, allow_nan=False)))
def test_multiarray_round_trip(array):
    assume(array.ndim >= 1)
    back, labels = multiarray_to_array(multiarray_msg(array))
    np.testing.assert_array_equal(back, array)
    assert len(labels) == array.ndim
