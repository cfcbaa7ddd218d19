"""retarget_node on the local backend: chunks in, controller trajectories out; halt, hold,
bad input, unreachable targets, and servo twists closing the loop through mujoco_sim."""

from __future__ import annotations

import re

import numpy as np
import pytest

from vla_ros.nodes.retarget_node import RetargetNode
from vla_ros.retarget.retargeter import Retargeter
from vla_ros.retarget.robot_model import RobotModel
from vla_ros.runtime import LATCHED, Node, msgs
from vla_ros.runtime.clock import duration_msg_to_seconds, seconds_to_time_msg
from vla_ros.runtime.convert import joint_positions, joint_state_msg, trajectory_msg
from vla_ros.runtime.local import LocalContext

ARM = [f"panda_joint{i}" for i in range(1, 8)]
ARM_TOPIC = "arm_controller/joint_trajectory"
GRIPPER_TOPIC = "gripper_controller/joint_trajectory"


@pytest.fixture(scope="module")
def panda() -> RobotModel:
    return RobotModel.load("panda")


class Rig:
    """A retarget_node, a probe that records its outputs and feeds it joint states."""

    def __init__(self, panda: RobotModel, **overrides) -> None:
        self.ctx = LocalContext(sim_time=True)
        self.node = RetargetNode(context=self.ctx, parameter_overrides=overrides)
        self.probe = Node("probe", context=self.ctx)
        self.arm: list = []
        self.gripper: list = []
        self.diag: list = []
        self.probe.create_subscription(msgs.JointTrajectory, ARM_TOPIC, self.arm.append, 100)
        self.probe.create_subscription(msgs.JointTrajectory, GRIPPER_TOPIC,
                                       self.gripper.append, 100)
        self.probe.create_subscription(msgs.DiagnosticArray, "/diagnostics",
                                       self.diag.append, 100)
        self.chunk_pub = self.probe.create_publisher(msgs.JointTrajectory,
                                                     "policy/action_chunk", 10)
        self.js_pub = self.probe.create_publisher(msgs.JointState, "joint_states", 10)
        self.halt_pub = self.probe.create_publisher(msgs.Bool, "safety/halt", LATCHED)
        self.q = panda.joints_from_q(panda.q_neutral)
        self.space = self.node.space
        self.helper = Retargeter(panda, self.space)  # encodes poses as action rows

    def joint_state(self) -> None:
        names = ARM + ["panda_finger_joint1", "panda_finger_joint2"]
        self.js_pub.publish(joint_state_msg(names, np.append(self.q, [0.04, 0.04])))
        self.ctx.spin_some()

    def send_chunk(self, rows: np.ndarray, times, names=None, stamp: float = 0.0) -> None:
        self.joint_state()
        msg = trajectory_msg(list(names or self.space.names), np.nan_to_num(rows), times)
        for point, row in zip(msg.points, rows, strict=True):
            point.positions = np.asarray(row, dtype=float)  # NaN/inf too (a broken policy)
        msg.header.stamp = seconds_to_time_msg(stamp)
        self.chunk_pub.publish(msg)
        self.ctx.spin_some()

    def messages(self, fragment: str) -> list[str]:
        return [s.message for d in self.diag for s in d.status if fragment in s.message]

    def close(self) -> None:
        self.ctx.shutdown()


@pytest.fixture
def rig(panda):
    r = Rig(panda)
    yield r
    r.close()


def ee_rows(rig: Rig, panda: RobotModel, offsets: np.ndarray) -> np.ndarray:
    """EE action rows: the neutral pose moved by each offset (m), gripper closing."""
    rig.helper.reset(panda.q_neutral)
    base = rig.helper.encode(panda.q_neutral)
    rows = np.repeat(base[None], len(offsets), axis=0)
    rows[:, :3] += offsets
    rows[:, -1] = np.linspace(0.0, 1.0, len(offsets))
    return rows


