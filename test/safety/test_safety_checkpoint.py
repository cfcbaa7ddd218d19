"""Detector checkpoints: every detector round-trips; mismatches and damage are clear errors."""

import json

import numpy as np
import pytest
import torch

from vla_ros.safety.checkpoint import load_detector, save_detector
from vla_ros.safety.errors import DetectorCheckpointError
from vla_ros.safety.experiment import split_rollouts, train_one
from vla_ros.safety.registry import detector_names, make_detector
from vla_ros.safety.synthetic import SyntheticConfig, generate_rollouts

torch.set_num_threads(1)
CFG = SyntheticConfig(feature_dim=6, seen_tasks=3, unseen_tasks=1, rollouts_per_task=30,
                      min_length=12, max_length=20, horizon=3, action_dim=2)
FAST = {"safe_mlp": {"hidden": 8, "epochs": 3}, "safe_lstm": {"hidden": 8, "epochs": 2},
        "rnd": {"epochs": 1, "hidden": 8, "out": 4}}


@pytest.fixture(scope="module")
def data():
    rs = generate_rollouts(CFG, seed=2, policy_id="vla@1234")
    return rs, split_rollouts(rs)


@pytest.mark.parametrize("name", detector_names())
def test_round_trip_gives_identical_scores_and_band(tmp_path, data, name):
    rs, splits = data
    trained = train_one(name, splits, rs.feature_dim, 0, 0.2, FAST.get(name))
    path = save_detector(tmp_path / name, trained.detector, trained.band, rs.policy_id,
                         trained_on="synthetic")
    bundle = load_detector(path, feature_dim=6, policy_id="vla@1234")
    assert bundle.detector.name == name and bundle.meta == {"trained_on": "synthetic"}
    for r in splits.unseen[:3]:
        np.testing.assert_array_equal(bundle.detector.rollout_scores(r),
                                      trained.detector.rollout_scores(r))
    np.testing.assert_array_equal(bundle.band.upper_curve(50), trained.band.upper_curve(50))
    stricter = load_detector(path, alpha=0.15).band
    assert np.all(stricter.upper_curve(50) >= bundle.band.upper_curve(50))


def test_mismatch_and_damage_are_refused(tmp_path, data):
    rs, splits = data
    trained = train_one("mahalanobis", splits, rs.feature_dim, 0, 0.2)
    path = save_detector(tmp_path / "m", trained.detector, trained.band, rs.policy_id)
    with pytest.raises(DetectorCheckpointError, match="6-dimensional features.*publishes 7"):
        load_detector(path, feature_dim=7)
    with pytest.raises(DetectorCheckpointError, match="for policy 'vla@1234', not 'x'"):
        load_detector(path, policy_id="x")
    with pytest.raises(DetectorCheckpointError, match="not a detector checkpoint"):
        load_detector(tmp_path / "nothing")
    cfg = json.loads((path / "config.json").read_text())
    cfg["name"] = "oracle"
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DetectorCheckpointError, match="unknown detector 'oracle'"):
        load_detector(path)
    with pytest.raises(DetectorCheckpointError, match="untrained"):
        save_detector(tmp_path / "u", make_detector("knn_cosine", 6), None, "p")
