"""failure_detector node on the local backend: streaming = batch, halt timing, fail-safe."""

import numpy as np
import pytest

from vla_ros.nodes.failure_detector import FailureDetectorNode
from vla_ros.policy.interface import features_label
from vla_ros.runtime import LATCHED, Node, msgs
from vla_ros.runtime.convert import multiarray_msg, multiarray_to_array, trajectory_msg
from vla_ros.runtime.local import LocalContext
from vla_ros.safety.checkpoint import save_detector
from vla_ros.safety.errors import DetectorCheckpointError
from vla_ros.safety.experiment import split_rollouts, train_one
from vla_ros.safety.synthetic import SyntheticConfig, generate_rollouts

PERIOD = 0.1  # the policy's control period in these tests (10 Hz inference)
CFG = SyntheticConfig(feature_dim=10, seen_tasks=4, unseen_tasks=2, rollouts_per_task=20,
                      min_length=20, max_length=35, horizon=4, action_dim=3)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    rs = generate_rollouts(CFG, seed=11, policy_id="vla@test")
    splits = split_rollouts(rs)
    out = {}
    for name in ("mahalanobis", "stac"):
        trained = train_one(name, splits, rs.feature_dim, seed=0, alpha=0.2)
        path = save_detector(tmp_path_factory.mktemp(name), trained.detector, trained.band,
                             rs.policy_id)
        out[name] = (trained, path)
    return splits, out


class Harness:
    """A probe that plays rollouts as the policy node would and records the detector."""

    def __init__(self, params):
        self.ctx = LocalContext(sim_time=True)
        self.node = FailureDetectorNode(context=self.ctx, parameter_overrides=params)
        self.probe = Node("probe", context=self.ctx)
        self.feat_pub = self.probe.create_publisher(msgs.Float32MultiArray, "policy/features", 10)
        self.chunk_pub = self.probe.create_publisher(msgs.JointTrajectory,
                                                     "policy/action_chunk", 10)
        self.scores, self.halts, self.diag, self.sent = [], [], [], []
        self.probe.create_subscription(
            msgs.Float32MultiArray, "safety/score",
            lambda m: self.scores.append(multiarray_to_array(m)[0]), 100)
        self.probe.create_subscription(
            msgs.Bool, "safety/halt",
            lambda m: self.halts.append((self.now(), bool(m.data))), LATCHED)
        self.probe.create_subscription(
            msgs.DiagnosticArray, "/diagnostics",
            lambda m: self.diag.extend(s.message for s in m.status), 100)
        self.queue = []
        self.probe.create_timer(PERIOD, self._tick)

    def now(self):
        return self.probe.get_clock().now().nanoseconds * 1e-9

    def play(self, rollout, first_chunk_id=1):
        for i in range(rollout.length):
            self.queue.append((rollout.features[i], rollout.actions[i], first_chunk_id + i))
        self.ctx.spin_for(PERIOD * (rollout.length + 2))

    def _tick(self):
        if not self.queue:
            return
        feature, chunk, cid = self.queue.pop(0)
        h = len(chunk)
        self.chunk_pub.publish(trajectory_msg([f"a{i}" for i in range(chunk.shape[1])], chunk,
                                              (np.arange(h) + 1) * PERIOD))
        self.sent.append(self.now())
        self.feat_pub.publish(multiarray_msg(feature, labels=[features_label(cid)]))

    def call(self, service):
        client = self.probe.create_client(msgs.Trigger, f"/failure_detector/{service}")
        return client.call(msgs.Trigger.Request())


def _alarming_failure(trained, rollouts):
    for r in rollouts:
        k = trained.band.first_alarm(trained.detector.rollout_scores(r))
        if not r.success and k is not None and k > 2:
            return r, k
    raise AssertionError("no failure alarmed after step 2 in the test data")


@pytest.mark.parametrize("name", ["mahalanobis", "stac"])
def test_node_scores_equal_batch_scores(setup, name):
    splits, models = setup
    trained, path = models[name]
    h = Harness({"checkpoint": str(path), "policy_id": "vla@test"})
    r = next(r for r in splits.unseen if r.success)
    h.play(r)
    got = np.array(h.scores)
    np.testing.assert_allclose(got[:, 0], trained.detector.rollout_scores(r), rtol=1e-5)
    np.testing.assert_allclose(got[:, 1], trained.band.upper_curve(r.length), rtol=1e-5)
    h.ctx.shutdown()