def test_ee_chunk_becomes_a_panda_trajectory(rig, panda):
    offsets = np.linspace([0.0, 0.0, 0.0], [0.04, -0.03, 0.02], 5)
    rows = ee_rows(rig, panda, offsets)
    times = [0.1, 0.2, 0.3, 0.4, 0.5]
    order = [6, 3, 0, 5, 1, 4, 2]  # columns by name in any order
    names = [rig.space.names[i] for i in order]
    rig.send_chunk(rows[:, order], times, names=names, stamp=12.5)
    assert len(rig.arm) == 1
    out = rig.arm[0]
    assert list(out.joint_names) == ARM
    assert [duration_msg_to_seconds(p.time_from_start) for p in out.points] == times
    assert out.header.stamp.sec == 12 and out.header.stamp.nanosec == 500_000_000
    for point, row in zip(out.points, rows, strict=True):
        q = np.asarray(point.positions)
        assert np.all(q >= panda.lower) and np.all(q <= panda.upper)
        assert np.allclose(panda.fk(panda.q_from_joints(q))[:3, 3], row[:3], atol=2e-3)
    grip = rig.gripper[0]
    assert list(grip.joint_names) == ["panda_finger_joint1"]  # the mimic finger follows
    fingers = [p.positions[0] for p in grip.points]
    assert fingers[0] == pytest.approx(0.04) and fingers[-1] == pytest.approx(0.0)


def with_value(step: int, column: int, value: float):
    def bad(rows, names):
        rows = rows.copy()
        rows[step, column] = value
        return rows, names
    return bad


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (with_value(2, 1, np.nan), r"step 2: non-finite values \(NaN/inf\) in \['y'\]"),
        (with_value(0, 4, np.inf), r"step 0: non-finite values \(NaN/inf\) in \['ry'\]"),
        (lambda rows, names: (rows[:, :6], names[:6]), r"missing \['gripper'\]"),
        (lambda rows, names: (rows, [*names[:6], "grip"]), r"unknown names \['grip'\]"),
    ],
)
def test_bad_chunks_are_rejected_with_a_reason_and_nothing_published(rig, panda, bad, reason):
    rows, names = bad(ee_rows(rig, panda, np.zeros((3, 3))), list(rig.space.names))
    rig.send_chunk(rows, [0.1, 0.2, 0.3], names=names)
    assert rig.arm == [] and rig.gripper == []
    messages = rig.messages("chunk rejected")
    assert messages and re.search(reason, messages[-1]), messages
    assert rig.node.diag.counters["rejected_chunk"] == 1


def test_a_point_of_the_wrong_length_is_rejected(rig, panda):
    rows = ee_rows(rig, panda, np.zeros((2, 3)))
    msg = trajectory_msg(list(rig.space.names), rows, [0.1, 0.2])
    msg.points[1].positions = np.asarray(rows[1, :5])
    rig.joint_state()
    rig.chunk_pub.publish(msg)
    rig.ctx.spin_some()
    assert rig.arm == []
    assert rig.messages("step 1 has 5 positions for 7 names")


def test_halt_sends_an_empty_trajectory_in_the_same_callback_and_reset_resumes(rig, panda):
    rows = ee_rows(rig, panda, np.linspace([0, 0, 0], [0.05, 0, 0], 4))
    rig.send_chunk(rows, [0.25, 0.5, 0.75, 1.0])
    assert len(rig.arm) == 1
    sent = []
    publish = rig.node.arm_pub.publish
    rig.node.arm_pub.publish = lambda msg: (sent.append(msg), publish(msg))
    rig.halt_pub.publish(msgs.Bool(data=True))
    assert rig.ctx.spin_some(max_callbacks=1) == 1  # only the halt callback has run ...
    assert len(sent) == 1 and len(sent[0].points) == 0  # ... and it already stopped the arm
    rig.ctx.spin_some()
    assert len(rig.arm[-1].points) == 0 and len(rig.gripper[-1].points) == 0
    assert rig.node.halted and rig.messages("halted by safety/halt")

    rig.send_chunk(rows, [0.25, 0.5, 0.75, 1.0])
    assert len(rig.arm) == 2  # nothing new
    assert rig.messages("chunks are ignored until ~/reset")

    client = rig.probe.create_client(msgs.Trigger, "/retarget_node/reset")
    response = client.call(msgs.Trigger.Request())
    assert response.success and not rig.node.halted
    rig.send_chunk(rows, [0.25, 0.5, 0.75, 1.0])
    assert len(rig.arm) == 3 and len(rig.arm[-1].points) == 4


