"""numpy <-> message conversions: round trips and every malformed-message rejection."""

import numpy as np
import pytest

from vla_ros.runtime import msgs
from vla_ros.runtime.clock import Time, seconds_to_time_msg, time_msg_to_seconds
from vla_ros.runtime.convert import (
    ConversionError,
    image_to_msg,
    joint_positions,
    joint_state_msg,
    msg_to_image,
    multiarray_msg,
    multiarray_to_array,
    trajectory_arrays,
    trajectory_msg,
)

rng = np.random.default_rng(0)


@pytest.mark.parametrize("encoding,shape,dtype", [
    ("rgb8", (4, 5, 3), np.uint8), ("bgr8", (3, 2, 3), np.uint8),
    ("mono8", (6, 7), np.uint8), ("16UC1", (5, 3), np.uint16),
])
def test_image_round_trip(encoding, shape, dtype):
    image = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)
    msg = image_to_msg(image, encoding, stamp=1.5, frame_id="cam")
    assert msg.step == shape[1] * (shape[2] if len(shape) == 3 else 1) * np.dtype(dtype).itemsize
    assert msg.header.frame_id == "cam" and msg.header.stamp.sec == 1
    back = msg_to_image(msgs.deserialize(msgs.serialize(msg), "sensor_msgs/msg/Image"))
    np.testing.assert_array_equal(back, image)


def test_image_with_row_padding_and_big_endian():
    image = rng.integers(0, 60000, size=(2, 3), dtype=np.uint16)
    be = image.astype(">u2")
    padded = np.zeros((2, 8), dtype=np.uint8)
    padded[:, :6] = be.view(np.uint8).reshape(2, 6)
    msg = msgs.Image(height=2, width=3, encoding="16UC1", is_bigendian=1, step=8,
                     data=padded.reshape(-1))
    np.testing.assert_array_equal(msg_to_image(msg), image)


def test_bad_images_are_rejected():
    with pytest.raises(ConversionError, match="HxWx3"):
        image_to_msg(np.zeros((4, 4), np.uint8), "rgb8")
    with pytest.raises(ConversionError, match="uint8"):
        image_to_msg(np.zeros((4, 4, 3), np.float32), "rgb8")
    with pytest.raises(ConversionError, match="unsupported image encoding 'yuv422'"):
        image_to_msg(np.zeros((4, 4, 3), np.uint8), "yuv422")
    msg = image_to_msg(np.zeros((4, 4, 3), np.uint8))
    msg.step = 5
    with pytest.raises(ConversionError, match="step 5 is smaller"):
        msg_to_image(msg)
    msg = image_to_msg(np.zeros((4, 4, 3), np.uint8))
    msg.data = msg.data[:-1]
    with pytest.raises(ConversionError, match="expected step\\*height = 48"):
        msg_to_image(msg)


def test_joint_state_reorders_by_name_and_checks():
    msg = joint_state_msg(["b", "a"], [2.0, 1.0])
    np.testing.assert_array_equal(joint_positions(msg, ["a", "b"]), [1.0, 2.0])
    with pytest.raises(ConversionError, match="lacks joints \\['c'\\]"):
        joint_positions(msg, ["a", "c"])
    with pytest.raises(ConversionError, match="2 joint names but 1 positions"):
        joint_state_msg(["a", "b"], [1.0])
    bad = joint_state_msg(["a"], [np.nan])
    with pytest.raises(ConversionError, match="NaN"):
        joint_positions(bad, ["a"])


def test_trajectory_round_trip_and_validation():
    actions = rng.normal(size=(16, 7))
    times = np.arange(1, 17) * 0.05
    msg = trajectory_msg([f"j{i}" for i in range(7)], actions, times, stamp=3.25)
    wire = msgs.deserialize(msgs.serialize(msg), "trajectory_msgs/msg/JointTrajectory")
    names, back, t = trajectory_arrays(wire)
    assert names == [f"j{i}" for i in range(7)]
    np.testing.assert_array_equal(back, actions)
    np.testing.assert_allclose(t, times, atol=1e-9)
    assert time_msg_to_seconds(wire.header.stamp) == 3.25
    empty = trajectory_msg(["j0"], np.zeros((0, 1)), [])
    assert trajectory_arrays(empty)[1].shape == (0, 1)

    msg.points[3].positions = np.zeros(6)
    with pytest.raises(ConversionError, match="point 3 has 6 positions for 7 joints"):
        trajectory_arrays(msg)
    backwards = trajectory_msg(["a"], np.zeros((2, 1)), [0.2, 0.1])
    with pytest.raises(ConversionError, match="strictly increasing"):
        trajectory_arrays(backwards)
    with pytest.raises(ConversionError, match="NaN"):
        trajectory_msg(["a"], np.array([[np.inf]]), [0.1])
    dup = trajectory_msg(["a", "a"], np.zeros((1, 2)), [0.1])
    with pytest.raises(ConversionError, match="duplicate"):
        trajectory_arrays(dup)


def test_multiarray_layout_round_trip():
    features = rng.normal(size=(2, 3)).astype(np.float32)
    msg = multiarray_msg(features, ["chunk_7", "feature"])
    back, labels = multiarray_to_array(msg)
    np.testing.assert_array_equal(back, features)
    assert labels == ["chunk_7", "feature"]
    msg.data = msg.data[:-1]
    with pytest.raises(ConversionError, match="needs 6 values"):
        multiarray_to_array(msg)


def test_time_conversions_are_exact():
    msg = seconds_to_time_msg(12.000000001)
    assert (msg.sec, msg.nanosec) == (12, 1)
    assert Time.from_msg(msg).nanoseconds == 12_000_000_001
    with pytest.raises(ValueError, match="negative"):
        seconds_to_time_msg(-1.0)


def test_message_factory_defaults_and_errors():
    js = msgs.JointState()
    assert js.position.dtype == np.float64 and js.name == [] and js.header.frame_id == ""
    with pytest.raises(msgs.MessageError, match="no field\\(s\\) \\['positions'\\]"):
        msgs.JointState(positions=[1.0])
    with pytest.raises(msgs.MessageError, match="exactly 9 elements"):
        msgs.CameraInfo(k=[1.0, 2.0])
    assert len(msgs.serialize(msgs.JointState(name=["a"], position=[1.0]))) > 0
