"""Sim episodes observed by the built-in VLA become a valid rollout dataset (real data path)."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
torch.set_num_threads(1)


def test_one_observed_episode_round_trips(tmp_path):
    pytest.importorskip("mujoco")
    from vla_ros.safety.collect import collect
    from vla_ros.safety.rollouts import load_rollouts, save_rollouts

    data = collect(tasks=["cube_in_bin"], episodes=1, failure_rate=1.0, control_hz=4.0,
                   seed=3, policy_seed=3)
    assert data.policy_id == "builtin-untrained@seed3"
    assert [r.split for r in data] == ["unseen"]
    for r in data:
        assert r.features.shape == (r.length, 256) and np.all(np.isfinite(r.features))
        assert r.actions.shape[0] == r.length and r.actions.ndim == 3
        assert r.extra["injected"]  # failure_rate=1: every episode had a failure injected
        assert r.success or r.failure_mode == r.extra["injected"]
        assert np.all(np.diff(r.time) > 0) and r.time[0] == 0.0
    assert np.std(data.rollouts[0].features, axis=0).mean() > 0  # features follow the scene
    back = load_rollouts(save_rollouts(tmp_path / "observed.npz", data))
    np.testing.assert_array_equal(back.rollouts[0].features, data.rollouts[0].features)
