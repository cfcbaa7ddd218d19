"""Acceptance: key events → teleop_node → teleop/twist → servo (PoseIK) → mujoco_sim
→ the end effector moves the commanded way.

The retarget node is someone else's; this test stands in a minimal servo node (integrate
the twist into an EE target pose, one PoseIK step, command the arm controller), so the
check covers the key map, the twist frame and signs, and the simulated robot end to end.
"""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pytest

from vla_ros.nodes.mujoco_sim import MujocoSim
from vla_ros.nodes.teleop_node import TeleopNode
from vla_ros.retarget.ik import PoseIK
from vla_ros.retarget.robot_model import RobotModel
from vla_ros.runtime import Node, msgs
from vla_ros.runtime.convert import joint_positions, trajectory_arrays, trajectory_msg

DT = 0.05


class Servo(Node):
    """teleop/twist (base frame) → EE target pose integrated over time → PoseIK step.

    The target is integrated on its own (not re-read from the IK's result), so what the
    IK leaves unreached in one step is not lost from the commanded path."""

    def __init__(self, robot: RobotModel, **kwargs) -> None:
        super().__init__("servo", **kwargs)
        self.robot = robot
        self.ik = PoseIK(robot, posture_weight=1e-3)
        self.q_cmd: np.ndarray | None = None
        self.target: np.ndarray | None = None
        self.q_meas: np.ndarray | None = None
        self.frames: set[str] = set()
        self.pub = self.create_publisher(msgs.JointTrajectory, "arm_controller/joint_trajectory",
                                         10)
        self.create_subscription(msgs.JointState, "joint_states", self.on_state, 10)
        self.create_subscription(msgs.TwistStamped, "teleop/twist", self.on_twist, 10)

    def on_state(self, msg) -> None:
        self.q_meas = joint_positions(msg, self.robot.joint_names)

    def on_twist(self, msg) -> None:
        if self.q_meas is None:
            return
        self.frames.add(msg.header.frame_id)
        if self.q_cmd is None:
            self.q_cmd = self.q_meas.copy()
            self.target = self.robot.fk(self.q_cmd)
        v, w = msg.twist.linear, msg.twist.angular
        self.target[:3, 3] += np.array([v.x, v.y, v.z]) * DT
        self.target[:3, :3] = pin.exp3(np.array([w.x, w.y, w.z]) * DT) @ self.target[:3, :3]
        for _ in range(3):
            self.q_cmd = self.ik.step(self.q_cmd, self.target, DT / 3)
        self.pub.publish(trajectory_msg(self.robot.joint_names, self.q_cmd[None], [DT]))


def _sim_and_keyboard_teleop(ctx) -> None:
    """mujoco_sim (tiny camera) + teleop_node reading keys from a topic."""
    MujocoSim(context=ctx, parameter_overrides={"robot": "panda", "cameras": ["scene"],
                                                "camera_rate_hz": 1.0, "image_width": 16,
                                                "image_height": 16})
    TeleopNode(context=ctx, parameter_overrides={
        "device": "keyboard", "keyboard_input": "topic", "rate_hz": 1.0 / DT,
        "robot": "panda", "linear_scale": 0.1, "angular_scale": 0.5, "key_hold_s": 0.1})


@pytest.fixture(scope="module")
def chain():
    from vla_ros.runtime.local import LocalContext

    ctx = LocalContext(sim_time=True)
    robot = RobotModel.load("panda")
    _sim_and_keyboard_teleop(ctx)
    servo = Servo(robot, context=ctx)
    probe = Node("operator", context=ctx)
    keys = probe.create_publisher(msgs.String, "teleop/keys", 100)
    ctx.spin_for(0.3)
    yield ctx, robot, servo, keys
    ctx.shutdown()


def hold_key(ctx, keys, key: str, seconds: float) -> None:
    """A held key: the terminal's auto-repeat sends it every 50 ms; after the last one the
    node keeps it held for key_hold_s (0.1 s), so the twist lasts `seconds` + ~0.1 s."""
    for _ in range(round(seconds / 0.05)):
        keys.publish(msgs.String(data=key))
        ctx.spin_for(0.05)
    ctx.spin_for(0.6)  # released: the arm comes to rest


@pytest.mark.parametrize("key, axis, sign", [("w", 0, 1), ("a", 1, 1), ("q", 2, 1),
                                             ("e", 2, -1)])
def test_translation_keys_move_the_end_effector_that_way(chain, key, axis, sign):
    ctx, robot, servo, keys = chain
    before = robot.fk(servo.q_meas)
    hold_key(ctx, keys, key, 1.0)
    after = robot.fk(servo.q_meas)
    moved = after[:3, 3] - before[:3, 3]
    # ~1.05 s at 0.1 m/s: about 10.5 cm along the commanded axis, little elsewhere
    assert sign * moved[axis] == pytest.approx(0.105, abs=0.015)
    off_axis = np.delete(moved, axis)
    assert np.abs(off_axis).max() < 0.01
    assert servo.frames == {"panda_link0"}


def test_yaw_key_turns_the_end_effector_about_base_z(chain):
    ctx, robot, servo, keys = chain
    before = robot.fk(servo.q_meas)
    hold_key(ctx, keys, "u", 1.0)
    after = robot.fk(servo.q_meas)
    rotation = pin.log3(after[:3, :3] @ before[:3, :3].T)  # base-frame rotation vector
    assert rotation[2] == pytest.approx(0.55, abs=0.08)  # ~1.1 s at 0.5 rad/s
    assert np.abs(rotation[:2]).max() < 0.05
    assert np.linalg.norm(after[:3, 3] - before[:3, 3]) < 0.02


