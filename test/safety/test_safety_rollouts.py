"""Rollout dataset format: round trip, validation errors naming file/rollout, synthetic data."""

import json

import numpy as np
import pytest

from vla_ros.safety.errors import RolloutDataError
from vla_ros.safety.rollouts import load_rollouts, make_rollout, save_rollouts
from vla_ros.safety.synthetic import SyntheticConfig, generate_rollouts

SMALL = SyntheticConfig(feature_dim=8, seen_tasks=3, unseen_tasks=2, rollouts_per_task=6,
                        min_length=10, max_length=20)


def test_round_trip_keeps_everything(tmp_path):
    rs = generate_rollouts(SMALL, seed=1, policy_id="vla@abc")
    path = save_rollouts(tmp_path / "eval_run", rs)
    assert path.suffix == ".npz"
    back = load_rollouts(path)
    assert back.policy_id == "vla@abc" and len(back) == len(rs)
    for a, b in zip(rs, back, strict=True):
        assert (a.task, a.split, a.success, a.failure_mode, a.rollout_id) == (
            b.task, b.split, b.success, b.failure_mode, b.rollout_id)
        np.testing.assert_array_equal(a.features, b.features)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_allclose(a.time, b.time)


def test_directory_merges_files_of_one_policy(tmp_path):
    a = generate_rollouts(SMALL, seed=1, policy_id="p")
    b = generate_rollouts(SMALL, seed=2, policy_id="p")
    save_rollouts(tmp_path / "a.npz", a)
    save_rollouts(tmp_path / "b.npz", b)
    assert len(load_rollouts(tmp_path)) == len(a) + len(b)
    save_rollouts(tmp_path / "c.npz", generate_rollouts(SMALL, seed=3, policy_id="other"))
    with pytest.raises(RolloutDataError, match="one dataset must come from one policy"):
        load_rollouts(tmp_path)


def _tamper(path, key, value):
    data = dict(np.load(path))
    data[key] = value
    np.savez(path, **data)


def test_dimension_mismatch_names_file_and_rollout(tmp_path):
    path = save_rollouts(tmp_path / "x.npz", generate_rollouts(SMALL, seed=1))
    _tamper(path, "r3.features", np.zeros((12, 9), np.float32))
    with pytest.raises(RolloutDataError, match=r"x\.npz rollout 3 .*dimension 9.*is 8"):
        load_rollouts(path)


def test_nan_names_step_and_dim(tmp_path):
    rs = generate_rollouts(SMALL, seed=1)
    path = save_rollouts(tmp_path / "x.npz", rs)
    bad = rs.rollouts[2].features.copy()
    bad[4, 5] = np.nan
    _tamper(path, "r2.features", bad)
    with pytest.raises(RolloutDataError, match=r"rollout 2 .*NaN/inf \(first at step 4, dim 5\)"):
        load_rollouts(path)


def test_time_length_and_version_checked(tmp_path):
    rs = generate_rollouts(SMALL, seed=1)
    path = save_rollouts(tmp_path / "x.npz", rs)
    _tamper(path, "r0.time", np.arange(3.0))
    with pytest.raises(RolloutDataError, match="time must have shape"):
        load_rollouts(path)
    path = save_rollouts(tmp_path / "y.npz", rs)
    schema = json.loads(str(np.load(path)["__schema__"]))
    schema["version"] = 99
    _tamper(path, "__schema__", np.array(json.dumps(schema)))
    with pytest.raises(RolloutDataError, match="schema version 99"):
        load_rollouts(path)
    with pytest.raises(RolloutDataError, match="no such rollout file"):
        load_rollouts(tmp_path / "missing.npz")


def test_make_rollout_validates():
    with pytest.raises(RolloutDataError, match="split must be one of"):
        make_rollout("t", "train", True, np.zeros((3, 2)))
    with pytest.raises(RolloutDataError, match="actions must be"):
        make_rollout("t", "seen", False, np.zeros((3, 2)), actions=np.zeros((4, 2)))
    r = make_rollout("t", "seen", False, np.zeros((3, 2)))
    assert r.failure_mode == "natural" and r.label == 1 and r.length == 3


def test_synthetic_failures_drift_in_a_shared_direction():
    """The generator's promise: the failure shift transfers from seen to unseen tasks."""
    rs = generate_rollouts(SyntheticConfig(feature_dim=16), seed=0)

    def shift(split):
        diffs = []
        for task in rs.tasks(split):
            runs = [r for r in rs if r.task == task]
            late_fail = np.mean([r.features[-10:].mean(0) for r in runs if not r.success], 0)
            late_ok = np.mean([r.features[-10:].mean(0) for r in runs if r.success], 0)
            diffs.append(late_fail - late_ok)
        return np.mean(diffs, 0)

    seen, unseen = shift("seen"), shift("unseen")
    cosine = seen @ unseen / np.linalg.norm(seen) / np.linalg.norm(unseen)
    assert cosine > 0.6
    assert all(r.extra.get("synthetic") for r in rs)
    lengths = {True: [], False: []}
    for r in rs:
        lengths[r.success].append(r.length)
    assert np.mean(lengths[False]) > np.mean(lengths[True])  # length leaks the label
