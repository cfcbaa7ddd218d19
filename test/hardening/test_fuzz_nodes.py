"""Fuzzing every node callback with random and adversarial messages.

Each test builds one graph (nodes + a probe) and lets hypothesis throw messages at one
subscription: NaN/inf, empty and huge arrays, wrong encodings, mismatched lengths,
negative/decreasing/duplicated times, unknown names, stamps from the past, the future or
none. The executor runs without crash isolation, so any exception in a callback fails the
test. Invariants: no command to a controller (or chunk from the policy) holds NaN or a
value outside the joint limits, and rejections are explained on /diagnostics.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vla_ros.runtime import LATCHED, SENSOR_DATA, Node, msgs
from vla_ros.runtime.clock import seconds_to_duration_msg, seconds_to_time_msg
from vla_ros.runtime.local import LocalContext
from vla_ros.sim.robots import PANDA

ARM = list(PANDA.arm_joints)
HAND = list(PANDA.gripper.joints)
EE_NAMES = ["x", "y", "z", "rx", "ry", "rz", "gripper"]
JUNK = ["", "panda_joint9", "x ", "gripper", "X", "joint\x00"]

values = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from(
    [0.0, 1e9, -1e9, 3.0, -3.0, 1e-300])
stamps = st.sampled_from([0.0, 1.0, 50.0, 99.9, 100.0, 100.05, 1e6]) | st.floats(0, 200)
time_lists = st.lists(st.floats(-1.0, 5.0), max_size=8)


def trajectories(pool: list[str]):
    return st.builds(
        lambda names, rows, times, stamp: (names, rows, times, stamp),
        st.lists(st.sampled_from(pool + JUNK), max_size=len(pool) + 2),
        st.lists(st.lists(values, max_size=len(pool) + 2), max_size=8), time_lists, stamps)


def make_trajectory(names, rows, times, stamp):
    points = [msgs.JointTrajectoryPoint(
        positions=np.array(row, float),
        time_from_start=seconds_to_duration_msg(times[i] if i < len(times) else 0.0))
        for i, row in enumerate(rows)]
    return msgs.JointTrajectory(header=msgs.Header(stamp=seconds_to_time_msg(stamp)),
                                joint_names=names, points=points)


class Watch:
    """Subscribes to command topics and records every violation of the invariants."""

    def __init__(self, probe: Node, limits: dict[str, tuple[float, float]], topics: list[str]):
        self.limits, self.bad, self.count, self.diag = limits, [], 0, 0
        for topic in topics:
            probe.create_subscription(msgs.JointTrajectory, topic,
                                      lambda m, t=topic: self.check(t, m), 1000)
        probe.create_subscription(msgs.DiagnosticArray, "/diagnostics", self.on_diag, 1000)

    def on_diag(self, msg) -> None:
        self.diag += sum(1 for s in msg.status if s.level >= 1 and s.message)

    def check(self, topic: str, msg) -> None:
        self.count += 1
        for point in msg.points:
            for name, value in zip(msg.joint_names, point.positions, strict=True):
                lo, hi = self.limits.get(name, (-np.inf, np.inf))
                if not np.isfinite(value) or not lo - 1e-6 <= value <= hi + 1e-6:
                    self.bad.append(f"{topic}: {name}={value}")


@pytest.fixture(scope="module")
def retarget_graph():
    from vla_ros.nodes.retarget_node import RetargetNode
    from vla_ros.retarget.robot_model import RobotModel

    ctx = LocalContext(sim_time=True, start_time=100.0)
    RetargetNode(context=ctx)
    probe = Node("fuzz_probe", context=ctx)
    model = RobotModel.load("panda")
    limits = dict(zip(model.joint_names, zip(model.lower, model.upper, strict=True),
                      strict=True))
    limits.update({j: (0.0, 0.04) for j in HAND})
    watch = Watch(probe, limits, ["arm_controller/joint_trajectory",
                                  "gripper_controller/joint_trajectory"])
    pubs = {
        "chunk": probe.create_publisher(msgs.JointTrajectory, "policy/action_chunk", 10),
        "js": probe.create_publisher(msgs.JointState, "joint_states", 10),
        "twist": probe.create_publisher(msgs.TwistStamped, "teleop/twist", 10),
        "halt": probe.create_publisher(msgs.Bool, "safety/halt", LATCHED),
    }
    q = np.array([PANDA.home.get(j, 0.0) for j in ARM + HAND])

    def joint_state(stamp=None):
        t = ctx.clock.now_ns() * 1e-9 if stamp is None else stamp
        pubs["js"].publish(msgs.JointState(header=msgs.Header(stamp=seconds_to_time_msg(t)),
                                           name=ARM + HAND, position=q))

    yield ctx, probe, pubs, watch, joint_state
    ctx.shutdown()


@given(chunk=trajectories(EE_NAMES))
def test_retarget_node_survives_any_chunk_and_never_commands_out_of_limits(retarget_graph,
                                                                          chunk):
    ctx, _, pubs, watch, joint_state = retarget_graph
    joint_state()
    msg = make_trajectory(*chunk)
    pubs["chunk"].publish(msg)
    ctx.spin_for(0.02)
    assert watch.bad == []


@given(names=st.lists(st.sampled_from(ARM + HAND + JUNK), max_size=12),
       position=st.lists(values, max_size=12), stamp=stamps)
def test_retarget_node_survives_any_joint_state(retarget_graph, names, position, stamp):
    ctx, _, pubs, watch, joint_state = retarget_graph
    pubs["js"].publish(msgs.JointState(header=msgs.Header(stamp=seconds_to_time_msg(stamp)),
                                       name=names, position=np.array(position, float)))
    pubs["chunk"].publish(make_trajectory(EE_NAMES, [[0.4, 0.0, 0.5, 3.14, 0, 0, 0.5]],
                                          [0.1], ctx.clock.now_ns() * 1e-9))
    ctx.spin_for(0.02)
    assert watch.bad == []
    joint_state()  # leave a sane state for the next example


@given(lin=st.lists(values, min_size=3, max_size=3), ang=st.lists(values, min_size=3,
                                                                   max_size=3), stamp=stamps)
def test_retarget_node_survives_any_twist(retarget_graph, lin, ang, stamp):
    ctx, _, pubs, watch, joint_state = retarget_graph
    joint_state()
    twist = msgs.TwistStamped(header=msgs.Header(stamp=seconds_to_time_msg(stamp)),
                              twist=msgs.Twist(linear=msgs.Vector3(x=lin[0], y=lin[1], z=lin[2]),
                                               angular=msgs.Vector3(x=ang[0], y=ang[1],
                                                                    z=ang[2])))
    pubs["twist"].publish(twist)
    ctx.spin_for(0.05)
    assert watch.bad == []


def test_retarget_rejections_are_explained(retarget_graph):
    ctx, _, pubs, watch, joint_state = retarget_graph
    before = watch.diag
    joint_state()
    pubs["chunk"].publish(make_trajectory(EE_NAMES, [[np.nan] * 7], [0.1], 100.0))
    ctx.spin_for(0.05)
    assert watch.diag > before


@pytest.fixture(scope="module")
def sim_graph():
    from vla_ros.nodes.mujoco_sim import MujocoSim

    ctx = LocalContext(sim_time=True)
    sim = MujocoSim(context=ctx, parameter_overrides={"cameras": ["scene"], "image_width": 32,
                                                      "image_height": 32})
    probe = Node("fuzz_probe", context=ctx)
    pub = probe.create_publisher(msgs.JointTrajectory, "arm_controller/joint_trajectory", 10)
    states = []
    probe.create_subscription(msgs.JointState, "joint_states", states.append, 10)
    yield ctx, sim, pub, states
    ctx.shutdown()


@given(chunk=trajectories(ARM))
def test_sim_controller_survives_any_trajectory_and_stays_in_limits(sim_graph, chunk):
    ctx, sim, pub, states = sim_graph
    pub.publish(make_trajectory(*chunk))
    ctx.spin_for(0.03)
    q = sim.env.position_targets()
    assert np.all(np.isfinite(q))
    assert np.all(q >= sim.env.lower - 1e-6) and np.all(q <= sim.env.upper + 1e-6)


@pytest.fixture(scope="module")
def policy_graph():
    from vla_ros.nodes.policy_node import PolicyNode
    from vla_ros.policy.vla import BuiltinVLAPolicy
    from vla_ros.policy.vla_model import PRESETS, VLAConfig

    config = VLAConfig(action_names=EE_NAMES, state_names=ARM + HAND, cameras=["scene"],
                       image_size=(16, 16), horizon=4, dt=0.1, text_encoder="hash",
                       text_dim=16, **PRESETS["tiny"])
    ctx = LocalContext(sim_time=True, start_time=100.0)
    PolicyNode(policy=BuiltinVLAPolicy.untrained(config), context=ctx,
               parameter_overrides={"rate_hz": 20.0, "instruction": "pick up the cube"})
    probe = Node("fuzz_probe", context=ctx)
    image_pub = probe.create_publisher(msgs.Image, "perception/scene/image", 10)
    js_pub = probe.create_publisher(msgs.JointState, "joint_states", 10)
    chunks = []
    probe.create_subscription(msgs.JointTrajectory, "policy/action_chunk", chunks.append, 1000)
    yield ctx, image_pub, js_pub, chunks
    ctx.shutdown()


ENCODINGS = ["rgb8", "bgr8", "mono8", "16UC1", "rgba8", "", "jpeg"]


@given(encoding=st.sampled_from(ENCODINGS), h=st.integers(0, 20), w=st.integers(0, 20),
       step=st.integers(0, 80), data=st.binary(max_size=1500), stamp=stamps,
       js_len=st.integers(0, 10))
def test_policy_node_survives_any_image_and_chunks_stay_finite(policy_graph, encoding, h, w,
                                                               step, data, stamp, js_len):
    ctx, image_pub, js_pub, chunks = policy_graph
    image_pub.publish(msgs.Image(header=msgs.Header(stamp=seconds_to_time_msg(stamp)),
                                 height=h, width=w, encoding=encoding, step=step,
                                 data=np.frombuffer(data, np.uint8)))
    now = ctx.clock.now_ns() * 1e-9
    js_pub.publish(msgs.JointState(header=msgs.Header(stamp=seconds_to_time_msg(now)),
                                   name=(ARM + HAND)[:js_len], position=np.zeros(js_len)))
    ctx.spin_for(0.06)
    for chunk in chunks:
        assert all(np.all(np.isfinite(p.positions)) for p in chunk.points)


@pytest.fixture(scope="module")
def perception_graph():
    from vla_ros.nodes.perception_node import PerceptionNode

    ctx = LocalContext(sim_time=True, start_time=100.0)
    PerceptionNode(context=ctx, parameter_overrides={"cameras": ["scene"], "sync": False,
                                                     "width": 16, "height": 16})
    probe = Node("fuzz_probe", context=ctx)
    pub = probe.create_publisher(msgs.Image, "camera/scene/image_raw", SENSOR_DATA)
    out = []
    probe.create_subscription(msgs.Image, "perception/scene/image", out.append, SENSOR_DATA)
    yield ctx, pub, out
    ctx.shutdown()


@given(encoding=st.sampled_from(ENCODINGS), h=st.integers(0, 40), w=st.integers(0, 40),
       step=st.integers(0, 200), data=st.binary(max_size=5000), stamp=stamps)
def test_perception_node_survives_any_image(perception_graph, encoding, h, w, step, data,
                                            stamp):
    ctx, pub, out = perception_graph
    pub.publish(msgs.Image(header=msgs.Header(stamp=seconds_to_time_msg(stamp)), height=h,
                           width=w, encoding=encoding, step=step,
                           data=np.frombuffer(data, np.uint8)))
    ctx.spin_for(0.02)
    for msg in out:
        assert (msg.height, msg.width) == (16, 16)


@pytest.fixture(scope="module")
def detector_graph():
    from vla_ros.nodes.failure_detector import FailureDetectorNode

    ctx = LocalContext(sim_time=True)
    node = FailureDetectorNode(context=ctx, parameter_overrides={})
    probe = Node("fuzz_probe", context=ctx)
    pub = probe.create_publisher(msgs.Float32MultiArray, "policy/features", 10)
    yield ctx, node, pub
    ctx.shutdown()


@given(sizes=st.lists(st.integers(0, 6), max_size=3), data=st.lists(
    st.floats(width=32) | st.just(float("nan")), max_size=40),
    labels=st.lists(st.sampled_from(["chunk_id=1", "chunk_id=x", "", "dim0", "chunk_id=-5"]),
                    max_size=3))
def test_failure_detector_survives_any_feature_message(detector_graph, sizes, data, labels):
    ctx, _, pub = detector_graph
    dims = [msgs.MultiArrayDimension(label=labels[i] if i < len(labels) else "", size=s,
                                     stride=0) for i, s in enumerate(sizes)]
    pub.publish(msgs.Float32MultiArray(layout=msgs.MultiArrayLayout(dim=dims, data_offset=0),
                                       data=np.array(data, np.float32)))
    ctx.spin_for(0.02)
