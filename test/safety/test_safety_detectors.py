"""Every detector: streaming equals batch, causality, input errors; SAFE learns; time-only."""

import numpy as np
import pytest
import torch

from vla_ros.safety.errors import DetectorInputError
from vla_ros.safety.experiment import split_rollouts
from vla_ros.safety.metrics import roc_auc, truncated_max
from vla_ros.safety.registry import detector_names, make_detector
from vla_ros.safety.synthetic import SyntheticConfig, generate_rollouts

torch.set_num_threads(1)
CONFIG = SyntheticConfig(feature_dim=12, seen_tasks=6, unseen_tasks=3, rollouts_per_task=16,
                         min_length=25, max_length=45, horizon=4, action_dim=3)
FAST = {"safe_mlp": {"hidden": 32, "epochs": 100, "lr": 1e-2},
        "safe_lstm": {"hidden": 16, "epochs": 15},
        "rnd": {"epochs": 5, "hidden": 32, "out": 16}}


@pytest.fixture(scope="module")
def data():
    rs = generate_rollouts(CONFIG, seed=3)
    return rs, split_rollouts(rs, split_seed=0)


@pytest.fixture(scope="module")
def fitted(data):
    rs, splits = data
    return {n: make_detector(n, rs.feature_dim, **FAST.get(n, {})).fit(splits.train, seed=0)
            for n in detector_names()}


def test_all_detectors_registered():
    assert {"safe_mlp", "safe_lstm", "mahalanobis", "knn_euclidean", "knn_cosine",
            "pca_kmeans", "rnd", "stac", "time_only"} <= set(detector_names())


@pytest.mark.parametrize("name", detector_names())
def test_streaming_equals_batch(name, data, fitted):
    det = fitted[name]
    for r in data[1].unseen[:3]:  # reset between episodes must fully clear state
        det.reset()
        stream = [det.update(f, a) for f, a in zip(r.features, r.actions, strict=True)]
        np.testing.assert_allclose(stream, det.scores(r.features, r.actions), rtol=1e-9,
                                   atol=1e-9)


@pytest.mark.parametrize("name", detector_names())
def test_score_at_t_ignores_the_future(name, data, fitted):
    det = fitted[name]
    r = data[1].unseen[0]
    cut = r.length // 2
    rng = np.random.default_rng(7)
    feats, acts = r.features.copy(), r.actions.copy()
    feats[cut:] += rng.normal(scale=5.0, size=feats[cut:].shape).astype(np.float32)
    acts[cut:] += rng.normal(scale=5.0, size=acts[cut:].shape).astype(np.float32)
    before = det.scores(r.features, r.actions)
    after = det.scores(feats, acts)
    np.testing.assert_array_equal(before[:cut], after[:cut])
    if name != "time_only":
        assert not np.allclose(before[cut:], after[cut:])  # the change is seen from `cut` on


@pytest.mark.parametrize("name", detector_names())
def test_bad_input_is_a_clear_error(name, data, fitted):
    det = fitted[name]
    det.reset()
    chunk = data[0].rollouts[0].actions[0]
    with pytest.raises(DetectorInputError, match="expected 12"):
        det.update(np.zeros(11), chunk)
    bad = np.zeros(12)
    bad[3] = np.nan
    with pytest.raises(DetectorInputError, match=r"NaN/inf at \[3\]"):
        det.update(bad, chunk)
    with pytest.raises(DetectorInputError, match=r"\[T, 12\]"):
        det.scores(np.zeros((5, 13)))


def test_stac_needs_chunks(fitted):
    with pytest.raises(DetectorInputError, match="action chunk"):
        fitted["stac"].update(np.zeros(12))


def test_lstm_numpy_inference_equals_torch(data, fitted):
    det = fitted["safe_lstm"]
    r = data[1].unseen[1]
    with torch.no_grad():
        z = torch.from_numpy(det.standardize(r.features))[None]
        expected = torch.sigmoid(det._torch_model(z))[0].double().numpy()
    np.testing.assert_allclose(det.scores(r.features), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["safe_mlp", "safe_lstm"])
def test_safe_detectors_separate_unseen_failures(name, data, fitted):
    """Trained on seen tasks only, SAFE must rank unseen failures above unseen successes."""
    unseen = data[1].unseen
    curves = [fitted[name].rollout_scores(r) for r in unseen]
    assert roc_auc(truncated_max(curves), [r.label for r in unseen]) > 0.75


def test_time_only_is_chance_once_truncated(data, fitted):
    rollouts = data[1].unseen + data[1].seen_test
    labels = [r.label for r in rollouts]
    curves = [fitted["time_only"].rollout_scores(r) for r in rollouts]
    assert roc_auc(truncated_max(curves), labels) == 0.5
    # without truncation the length leaks the label -- which is why we truncate
    full = [c.max() for c in curves]
    assert roc_auc(full, labels) > 0.6


def test_mlp_score_is_a_cumulative_sum(data, fitted):
    det = fitted["safe_mlp"]
    s = det.rollout_scores(data[1].unseen[0])
    steps = np.diff(np.r_[0.0, s])
    assert np.all(steps >= 0) and np.all(steps <= 1)
