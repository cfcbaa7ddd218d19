"""policy_node on the local backend: chunks with the right names and stamps, features tied
to chunk ids, halt within one callback until ~/reset, missing/stale inputs → no chunk +
diagnostic, execution-strategy hook, a node built from a checkpoint by parameters, and
trigger=frame (a chunk in the same spin as the frames, still at most rate_hz)."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.nodes.policy_node import PolicyNode
from vla_ros.policy.interface import parse_features_label
from vla_ros.policy.vla import BuiltinVLAPolicy
from vla_ros.policy.vla_model import PRESETS, VLAConfig
from vla_ros.runtime import LATCHED, Node, msgs
from vla_ros.runtime.clock import duration_msg_to_seconds, time_msg_to_seconds
from vla_ros.runtime.convert import image_to_msg, joint_state_msg, multiarray_to_array
from vla_ros.runtime.local import LocalContext

JOINTS = ["j1", "j2", "j3"]
ACTIONS = ["x", "y", "z", "gripper"]
CAMERAS = ["scene", "wrist"]
SIZE = (32, 32)


def tiny_config(**kw) -> VLAConfig:
    base = dict(action_names=ACTIONS, state_names=JOINTS, cameras=CAMERAS, image_size=SIZE,
                horizon=5, dt=0.05, text_encoder="hash", text_dim=32, **PRESETS["tiny"])
    base.update(kw)
    return VLAConfig(**base)


@pytest.fixture(scope="module")
def policy() -> BuiltinVLAPolicy:
    return BuiltinVLAPolicy.untrained(tiny_config())


class Rig:
    """A policy_node plus a probe that feeds it observations and records what it sends."""

    def __init__(self, policy=None, **overrides) -> None:
        self.ctx = LocalContext(sim_time=True, start_time=100.0)  # stamp 0 = unstamped
        params = {"rate_hz": 10.0, "max_age": 0.25, "instruction": "pick up the red cube"}
        params.update(overrides)
        self.node = PolicyNode(policy=policy, context=self.ctx, parameter_overrides=params)
        self.probe = Node("probe", context=self.ctx)
        self.chunks: list = []
        self.features: list = []
        self.diag: list = []
        self.probe.create_subscription(msgs.JointTrajectory, "policy/action_chunk",
                                       self.chunks.append, 100)
        self.probe.create_subscription(msgs.Float32MultiArray, "policy/features",
                                       self.features.append, 100)
        self.probe.create_subscription(msgs.DiagnosticArray, "/diagnostics",
                                       self.diag.append, 100)
        self.image_pubs = {cam: self.probe.create_publisher(
            msgs.Image, f"perception/{cam}/image", 10) for cam in CAMERAS}
        self.js_pub = self.probe.create_publisher(msgs.JointState, "joint_states", 10)
        self.halt_pub = self.probe.create_publisher(msgs.Bool, "safety/halt", LATCHED)
        self.rng = np.random.default_rng(0)

    def now(self) -> float:
        return self.node.get_clock().now().seconds

    def observe(self, stamp: float | None = None, cameras=CAMERAS, joints: bool = True) -> float:
        """Publish one image per camera and a joint state, all stamped `stamp` (default now)."""
        stamp = self.now() if stamp is None else stamp
        for cam in cameras:
            image = self.rng.integers(0, 255, (*SIZE, 3), dtype=np.uint8)
            self.image_pubs[cam].publish(image_to_msg(image, "rgb8", stamp=stamp))
        if joints:
            names = ["other", *reversed(JOINTS)]  # order and extra joints must not matter
            self.js_pub.publish(joint_state_msg(names, [9.0, 0.3, 0.2, 0.1], stamp=stamp))
        self.ctx.spin_some()
        return stamp

    def run(self, seconds: float, feed: bool = True) -> None:
        """Advance the clock in 50 ms steps, publishing fresh observations when `feed`."""
        for _ in range(int(round(seconds / 0.05))):
            if feed:
                self.observe()
            self.ctx.spin_for(0.05)

    def messages(self, fragment: str) -> list[str]:
        return [s.message for d in self.diag for s in d.status if fragment in s.message]

    def reset(self):
        client = self.probe.create_client(msgs.Trigger, "/policy_node/reset")
        return client.call(msgs.Trigger.Request())

    def close(self) -> None:
        self.ctx.shutdown()


@pytest.fixture
def rig(policy):
    r = Rig(policy)
    yield r
    r.close()


def test_chunks_carry_action_names_steps_and_the_observation_stamp(rig, policy):
    stamp = rig.observe()
    rig.ctx.spin_for(0.1)  # one timer tick at 10 Hz
    assert len(rig.chunks) == 1
    chunk = rig.chunks[0]
    assert list(chunk.joint_names) == ACTIONS
    assert len(chunk.points) == 5
    times = [duration_msg_to_seconds(p.time_from_start) for p in chunk.points]
    np.testing.assert_allclose(times, 0.05 * np.arange(1, 6), atol=1e-9)
    assert time_msg_to_seconds(chunk.header.stamp) == pytest.approx(stamp, abs=1e-9)
    assert all(len(p.positions) == len(ACTIONS) for p in chunk.points)
    # features of the same inference call, labelled with the chunk id
    assert len(rig.features) == 1
    values, labels = multiarray_to_array(rig.features[0])
    assert values.shape == (policy.metadata.feature_dim,)
    assert parse_features_label(labels[0]) == 1


def test_published_actions_equal_the_policy_on_the_same_observation(policy):
    r = Rig(policy)
    try:
        seen = []
        original = policy.infer

        def spy(obs):
            seen.append(obs)
            return original(obs)

        policy.infer = spy
        try:
            r.observe()
            r.ctx.spin_for(0.1)
        finally:
            del policy.infer
        assert len(seen) == 1 and len(r.chunks) == 1
        np.testing.assert_allclose(seen[0].state, [0.1, 0.2, 0.3])  # picked by name
        expected = policy.infer(seen[0]).actions
        got = np.array([p.positions for p in r.chunks[0].points])
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    finally:
        r.close()


def test_rate_and_increasing_chunk_ids(rig):
    rig.run(1.0)
    assert 9 <= len(rig.chunks) <= 11
    ids = [parse_features_label(multiarray_to_array(f)[1][0]) for f in rig.features]
    assert ids == list(range(1, len(rig.chunks) + 1))
    # a new episode (~/reset) numbers its chunks from 1 again
    count = len(rig.features)
    assert rig.reset().success
    rig.run(0.3)
    ids = [parse_features_label(multiarray_to_array(f)[1][0]) for f in rig.features[count:]]
    assert ids[:2] == [1, 2]


def test_halt_stops_chunks_within_one_callback_until_reset(rig):
    rig.run(0.5)
    before = len(rig.chunks)
    assert before >= 4
    rig.halt_pub.publish(msgs.Bool(data=True))
    rig.ctx.spin_some()  # the halt callback runs; the very next tick must not publish
    assert rig.node.halted
    rig.run(1.0)
    assert len(rig.chunks) == before
    assert rig.messages("halted by safety/halt")
    # clearing the latched halt topic is not enough: only ~/reset resumes
    rig.halt_pub.publish(msgs.Bool(data=False))
    rig.run(0.5)
    assert len(rig.chunks) == before
    response = rig.reset()
    assert response.success and not rig.node.halted
    rig.run(0.5)
    assert len(rig.chunks) > before


def test_halt_service_also_stops_chunks(rig):
    rig.run(0.3)
    before = len(rig.chunks)
    client = rig.probe.create_client(msgs.Trigger, "/policy_node/halt")
    assert client.call(msgs.Trigger.Request()).success
    rig.run(0.5)
    assert len(rig.chunks) == before


def test_stale_observation_gives_no_chunk_and_a_diagnostic(rig):
    rig.observe()
    rig.ctx.spin_for(0.1)
    assert len(rig.chunks) == 1
    rig.ctx.spin_for(0.5)  # nothing new arrives: inputs age past max_age (0.25 s)
    assert len(rig.chunks) <= 3  # ticks at 0.2 and 0.3 s still see inputs <= 0.25 s old
    after = len(rig.chunks)
    rig.ctx.spin_for(0.5)
    assert len(rig.chunks) == after
    stale = rig.messages("old (max_age 0.25 s)")
    assert stale and "camera 'scene' image" in stale[-1]
    assert rig.node.diag.counters["rejected_stale"] >= 4


def test_stale_joint_states_alone_block_chunks(rig):
    old = rig.now()
    rig.observe(stamp=old)
    rig.ctx.spin_for(0.5)
    n = len(rig.chunks)
    for _ in range(5):  # fresh images, but joint states stop
        rig.observe(joints=False)
        rig.ctx.spin_for(0.1)
    assert len(rig.chunks) == n
    assert rig.messages("joint_states is")


def test_missing_camera_gives_no_chunk_and_names_it(rig):
    for _ in range(5):
        rig.observe(cameras=["scene"])
        rig.ctx.spin_for(0.1)
    assert rig.chunks == []
    assert rig.messages("no image yet from camera 'wrist'")


def test_missing_joint_in_joint_states_is_rejected(rig):
    for _ in range(3):
        for cam in CAMERAS:
            rig.image_pubs[cam].publish(image_to_msg(np.zeros((*SIZE, 3), np.uint8),
                                                     stamp=rig.now()))
        rig.js_pub.publish(joint_state_msg(["j1", "j2"], [0.0, 0.0], stamp=rig.now()))
        rig.ctx.spin_for(0.1)
    assert rig.chunks == []
    assert rig.node.diag.counters["rejected_joint_states"] >= 1


def test_other_image_sizes_are_resized_like_training(rig):
    for _ in range(3):
        rig.image_pubs["scene"].publish(image_to_msg(np.zeros((64, 48, 3), np.uint8),
                                                     stamp=rig.now()))
        rig.observe(cameras=["wrist"])
        rig.ctx.spin_for(0.1)
    assert len(rig.chunks) == 3


def test_wrong_image_size_is_rejected_with_the_camera_named(policy):
    rig = Rig(policy, resize_images=False)
    for _ in range(3):
        rig.image_pubs["scene"].publish(image_to_msg(np.zeros((16, 16, 3), np.uint8),
                                                     stamp=rig.now()))
        rig.observe(cameras=["wrist"])
        rig.ctx.spin_for(0.1)
    assert rig.chunks == []
    assert rig.messages("camera 'scene': image must be 32x32x3")
    rig.close()


def test_no_instruction_means_no_chunk(policy):
    r = Rig(policy, instruction="")
    try:
        r.run(0.5)
        assert r.chunks == []
        assert r.messages("no instruction")
        pub = r.probe.create_publisher(msgs.String, "instruction", 10)
        pub.publish(msgs.String(data="open the drawer"))
        r.run(0.3)
        assert r.chunks and r.node.instruction == "open the drawer"
    finally:
        r.close()


def test_horizon_parameter_truncates_chunks(policy):
    r = Rig(policy, horizon=2)
    try:
        r.run(0.2)
        assert r.chunks and all(len(c.points) == 2 for c in r.chunks)
    finally:
        r.close()


def test_execution_strategy_hook_is_applied(policy):
    r = Rig(policy, execution_strategy="open_loop")
    try:
        assert r.node.chunk_hook is not None
        r.run(0.3)
        assert r.chunks
        assert list(r.chunks[0].joint_names) == ACTIONS
    finally:
        r.close()


def test_unknown_execution_strategy_is_a_clear_error(policy):
    with pytest.raises(ValueError, match="unknown execution strategy 'warp'"):
        Rig(policy, execution_strategy="warp")


def test_node_builds_the_builtin_policy_from_a_checkpoint(tmp_path, policy):
    policy.save(tmp_path / "ckpt")
    r = Rig(None, policy_type="builtin", checkpoint=str(tmp_path / "ckpt"),
            state_joints=JOINTS)
    try:
        assert r.node.checkpoint_path == (tmp_path / "ckpt").resolve() or \
            r.node.checkpoint_path == tmp_path / "ckpt"
        r.run(0.3)
        assert r.chunks and list(r.chunks[0].joint_names) == ACTIONS
    finally:
        r.close()


def chunk_clock(rig) -> list[float]:
    """Clock times at which the probe receives each chunk (recorded from now on)."""
    times: list[float] = []
    rig.probe.create_subscription(msgs.JointTrajectory, "policy/action_chunk",
                                  lambda msg: times.append(rig.now()), 100)
    return times


def test_frame_trigger_publishes_in_the_same_spin_as_the_frames(policy):
    r = Rig(policy, trigger="frame")
    try:
        r.js_pub.publish(joint_state_msg(JOINTS, [0.1, 0.2, 0.3], stamp=r.now()))
        r.ctx.spin_some()
        for k in range(1, 6):
            stamp = r.observe()  # images then joint state, one spin_some, no timer
            assert len(r.chunks) == k
            assert time_msg_to_seconds(r.chunks[-1].header.stamp) <= stamp
            # images stamped `stamp`; the joint state read is the one before these images
            assert time_msg_to_seconds(r.chunks[-1].header.stamp) >= stamp - 0.1 - 1e-9
            r.ctx.spin_for(0.1)
        assert len(r.chunks) == 5  # the timer never infers on its own
        r.ctx.spin_for(0.5)  # no new frames: no new chunk (each set is used once)
        assert len(r.chunks) == 5
    finally:
        r.close()


def test_frame_trigger_needs_a_new_frame_from_every_camera(policy):
    r = Rig(policy, trigger="frame")
    try:
        r.observe()  # no joint state yet: this set is used up by a rejected attempt
        r.ctx.spin_for(0.1)
        r.observe()
        n = len(r.chunks)
        assert n == 1
        r.observe()  # the same stamps again: not newer, no second inference
        assert len(r.chunks) == 1
        r.ctx.spin_for(0.1)
        r.observe(cameras=["scene"])  # wrist has no newer frame: wait
        assert len(r.chunks) == n
        r.ctx.spin_for(0.01)
        r.observe(cameras=["wrist"])  # now both are newer than the last inference's
        assert len(r.chunks) == n + 1
    finally:
        r.close()


def test_frame_trigger_is_capped_at_rate_hz(policy):
    r = Rig(policy, trigger="frame")  # rate_hz 10, frames every 50 ms
    try:
        times = chunk_clock(r)
        r.run(2.0)
        assert 19 <= len(times) <= 21
        assert min(np.diff(times)) >= 0.1 - 1e-9
        # a capped frame set waits only until the rate allows it (retried every 5 ms)
        assert max(np.diff(times)) <= 0.1 + 0.005 + 1e-9
    finally:
        r.close()


def test_frame_trigger_below_the_camera_rate_infers_on_fresh_frames(policy):
    """rate_hz 2.5 with a camera at 10 Hz: frames that come too early are skipped, not held
    for a retry, so each chunk is computed from a frame of the same instant (holding the
    frame before gave chunks 100 ms old)."""
    r = Rig(policy, trigger="frame", rate_hz=2.5)
    try:
        times = chunk_clock(r)
        for _ in range(20):  # 2 s: joint state first, then the cameras, every 100 ms
            now = r.now()
            r.js_pub.publish(joint_state_msg(JOINTS, [0.1, 0.2, 0.3], stamp=now))
            r.ctx.spin_some()
            for cam in CAMERAS:
                image = r.rng.integers(0, 255, (*SIZE, 3), dtype=np.uint8)
                r.image_pubs[cam].publish(image_to_msg(image, "rgb8", stamp=now))
            r.ctx.spin_for(0.1)
        assert 5 <= len(times) <= 6
        assert min(np.diff(times)) >= 0.4 - 1e-9
        stamps = [time_msg_to_seconds(c.header.stamp) for c in r.chunks[-len(times):]]
        np.testing.assert_allclose(stamps, times, atol=1e-6)
    finally:
        r.close()


def test_frame_trigger_obeys_halt_stale_and_missing(policy):
    r = Rig(policy, trigger="frame")
    try:
        r.run(0.5)
        before = len(r.chunks)
        assert before >= 4
        r.halt_pub.publish(msgs.Bool(data=True))
        r.ctx.spin_some()
        r.run(0.5)
        assert len(r.chunks) == before
        assert r.reset().success
        r.run(0.3)
        assert len(r.chunks) > before
        # stale joint states: new frames trigger, but no chunk and a diagnostic
        for _ in range(3):  # joint states still younger than max_age (0.25 s) here
            r.observe(joints=False)
            r.ctx.spin_for(0.1)
        n = len(r.chunks)
        for _ in range(5):
            r.observe(joints=False)
            r.ctx.spin_for(0.1)
        assert len(r.chunks) == n
        assert r.messages("joint_states is")
    finally:
        r.close()
    r = Rig(policy, trigger="frame")
    try:  # one camera never sends: the watchdog names it (no frame set ever triggers)
        for _ in range(5):
            r.observe(cameras=["scene"])
            r.ctx.spin_for(0.1)
        assert r.chunks == []
        assert r.messages("no image yet from camera 'wrist'")
    finally:
        r.close()


def test_timer_trigger_waits_for_the_tick(rig):
    assert rig.node.trigger == "timer"
    rig.ctx.spin_for(0.05)
    rig.observe()
    assert rig.chunks == []  # frames alone do not infer
    rig.ctx.spin_for(0.05)
    assert len(rig.chunks) == 1


def test_bad_parameters_are_refused(policy):
    with pytest.raises(ValueError, match="rate_hz and max_age must be > 0"):
        Rig(policy, rate_hz=0.0)
    with pytest.raises(ValueError, match="state_joints has 2 names"):
        Rig(policy, state_joints=["j1", "j2"])
    with pytest.raises(ValueError, match="trigger must be one of timer, frame"):
        Rig(policy, trigger="camera")


def test_config_file_sets_only_declared_parameters_with_their_types(policy):
    from vla_ros.assets import PACKAGE_ROOT
    from vla_ros.nodes.policy_node import PARAMETERS
    from vla_ros.runtime.param_file import params_for_node

    values, _ = params_for_node([PACKAGE_ROOT / "config" / "policy.yaml"], "policy_node", "/")
    assert set(values) == set(PARAMETERS)
    for name, value in values.items():
        assert type(value) is type(PARAMETERS[name][0]), name
    overrides = {k: v for k, v in values.items() if k not in ("policy_type", "checkpoint")}
    overrides["robot"] = ""  # the tiny test policy has no robot's joints
    r = Rig(policy, **overrides)  # the node accepts the shipped configuration
    try:
        assert r.node.max_age == values["max_age"]
    finally:
        r.close()


def test_shipped_checkpoint_is_the_default_and_speaks_the_pandas_names():
    from vla_ros.policy.vla import default_checkpoint_path

    if not (default_checkpoint_path() / "config.json").is_file():
        pytest.skip("no shipped checkpoint in this tree")
    ctx = LocalContext(sim_time=True, start_time=10.0)
    try:
        node = PolicyNode(context=ctx, parameter_overrides={"robot": "panda"})
        meta = node.policy.metadata
        assert node.checkpoint_path.name == "default"
        assert list(meta.action_names) == ["x", "y", "z", "rx", "ry", "rz", "gripper"]
        assert node.state_joints[:7] == [f"panda_joint{i}" for i in range(1, 8)]
        assert node.cameras == ["scene", "wrist"]
    finally:
        ctx.shutdown()
