"""teleop_node on the local backend: key events → twist, leader → follower commands."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vla_ros.assets import PACKAGE_ROOT
from vla_ros.nodes.teleop_node import TeleopNode
from vla_ros.runtime import Node, msgs
from vla_ros.runtime.clock import duration_msg_to_seconds
from vla_ros.runtime.convert import joint_state_msg, trajectory_arrays
from vla_ros.runtime.entry import create_local_node
from vla_ros.runtime.local import LocalContext
from vla_ros.teleop import TeleopConfigError, TeleopDeviceError

SO101 = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"]


class Rig:
    def __init__(self, params: dict) -> None:
        self.ctx = LocalContext(sim_time=True)
        self.node = TeleopNode(context=self.ctx, parameter_overrides=params)
        self.probe = Node("probe", context=self.ctx)
        self.twists, self.grippers, self.arm, self.hand, self.diag = [], [], [], [], []
        self.probe.create_subscription(msgs.TwistStamped, "teleop/twist", self.twists.append,
                                       1000)
        self.probe.create_subscription(msgs.Float64, "teleop/gripper", self.grippers.append,
                                       1000)
        self.probe.create_subscription(msgs.JointTrajectory, "arm_controller/joint_trajectory",
                                       self.arm.append, 1000)
        self.probe.create_subscription(msgs.JointTrajectory,
                                       "gripper_controller/joint_trajectory",
                                       self.hand.append, 1000)
        self.probe.create_subscription(msgs.DiagnosticArray, "/diagnostics", self.diag.append,
                                       1000)
        self.keys = self.probe.create_publisher(msgs.String, "teleop/keys", 100)
        self.leader = self.probe.create_publisher(msgs.JointState, "leader/joint_states", 10)

    def key(self, text: str) -> None:
        self.keys.publish(msgs.String(data=text))


@pytest.fixture
def rig():
    made = []

    def make(**params):
        made.append(Rig(params))
        return made[-1]

    yield make
    for r in made:
        r.ctx.shutdown()


def twist6(msg) -> np.ndarray:
    lin, ang = msg.twist.linear, msg.twist.angular
    return np.array([lin.x, lin.y, lin.z, ang.x, ang.y, ang.z])


@pytest.mark.parametrize("key, axis, sign", [
    ("w", 0, 1), ("s", 0, -1), ("a", 1, 1), ("d", 1, -1), ("q", 2, 1), ("e", 2, -1),
    ("i", 3, 1), ("k", 3, -1), ("j", 4, 1), ("l", 4, -1), ("u", 5, 1), ("o", 5, -1)])
def test_key_events_become_twists_with_right_axis_and_sign(rig, key, axis, sign):
    r = rig(device="keyboard", keyboard_input="topic", rate_hz=20.0)
    r.ctx.spin_for(0.2)
    assert all(not twist6(m).any() for m in r.twists)  # idle: zero twists keep flowing
    r.key(key)
    r.ctx.spin_for(0.1)
    twist = twist6(r.twists[-1])
    expected = np.zeros(6)
    expected[axis] = sign * (0.1 if axis < 3 else 0.5)  # linear_scale / angular_scale
    np.testing.assert_allclose(twist, expected)
    assert r.twists[-1].header.frame_id == "panda_link0"
    r.ctx.spin_for(0.5)  # released: no repeats → stops after key_hold_s
    assert not twist6(r.twists[-1]).any()


def test_twist_rate_stamps_and_gripper_keys(rig):
    r = rig(device="keyboard", keyboard_input="topic", rate_hz=10.0, frame_id="tool0")
    r.ctx.spin_for(1.0)
    assert len(r.twists) == 10 and r.grippers == []
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in r.twists]
    np.testing.assert_allclose(stamps, np.arange(1, 11) * 0.1)
    assert r.twists[0].header.frame_id == "tool0"
    r.key("space")
    r.ctx.spin_for(0.1)
    assert r.grippers[-1].data == 1.0
    r.key("enter")
    r.ctx.spin_for(0.1)
    assert r.grippers[-1].data == 0.0
    r.key("wa")  # two keys in one message
    r.ctx.spin_for(0.1)
    np.testing.assert_allclose(twist6(r.twists[-1])[:3], [0.1, 0.1, 0])


def test_scripted_device_plays_default_square(rig):
    r = rig(device="scripted", rate_hz=10.0)
    r.ctx.spin_for(5.5)
    linear = np.array([twist6(m)[:3] for m in r.twists])
    # integrated motion of a closed square returns to the start, having gone +x first
    assert linear[:5, 0].min() > 0
    np.testing.assert_allclose(linear.sum(axis=0) * 0.1, 0, atol=1e-9)
    assert {m.data for m in r.grippers} == {0.0, 1.0}


def test_leader_mirrored_with_mapping_offsets_and_clamping(rig):
    leader = [f"leader_{j}" for j in SO101]
    r = rig(device="leader", robot="so101", rate_hz=50.0, leader_joints=leader,
            joint_offsets=[0.1, 0.0, 0.0, 0.0, 0.0], joint_scales=[1.0, -1.0, 1.0, 1.0, 1.0],
            max_velocity=100.0)
    r.ctx.spin_for(0.1)
    assert r.arm == []  # nothing before the leader speaks
    q = np.array([0.2, 0.3, 2.5, -0.4, 0.5])  # elbow beyond the follower's 1.69 rad limit
    r.leader.publish(joint_state_msg(leader[::-1] + ["leader_gripper"],
                                     [*q[::-1], 0.3]))
    r.ctx.spin_for(0.1)
    names, positions, times = trajectory_arrays(r.arm[-1])
    assert names == SO101
    np.testing.assert_allclose(positions[0], [0.3, -0.3, 1.69, -0.4, 0.5])
    np.testing.assert_allclose(times, [0.02])  # one point, one period ahead
    assert duration_msg_to_seconds(r.arm[-1].points[0].time_from_start) == pytest.approx(0.02)
    warnings = [s.message for a in r.diag for s in a.status]
    assert any("clamped" in m and "elbow_flex" in m for m in warnings)


def test_configured_limits_tighten_the_urdf_ones(rig):
    r = rig(device="leader", robot="so101", rate_hz=10.0, follower_upper=[0.25],
            max_velocity=100.0)
    r.leader.publish(joint_state_msg(SO101, [1.0, 0.1, 3.0, -3.0, 0.5]))
    r.ctx.spin_for(0.1)
    positions = trajectory_arrays(r.arm[-1])[1][0]
    # upper: the configured 0.25 everywhere; lower: the URDF's (wrist_flex -1.65806)
    np.testing.assert_allclose(positions, [0.25, 0.1, 0.25, -1.65806, 0.25])


def test_leader_gripper_and_rate_limit(rig):
    r = rig(device="leader", robot="so101", rate_hz=10.0, leader_gripper_joint="gripper",
            max_velocity=1.0)
    r.leader.publish(joint_state_msg([*SO101, "gripper"], [0, 0, 0, 0, 0, 1.2]))
    r.ctx.spin_for(0.1)
    r.leader.publish(joint_state_msg([*SO101, "gripper"], [1.0, 0, 0, 0, 0, 0.55]))
    r.ctx.spin_for(0.1)
    first, second = (trajectory_arrays(m)[1][0] for m in r.arm[-2:])
    np.testing.assert_allclose(first, 0)
    assert second[0] == pytest.approx(0.1)  # 1 rad/s for one 0.1 s period
    assert r.grippers[-2].data == 0.0 and r.grippers[-1].data == pytest.approx(0.5)
    names, positions, _ = trajectory_arrays(r.hand[-1])
    assert names == ["gripper"] and positions[0, 0] == pytest.approx(0.55)


def test_leader_silence_holds_and_bad_leader_is_rejected(rig):
    r = rig(device="leader", robot="so101", rate_hz=10.0, leader_timeout=0.3)
    r.leader.publish(joint_state_msg(SO101, np.zeros(5)))
    r.ctx.spin_for(1.0)
    assert len(r.arm) == 3  # 0.1, 0.2, 0.3 s; then the leader is stale
    assert any("silent" in s.message for a in r.diag for s in a.status)
    r.leader.publish(joint_state_msg(SO101[:3], np.zeros(3)))
    r.ctx.spin_for(0.1)
    assert len(r.arm) == 3
    assert any("lacks joints ['wrist_flex', 'wrist_roll']" in s.message
               for a in r.diag for s in a.status)


def test_missing_devices_and_bad_settings_fail_clearly(monkeypatch):
    ctx = LocalContext(sim_time=True)
    try:
        # pytest's stdin is not a terminal
        with pytest.raises(TeleopDeviceError, match="not a tty"):
            TeleopNode(context=ctx, name="t1", parameter_overrides={"device": "keyboard"})
        monkeypatch.setitem(sys.modules, "pygame", None)
        with pytest.raises(TeleopDeviceError, match="pygame"):
            TeleopNode(context=ctx, name="t2", parameter_overrides={"device": "gamepad"})
        monkeypatch.setitem(sys.modules, "pyspacemouse", None)
        with pytest.raises(TeleopDeviceError, match="pyspacemouse"):
            TeleopNode(context=ctx, name="t3", parameter_overrides={"device": "spacemouse"})
        with pytest.raises(TeleopConfigError, match="'joystick'"):
            TeleopNode(context=ctx, name="t4", parameter_overrides={"device": "joystick"})
        with pytest.raises(TeleopConfigError, match="is not in URDF"):
            TeleopNode(context=ctx, name="t5", parameter_overrides={
                "device": "leader", "robot": "so101", "follower_joints": ["elbow", "wrist"]})
    finally:
        ctx.shutdown()


@pytest.mark.parametrize("device", ["scripted", "leader"])
def test_config_file_loads_for_every_mode(device):
    ctx = LocalContext(sim_time=True)
    try:
        node = create_local_node(TeleopNode, ctx, parameters=[
            PACKAGE_ROOT / "config" / "teleop.yaml", {"device": device, "robot": "so101"}])
        assert node.get_name() == "teleop_node"
        assert node.frame_id == "base_link" and node.period == pytest.approx(1 / 30)
        assert node.shaping.max_linear == 0.25
        assert node.unused_parameter_overrides() == []  # one file serves every device
        if device == "leader":
            assert node.leader.mapping.follower_joints == tuple(SO101)
            assert np.all(np.isfinite(node.leader.mapping.upper))  # the URDF's limits
    finally:
        ctx.shutdown()