def test_halts_within_one_control_period_of_the_alarm(setup):
    splits, models = setup
    trained, path = models["mahalanobis"]
    r, k = _alarming_failure(trained, splits.unseen + splits.seen_test)
    h = Harness({"checkpoint": str(path)})
    h.play(r)
    true_halts = [t for t, v in h.halts if v]
    assert len(true_halts) == 1  # latched: one halt, not one per step
    assert h.halts[0][1] is False  # the node announced "not halted" at start
    assert 0.0 <= true_halts[0] - h.sent[k] <= PERIOD  # within one control period
    assert true_halts[0] < h.sent[k + 1] if k + 1 < len(h.sent) else True
    assert any("failure alarm" in m and f"step {k}" in m for m in h.diag)
    # a late subscriber still sees the halt (transient_local)
    late = []
    Node("late", context=h.ctx).create_subscription(
        msgs.Bool, "safety/halt", lambda m: late.append(m.data), LATCHED)
    h.ctx.spin_for(PERIOD)
    assert late == [True]
    # ~/reset clears it and starts a new episode whose scores start afresh
    assert h.call("reset").success
    assert h.halts[-1][1] is False
    h.scores.clear()
    h.play(r, first_chunk_id=1)
    np.testing.assert_allclose(np.array(h.scores)[:, 0], trained.detector.rollout_scores(r),
                               rtol=1e-5)
    h.ctx.shutdown()


def test_chunk_id_restart_starts_a_new_episode(setup):
    splits, models = setup
    trained, path = models["mahalanobis"]
    a, b = [r for r in splits.unseen if r.success][:2]
    h = Harness({"checkpoint": str(path)})
    h.play(a, first_chunk_id=1)
    h.scores.clear()
    h.play(b, first_chunk_id=1)  # the policy restarted counting: new episode
    np.testing.assert_allclose(np.array(h.scores)[:, 0], trained.detector.rollout_scores(b),
                               rtol=1e-5)
    assert any("chunk id restarted" in m for m in h.diag)
    h.ctx.shutdown()


def test_policy_episode_message_starts_a_new_episode(setup):
    splits, models = setup
    trained, path = models["mahalanobis"]
    a, b = [r for r in splits.unseen if r.success][:2]
    h = Harness({"checkpoint": str(path)})
    episode = h.probe.create_publisher(msgs.String, "policy/episode", 10)
    h.play(a, first_chunk_id=1)
    episode.publish(msgs.String(data="episode 2"))
    h.scores.clear()
    h.play(b, first_chunk_id=a.length + 1)  # ids keep counting: only the message tells
    np.testing.assert_allclose(np.array(h.scores)[:, 0], trained.detector.rollout_scores(b),
                               rtol=1e-5)
    assert any("policy/episode 'episode 2'" in m for m in h.diag)
    h.ctx.shutdown()


@pytest.mark.parametrize("bad", ["dimension", "nan"])
def test_bad_features_halt_with_a_reason(setup, bad):
    _, models = setup
    _, path = models["mahalanobis"]
    h = Harness({"checkpoint": str(path)})
    feature = np.zeros(9 if bad == "dimension" else 10, np.float32)
    if bad == "nan":
        feature[2] = np.nan
    h.feat_pub.publish(multiarray_msg(feature, labels=[features_label(1)]))
    h.ctx.spin_for(PERIOD)
    assert [v for _, v in h.halts] == [False, True]
    assert not h.scores  # nothing scored from bad input
    expect = "expected 10" if bad == "dimension" else "NaN"
    assert any("fail-safe" in m and expect in m for m in h.diag)
    h.ctx.shutdown()


def test_operator_halt_service_and_missing_detector_policy(setup):
    h = Harness({"checkpoint": "", "on_missing_detector": "halt"})
    h.feat_pub.publish(multiarray_msg(np.zeros(10, np.float32), labels=[features_label(1)]))
    h.ctx.spin_for(PERIOD)
    assert h.halts[-1][1] is True
    assert any("no detector checkpoint" in m for m in h.diag)
    h.ctx.shutdown()
    _, models = setup
    h = Harness({"checkpoint": str(models["mahalanobis"][1])})
    response = h.call("halt")
    assert response.success and h.halts[-1][1] is True
    assert any("operator halt" in m for m in h.diag)
    h.ctx.shutdown()


def test_checkpoint_for_another_policy_is_refused(setup):
    _, models = setup
    path = str(models["mahalanobis"][1])
    with pytest.raises(DetectorCheckpointError, match="trained on 10-dimensional features"):
        Harness({"checkpoint": path, "feature_dim": 64})
    with pytest.raises(DetectorCheckpointError, match="trained for policy 'vla@test'"):
        Harness({"checkpoint": path, "policy_id": "vla@other"})
