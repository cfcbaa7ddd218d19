"""recorder_node on the local backend: a probe publishes synthetic streams, episodes are
started and stopped through the services, and the dataset is read back."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.data import DatasetReader, NotADatasetError
from vla_ros.data.errors import IncompatibleDatasetError
from vla_ros.nodes.recorder_node import RecorderNode
from vla_ros.runtime import LATCHED, SENSOR_DATA, Node, msgs
from vla_ros.runtime.bag import bag_summary
from vla_ros.runtime.convert import image_to_msg, joint_state_msg, trajectory_msg
from vla_ros.runtime.local import LocalContext

JOINTS = ["j1", "j2", "j3"]
ARM, GRIP = ["j1", "j2"], ["f1"]
H, W = 24, 32
FPS = 10


def state_at(t: float) -> np.ndarray:
    return np.array([np.sin(t), np.cos(t), 0.1 * t])


def action_at(t: float) -> np.ndarray:
    return np.array([t, -t])


class Probe:
    """Publishes joint_states at 50 Hz, images at 20 Hz, arm/gripper targets at 25/5 Hz."""

    def __init__(self, ctx: LocalContext) -> None:
        self.node = Node("probe", context=ctx)
        n = self.node
        self.js = n.create_publisher(msgs.JointState, "joint_states", 10)
        self.img = n.create_publisher(msgs.Image, "perception/front/image", SENSOR_DATA)
        self.arm = n.create_publisher(msgs.JointTrajectory, "arm_controller/joint_trajectory", 10)
        self.grip = n.create_publisher(msgs.JointTrajectory,
                                       "gripper_controller/joint_trajectory", 10)
        self.instr = n.create_publisher(msgs.String, "instruction", LATCHED)
        self.clients = {s: n.create_client(msgs.Trigger, f"/recorder_node/{s}")
                        for s in ("start_episode", "stop_episode", "discard_episode")}
        self.sent_states: list[tuple[float, np.ndarray]] = []
        self.image_size = (H, W)
        n.create_timer(0.02, self.publish_state)
        n.create_timer(0.05, self.publish_image)
        self.arm_timer = n.create_timer(0.04, self.publish_arm)
        self.gripper_timer = n.create_timer(0.2, self.publish_gripper)

    def t(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def publish_state(self) -> None:
        t = self.t()
        q = state_at(t)
        self.sent_states.append((t, q))
        # joint order differs from the recorded order: the node must pick by name
        self.js.publish(joint_state_msg(["j3", "j1", "j2"], q[[2, 0, 1]], stamp=t))

    def publish_image(self) -> None:
        t = self.t()
        frame = np.zeros((*self.image_size, 3), np.uint8)
        frame[..., 0] = int(t * 20) % 256
        self.img.publish(image_to_msg(frame, stamp=t))

    def publish_arm(self) -> None:
        t = self.t()
        self.arm.publish(trajectory_msg(ARM, action_at(t)[None], [0.1], stamp=t))

    def publish_gripper(self) -> None:
        t = self.t()
        self.grip.publish(trajectory_msg(GRIP, np.array([[0.5]]), [0.1], stamp=t))

    def call(self, ctx: LocalContext, service: str):
        future = self.clients[service].call_async(msgs.Trigger.Request())
        ctx.spin_until_future_complete(future)
        return future.result()


def make(tmp_path, **params):
    ctx = LocalContext(sim_time=True)
    overrides = {"dataset": str(tmp_path / "ds"), "fps": FPS, "cameras": ["front"],
                 "image_width": W, "image_height": H, "state_joints": JOINTS,
                 "robot": "testbot", **params}
    node = RecorderNode(context=ctx, parameter_overrides=overrides)
    return ctx, node, Probe(ctx)


def test_records_episodes_through_the_services_and_reads_back(tmp_path):
    ctx, node, probe = make(tmp_path, bag=str(tmp_path / "bag"))
    probe.instr.publish(msgs.String(data="stack the cubes"))
    ctx.spin_for(0.5)
    lengths = []
    for seconds in (1.0, 2.0):
        start = probe.call(ctx, "start_episode")
        assert start.success, start.message
        ctx.spin_for(seconds)
        stop = probe.call(ctx, "stop_episode")
        assert stop.success and "saved episode" in stop.message, stop.message
        lengths.append(seconds)
        ctx.spin_for(0.3)
    # a discarded episode leaves no trace
    assert probe.call(ctx, "start_episode").success
    ctx.spin_for(0.7)
    assert probe.call(ctx, "discard_episode").success
    assert not probe.call(ctx, "stop_episode").success  # nothing to stop
    ctx.shutdown()

    reader = DatasetReader(tmp_path / "ds")
    reader.validate()
    assert reader.num_episodes == 2
    assert reader.state_names == JOINTS
    assert reader.action_names == ARM + GRIP
    sent_t = np.array([t for t, _ in probe.sent_states])
    sent_q = np.array([q for _, q in probe.sent_states])
    for i, seconds in enumerate(lengths):
        ep = reader.episode(i)
        assert ep.task == "stack the cubes"
        n = len(ep.states)
        assert abs(n - (seconds * FPS + 1)) <= 1  # one frame per tick, ticks at both ends
        assert ep.actions.shape == (n, 3) and ep.frames["front"].shape == (n, H, W, 3)
        # every recorded state equals one that was sent, in order, 0.1 s apart
        match = [int(np.argmin(np.abs(sent_q - s).sum(1))) for s in ep.states]
        np.testing.assert_allclose(sent_q[match], ep.states, atol=1e-6)
        np.testing.assert_allclose(np.diff(sent_t[match]), 1.0 / FPS, atol=0.021)
        # the arm action recorded with a state was sent at most 0.04 s before that state
        lag = sent_t[match] - ep.actions[:, 0]
        assert np.all(lag >= -1e-6) and np.all(lag <= 0.04 + 1e-6)
        np.testing.assert_allclose(ep.actions[:, 2], 0.5)
    topics = bag_summary(tmp_path / "bag")
    assert topics["/joint_states"][1] > 100 and "/perception/front/image" in topics


def test_shutdown_mid_episode_discards_only_the_partial_episode(tmp_path):
    ctx, node, probe = make(tmp_path)
    probe.instr.publish(msgs.String(data="open the drawer"))
    ctx.spin_for(0.3)
    assert probe.call(ctx, "start_episode").success
    ctx.spin_for(1.0)
    assert probe.call(ctx, "stop_episode").success
    assert probe.call(ctx, "start_episode").success
    ctx.spin_for(1.5)
    ctx.shutdown()  # mid-episode
    reader = DatasetReader(tmp_path / "ds")
    reader.validate()
    assert reader.num_episodes == 1 and len(reader.episode(0).states) in (10, 11, 12)
    # and the dataset is free again: another recorder appends to it
    ctx2, node2, probe2 = make(tmp_path)
    assert not probe2.call(ctx2, "start_episode").success  # no instruction, no task yet
    node2.task_param = "open the drawer"
    ctx2.spin_for(0.3)
    assert probe2.call(ctx2, "start_episode").success
    ctx2.spin_for(0.5)
    assert probe2.call(ctx2, "stop_episode").success
    ctx2.shutdown()
    assert DatasetReader(tmp_path / "ds").num_episodes == 2


def test_stale_camera_discards_the_episode_and_wrong_images_are_rejected(tmp_path):
    ctx, node, probe = make(tmp_path, task="reach")
    probe.image_size = (H + 1, W)  # wrong size: every image is rejected
    ctx.spin_for(0.3)
    assert probe.call(ctx, "start_episode").success
    ctx.spin_for(2.0)
    assert not node.recorder.recording  # gap > max_gap: discarded on the fly
    assert node.diag.counters["rejected_image/front"] >= 30
    assert "discarded" in node.diag.last["episode"][1]
    ctx.shutdown()
    assert not (tmp_path / "ds" / "meta" / "info.json").exists()


def test_refuses_a_folder_that_is_not_a_dataset_at_startup(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "thesis.tex").write_text("keep me")
    with pytest.raises(NotADatasetError, match="thesis.tex"):
        make(tmp_path)
    assert (tmp_path / "ds" / "thesis.tex").read_text() == "keep me"


def test_refuses_a_dataset_recorded_at_another_fps_at_startup(tmp_path):
    ctx, node, probe = make(tmp_path, task="reach")
    ctx.spin_for(0.3)
    assert probe.call(ctx, "start_episode").success
    ctx.spin_for(0.5)
    assert probe.call(ctx, "stop_episode").success
    ctx.shutdown()
    with pytest.raises(IncompatibleDatasetError, match="fps 10"):
        make(tmp_path, fps=15)


def test_an_idle_gripper_holds_its_position_and_an_idle_arm_its_last_target(tmp_path):
    controllers = tmp_path / "controllers.yaml"
    controllers.write_text("controller_manager:\n  ros__parameters:\n    update_rate: 100\n"
                           "arm_controller:\n  ros__parameters:\n    joints: [j1, j2]\n"
                           "gripper_controller:\n  ros__parameters:\n    joints: [j3]\n")
    ctx, node, probe = make(tmp_path, task="reach", controllers_file=str(controllers))
    probe.gripper_timer.cancel()  # the operator never touches the gripper
    ctx.spin_for(0.5)
    assert probe.call(ctx, "start_episode").success
    t_start = probe.t()
    ctx.spin_for(1.0)
    probe.arm_timer.cancel()  # the arm stops being commanded half-way
    ctx.spin_for(1.0)
    stop = probe.call(ctx, "stop_episode")
    assert stop.success and "0 ticks skipped" in stop.message, stop.message
    ctx.shutdown()
    ep = DatasetReader(tmp_path / "ds").episode(0)
    assert DatasetReader(tmp_path / "ds").action_names == ["j1", "j2", "j3"]
    np.testing.assert_allclose(ep.actions[:, 2], state_at(t_start)[2], atol=0.01)
    n = len(ep.actions)
    assert np.all(ep.actions[n // 2 + 2:, 0] == ep.actions[-1, 0])  # held last arm target
    assert ep.actions[1, 0] < ep.actions[n // 2 - 2, 0]


def test_config_file_declares_exactly_the_node_parameters(tmp_path):
    from vla_ros.assets import PACKAGE_ROOT
    from vla_ros.runtime.entry import create_local_node

    ctx = LocalContext(sim_time=True)
    try:
        node = create_local_node(RecorderNode, ctx,
                                 parameters=[PACKAGE_ROOT / "config" / "recorder.yaml",
                                             {"dataset": str(tmp_path / "ds")}])
        assert node.unused_parameter_overrides() == []
        assert node.action_topics == ["arm_controller/joint_trajectory",
                                      "gripper_controller/joint_trajectory"]
        assert node.action_names["arm_controller/joint_trajectory"][0] == "panda_joint1"
    finally:
        ctx.shutdown()


@pytest.mark.parametrize("source", ["chunk", "twist"])
def test_policy_chunks_and_teleop_twists_as_actions(tmp_path, source):
    ctx, node, probe = make(tmp_path, task="reach", action_source=source)
    pub_node = Node("operator", context=ctx)
    if source == "chunk":
        pub = pub_node.create_publisher(msgs.JointTrajectory, "policy/action_chunk", 10)

        def publish():
            t = probe.t()
            chunk = np.stack([[t, 10 + k] for k in range(4)])  # only step 0 is recorded
            pub.publish(trajectory_msg(["dx", "grip"], chunk, [0.1, 0.2, 0.3, 0.4], stamp=t))
    else:
        pub = pub_node.create_publisher(msgs.TwistStamped, "teleop/twist", 10)

        def publish():
            t = probe.t()
            pub.publish(msgs.TwistStamped(
                header=msgs.Header(stamp=msgs.Time(sec=int(t), nanosec=int(t % 1 * 1e9))),
                twist=msgs.Twist(linear=msgs.Vector3(x=t), angular=msgs.Vector3(z=-1.0))))
    pub_node.create_timer(0.1, publish)
    ctx.spin_for(0.35)
    assert probe.call(ctx, "start_episode").success
    ctx.spin_for(1.0)
    assert probe.call(ctx, "stop_episode").success
    ctx.shutdown()
    reader = DatasetReader(tmp_path / "ds")
    actions = reader.episode(0).actions
    if source == "chunk":
        assert reader.action_names == ["dx", "grip"]
        np.testing.assert_allclose(actions[:, 1], 10.0)
    else:
        assert reader.action_names == ["vx", "vy", "vz", "wx", "wy", "wz"]
        np.testing.assert_allclose(actions[:, 5], -1.0)
    assert np.all(np.diff(actions[:, 0]) >= 0) and actions[-1, 0] > actions[0, 0]