def test_unreachable_target_moves_as_far_as_it_can_and_warns(rig, panda):
    rows = ee_rows(rig, panda, np.array([[0.05, 0.0, 0.0], [1.5, 0.0, 0.3]]))
    rig.send_chunk(rows, [0.5, 3.0])
    assert len(rig.arm) == 1
    q_far = np.asarray(rig.arm[0].points[1].positions)
    assert np.all(np.isfinite(q_far))
    assert np.all(q_far >= panda.lower) and np.all(q_far <= panda.upper)
    reach = panda.fk(panda.q_from_joints(q_far))[:3, 3]
    start = panda.fk(panda.q_neutral)[:3, 3]
    assert np.linalg.norm(reach - rows[1, :3]) < np.linalg.norm(start - rows[1, :3]) - 0.1
    warning = rig.messages("unreachable target")
    assert warning and "1/2 chunk steps" in warning[-1]


def test_command_timeout_holds_a_running_trajectory(rig, panda):
    rows = ee_rows(rig, panda, np.linspace([0, 0, 0], [0.05, 0.05, 0], 10))
    times = np.linspace(0.3, 3.0, 10)
    for _ in range(4):  # chunks keep coming: no hold
        rig.send_chunk(rows, times)
        rig.ctx.spin_for(0.2)
    assert all(len(m.points) == 10 for m in rig.arm)
    rig.ctx.spin_for(0.4)  # 0.6 s of silence > command_timeout 0.5 s, trajectory not done
    assert len(rig.arm) == 5 and len(rig.arm[-1].points) == 0
    assert rig.messages("no valid chunk for")
    rig.ctx.spin_for(1.0)
    assert len(rig.arm) == 5  # held once, not repeatedly


def test_finished_trajectory_is_not_stopped_by_the_watchdog(rig, panda):
    rows = ee_rows(rig, panda, np.zeros((2, 3)))
    rig.send_chunk(rows, [0.1, 0.2])
    rig.ctx.spin_for(1.0)
    assert len(rig.arm) == 1 and not rig.messages("no valid chunk")


def test_stale_or_missing_joint_states_refuse_chunks(panda):
    rig = Rig(panda)
    try:
        rows = ee_rows(rig, panda, np.zeros((2, 3)))
        rig.chunk_pub.publish(trajectory_msg(list(rig.space.names), rows, [0.1, 0.2]))
        rig.ctx.spin_some()
        assert rig.messages("no joint_states received yet")
        rig.joint_state()
        rig.ctx.spin_for(1.0)
        rig.chunk_pub.publish(trajectory_msg(list(rig.space.names), rows, [0.1, 0.2]))
        rig.ctx.spin_some()
        assert rig.arm == [] and rig.messages("joint_states are 1.00 s old")
    finally:
        rig.close()


def test_unknown_action_space_parameter_is_refused(panda):
    with pytest.raises(ValueError, match="no action space 'warp'"):
        RetargetNode(context=LocalContext(sim_time=True),
                     parameter_overrides={"action_space": "warp"})


def test_joint_space_chunk_for_so101():
    so101 = RobotModel.load("so101")
    ctx = LocalContext(sim_time=True)
    try:
        node = RetargetNode(context=ctx, parameter_overrides={"robot": "so101"})
        probe = Node("probe", context=ctx)
        arm = []
        probe.create_subscription(msgs.JointTrajectory, ARM_TOPIC, arm.append, 10)
        js = probe.create_publisher(msgs.JointState, "joint_states", 10)
        chunks = probe.create_publisher(msgs.JointTrajectory, "policy/action_chunk", 10)
        q0 = so101.joints_from_q(so101.q_neutral)
        js.publish(joint_state_msg(so101.joint_names + ["gripper"], np.append(q0, 0.0)))
        target = np.append(q0 + 0.1, 0.5)
        chunks.publish(trajectory_msg(list(node.space.names), target[None], [0.5]))
        ctx.spin_some()
        assert node.space.type == "joint_position"
        assert np.allclose(arm[0].points[0].positions, q0 + 0.1)
    finally:
        ctx.shutdown()