def test_so101_follower_tracks_the_leader_in_joint_space():
    from vla_ros.runtime.convert import joint_state_msg
    from vla_ros.runtime.local import LocalContext

    arm = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"]
    ctx = LocalContext(sim_time=True)
    try:
        MujocoSim(context=ctx, parameter_overrides={
            "robot": "so101", "cameras": ["scene"], "camera_rate_hz": 1.0,
            "image_width": 16, "image_height": 16})
        TeleopNode(context=ctx, parameter_overrides={
            "device": "leader", "robot": "so101", "rate_hz": 30.0,
            "leader_gripper_joint": "gripper"})
        probe = Node("leader_arm", context=ctx)
        states, commands = [], []
        probe.create_subscription(msgs.JointState, "joint_states", states.append, 10)
        probe.create_subscription(msgs.JointTrajectory, "arm_controller/joint_trajectory",
                                  commands.append, 100)
        leader = probe.create_publisher(msgs.JointState, "leader/joint_states", 10)
        ctx.spin_for(0.1)
        home = joint_positions(states[-1], arm)
        target = np.array([0.4, -1.5, 2.4, -0.2, -0.5])  # elbow past its 1.69 rad limit
        for _ in range(60):  # the leader arm streams its pose at 30 Hz for 2 s
            leader.publish(joint_state_msg([*arm, "gripper"], [*target, -0.1]))
            ctx.spin_for(1 / 30)
        follower = joint_positions(states[-1], arm)
        np.testing.assert_allclose(follower, [0.4, -1.5, 1.69, -0.2, -0.5], atol=0.02)
        # the first command starts from the follower's pose: at most max_velocity (2 rad/s)
        # for one period away, not a jump to the leader's pose
        first = trajectory_arrays(commands[0])[1][0]
        assert np.abs(first - home).max() <= 2.0 / 30 + 1e-9
        assert joint_positions(states[-1], ["gripper"])[0] < 0.2  # closed (toward -0.1)
    finally:
        ctx.shutdown()


@pytest.fixture(scope="module")
def retarget_chain():
    """The production chain: teleop_node → retarget_node (servo mode) → mujoco_sim."""
    from vla_ros.nodes.retarget_node import RetargetNode
    from vla_ros.runtime.local import LocalContext

    ctx = LocalContext(sim_time=True)
    robot = RobotModel.load("panda")
    _sim_and_keyboard_teleop(ctx)
    RetargetNode(context=ctx, parameter_overrides={"robot": "panda"})
    probe = Node("operator", context=ctx)
    states = []
    probe.create_subscription(msgs.JointState, "joint_states", states.append, 10)
    keys = probe.create_publisher(msgs.String, "teleop/keys", 100)
    ctx.spin_for(0.3)
    yield ctx, robot, states, keys
    ctx.shutdown()


@pytest.mark.parametrize("key, axis, sign", [("w", 0, 1), ("d", 1, -1), ("q", 2, 1)])
def test_keys_through_retarget_node_move_the_end_effector(retarget_chain, key, axis, sign):
    ctx, robot, states, keys = retarget_chain

    def ee():
        q = joint_positions(states[-1], robot.joint_names)
        return robot.fk(robot.q_from_joints(q))[:3, 3]

    before = ee()
    hold_key(ctx, keys, key, 1.0)
    moved = ee() - before
    assert sign * moved[axis] > 0.07  # ~0.1 m commanded
    assert np.abs(np.delete(moved, axis)).max() < 0.015


def test_gripper_keys_through_retarget_node(retarget_chain):
    ctx, _, states, keys = retarget_chain

    def finger():
        return joint_positions(states[-1], ["panda_finger_joint1"])[0]

    keys.publish(msgs.String(data="enter"))
    ctx.spin_for(1.0)
    opened = finger()
    keys.publish(msgs.String(data="space"))
    ctx.spin_for(1.0)
    assert finger() < opened - 0.01  # closing moves the finger in


def test_waypoint_expert_drives_the_arm_through_retarget_node():
    from vla_ros.nodes.retarget_node import RetargetNode
    from vla_ros.runtime.local import LocalContext

    ctx = LocalContext(sim_time=True)
    robot = RobotModel.load("panda")
    try:
        MujocoSim(context=ctx, parameter_overrides={"robot": "panda", "cameras": ["scene"],
                                                    "camera_rate_hz": 1.0, "image_width": 16,
                                                    "image_height": 16})
        RetargetNode(context=ctx, parameter_overrides={"robot": "panda"})
        probe = Node("observer", context=ctx)
        states, diag = [], []
        probe.create_subscription(msgs.JointState, "joint_states", states.append, 10)
        probe.create_subscription(msgs.DiagnosticArray, "/diagnostics", diag.append, 100)
        ctx.spin_for(0.2)

        def ee():
            q = joint_positions(states[-1], robot.joint_names)
            return robot.fk(robot.q_from_joints(q))[:3, 3]

        start = ee()
        TeleopNode(context=ctx, parameter_overrides={
            "device": "expert", "robot": "panda", "rate_hz": 20.0,
            "waypoints": [0.06, 0.0, 0.0, -1.0, 0.06, 0.04, 0.0, 1.0]})
        ctx.spin_for(4.0)
        np.testing.assert_allclose(ee() - start, [0.06, 0.04, 0.0], atol=0.01)
        assert any("last waypoint" in s.message for a in diag for s in a.status)
    finally:
        ctx.shutdown()