def test_twist_moves_the_simulated_end_effector_in_the_commanded_direction(panda):
    from vla_ros.nodes.mujoco_sim import MujocoSim

    ctx = LocalContext(sim_time=True)
    try:
        MujocoSim(context=ctx, parameter_overrides={
            "cameras": ["scene"], "image_width": 32, "image_height": 24, "camera_rate_hz": 1.0})
        RetargetNode(context=ctx)
        probe = Node("probe", context=ctx)
        states = []
        probe.create_subscription(msgs.JointState, "joint_states", states.append, 100)
        twist_pub = probe.create_publisher(msgs.TwistStamped, "teleop/twist", 10)
        ctx.spin_for(0.3)
        start = panda.fk(panda.q_from_joints(joint_positions(states[-1], ARM)))[:3, 3]
        speed = 0.1
        twist = msgs.TwistStamped(twist=msgs.Twist(linear=msgs.Vector3(x=0.0, y=0.0, z=-speed)))
        timer = probe.create_timer(0.02, lambda: twist_pub.publish(twist))
        ctx.spin_for(1.0)
        timer.cancel()
        ctx.spin_for(0.5)  # twist times out; the robot settles
        end = panda.fk(panda.q_from_joints(joint_positions(states[-1], ARM)))[:3, 3]
        moved = end - start
        assert moved[2] < -0.6 * speed  # close to 0.1 m down in 1 s
        assert abs(moved[0]) < 0.01 and abs(moved[1]) < 0.01
    finally:
        ctx.shutdown()


def test_ee_chunk_drives_the_simulated_arm_to_the_pose(panda):
    from vla_ros.nodes.mujoco_sim import MujocoSim

    ctx = LocalContext(sim_time=True)
    try:
        MujocoSim(context=ctx, parameter_overrides={
            "cameras": ["scene"], "image_width": 32, "image_height": 24, "camera_rate_hz": 1.0})
        # one chunk, longer than the default command_timeout (which would hold it at 0.5 s)
        node = RetargetNode(context=ctx, parameter_overrides={"command_timeout": 2.0})
        probe = Node("probe", context=ctx)
        states = []
        probe.create_subscription(msgs.JointState, "joint_states", states.append, 100)
        chunks = probe.create_publisher(msgs.JointTrajectory, "policy/action_chunk", 10)
        ctx.spin_for(0.2)
        q0 = panda.q_from_joints(joint_positions(states[-1], ARM))
        helper = Retargeter(panda, node.space)
        helper.reset(q0)
        row = helper.encode(q0, gripper=1.0)
        rows = np.repeat(row[None], 5, axis=0)
        rows[:, :3] += np.linspace([0.0, 0.0, 0.0], [0.06, 0.04, -0.05], 6)[1:]
        msg = trajectory_msg(list(node.space.names), rows, np.linspace(0.2, 1.0, 5))
        msg.header.stamp = states[-1].header.stamp  # observation time, as the policy sets it
        chunks.publish(msg)
        ctx.spin_for(1.5)
        q_end = panda.q_from_joints(joint_positions(states[-1], ARM))
        assert np.linalg.norm(panda.fk(q_end)[:3, 3] - rows[-1, :3]) < 5e-3
        fingers = joint_positions(states[-1], ["panda_finger_joint1"])
        assert fingers[0] < 0.01  # gripper 1.0 = closed
    finally:
        ctx.shutdown()


def test_twists_drive_servo_override_chunks_and_stop_on_halt(rig, panda):
    twist_pub = rig.probe.create_publisher(msgs.TwistStamped, "teleop/twist", 10)
    grip_pub = rig.probe.create_publisher(msgs.Float64, "teleop/gripper", 10)
    rig.joint_state()
    grip_pub.publish(msgs.Float64(data=1.0))  # gripper alone: one gripper trajectory
    rig.ctx.spin_for(0.1)
    assert rig.arm == [] and len(rig.gripper) == 1
    assert rig.gripper[0].points[0].positions[0] == pytest.approx(0.0)

    twist = msgs.TwistStamped(twist=msgs.Twist(linear=msgs.Vector3(x=0.05, y=0.0, z=0.0)))
    twist_pub.publish(twist)
    rig.ctx.spin_for(0.021)
    assert len(rig.arm) == 1 and len(rig.arm[0].points) == 1
    q = np.asarray(rig.arm[0].points[0].positions)
    dx = panda.fk(panda.q_from_joints(q))[:3, 3] - panda.fk(panda.q_neutral)[:3, 3]
    assert dx[0] == pytest.approx(0.05 * 0.02, abs=2e-4) and abs(dx[1]) < 2e-4

    rig.send_chunk(ee_rows(rig, panda, np.zeros((2, 3))), [0.1, 0.2])
    assert rig.messages("teleop twist active")
    count = len(rig.arm)

    rig.halt_pub.publish(msgs.Bool(data=True))
    rig.ctx.spin_some()
    assert len(rig.arm[-1].points) == 0
    twist_pub.publish(twist)
    rig.joint_state()
    rig.ctx.spin_for(0.1)
    assert len(rig.arm) == count + 1  # only the empty one: twists are ignored when halted
    assert rig.messages("twists are ignored until ~/reset")


def test_a_halt_latched_before_start_keeps_the_node_halted(panda):
    ctx = LocalContext(sim_time=True)
    try:
        detector = Node("detector", context=ctx)
        halt = detector.create_publisher(msgs.Bool, "safety/halt", LATCHED)
        halt.publish(msgs.Bool(data=True))
        node = RetargetNode(context=ctx)
        ctx.spin_some()
        assert node.halted
    finally:
        ctx.shutdown()


def test_too_fast_twists_are_scaled_down(rig, panda):
    twist_pub = rig.probe.create_publisher(msgs.TwistStamped, "teleop/twist", 10)
    rig.joint_state()
    fast = msgs.TwistStamped(twist=msgs.Twist(linear=msgs.Vector3(x=0.0, y=-50.0, z=0.0)))
    twist_pub.publish(fast)
    rig.ctx.spin_for(0.021)
    q = np.asarray(rig.arm[0].points[0].positions)
    dy = panda.fk(panda.q_from_joints(q))[1, 3] - panda.fk(panda.q_neutral)[1, 3]
    assert dy == pytest.approx(-0.5 * 0.02, abs=1e-3)  # max_linear_speed 0.5 m/s
    assert rig.node.diag.counters["twists_scaled"] == 1


def test_whole_body_chunk_for_g1_goes_to_the_body_controller():
    g1 = RobotModel.load("g1")
    ctx = LocalContext(sim_time=True)
    try:
        node = RetargetNode(context=ctx, parameter_overrides={"robot": "g1"})
        probe = Node("probe", context=ctx)
        body = []
        probe.create_subscription(msgs.JointTrajectory, "body_controller/joint_trajectory",
                                  body.append, 10)
        js = probe.create_publisher(msgs.JointState, "joint_states", 10)
        chunks = probe.create_publisher(msgs.JointTrajectory, "policy/action_chunk", 10)
        js.publish(joint_state_msg(g1.joint_names, g1.joints_from_q(g1.q_neutral)))
        helper = Retargeter(g1, node.space)
        row = helper.encode(g1.q_neutral)
        rows = np.repeat(row[None], 3, axis=0)
        rows[:, -1] -= np.array([0.02, 0.04, 0.06])  # squat 6 cm over the chunk
        chunks.publish(trajectory_msg(list(node.space.names), rows, [0.2, 0.4, 0.6]))
        ctx.spin_some()
        assert node.space.type == "whole_body" and len(body) == 1
        assert list(body[0].joint_names) == g1.joint_names and len(body[0].points) == 3
        knees = [p.positions[g1.joint_names.index("left_knee_joint")] for p in body[0].points]
        assert knees[0] < knees[1] < knees[2]  # bending further as the pelvis goes down
    finally:
        ctx.shutdown()


def test_a_chunk_that_already_ended_is_rejected(rig, panda):
    rig.ctx.spin_for(2.0)
    rows = ee_rows(rig, panda, np.zeros((2, 3)))
    rig.send_chunk(rows, [0.1, 0.2], stamp=1.0)  # observed at 1.0 s, ends at 1.2 s < now
    assert rig.arm == []
    assert rig.messages("it ends in the past")
