"""meta/stats.json holds the normalisation statistics of every feature."""

from __future__ import annotations

import numpy as np
from data_testkit import CAMERAS, image, open_writer, record
from hypothesis import given, settings
from hypothesis import strategies as st

from vla_ros.data import DatasetReader
from vla_ros.data.stats import ImageStats, aggregate, vector_stats


def test_stats_json_matches_numpy_over_all_frames(tmp_path):
    root = tmp_path / "ds"
    lengths = [6, 9, 4]
    with open_writer(root) as writer:
        given_frames = [f for ep in record(writer, lengths, ["a", "b", "a"]) for f in ep]
    stats = DatasetReader(root).stats
    states = np.stack([f["state"] for f in given_frames]).astype(np.float32).astype(np.float64)
    s = stats["observation.state"]
    np.testing.assert_allclose(s["mean"], states.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s["std"], states.std(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s["min"], states.min(0), rtol=1e-6)
    np.testing.assert_allclose(s["max"], states.max(0), rtol=1e-6)
    assert s["count"].tolist() == [sum(lengths)]
    assert s["q50"].shape == (3,) and np.all(s["q01"] <= s["q99"])
    rewards = np.array([f["next.reward"] for f in given_frames], dtype=np.float32)
    np.testing.assert_allclose(stats["next.reward"]["mean"], [rewards.mean()], rtol=1e-5)
    np.testing.assert_allclose(stats["frame_index"]["max"], [max(lengths) - 1])
    for cam, (h, w) in CAMERAS.items():
        frames = np.stack([image(t, h, w) for n in lengths for t in range(n)]) / 255.0
        img = stats[f"observation.images.{cam}"]
        assert img["mean"].shape == (3, 1, 1) and img["count"].tolist() == [sum(lengths)]
        np.testing.assert_allclose(img["mean"].ravel(), frames.mean((0, 1, 2)), atol=1e-9)
        np.testing.assert_allclose(img["std"].ravel(), frames.std((0, 1, 2)), atol=1e-9)
        np.testing.assert_allclose(img["min"].ravel(), frames.min((0, 1, 2)))
        np.testing.assert_allclose(img["max"].ravel(), frames.max((0, 1, 2)))


def test_single_episode_quantiles_are_exact():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(200, 4))
    s = vector_stats(data)
    np.testing.assert_allclose(s["q10"], np.quantile(data, 0.1, axis=0))
    np.testing.assert_allclose(s["q90"], np.quantile(data, 0.9, axis=0))


def test_image_stats_quantiles_from_histogram():
    rng = np.random.default_rng(1)
    acc = ImageStats(32, 32)
    frames = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    for f in frames:
        acc.update(f)
    s = acc.result()
    flat = frames.reshape(-1, 3) / 255.0
    np.testing.assert_allclose(s["q50"].ravel(), np.quantile(flat, 0.5, axis=0,
                                                            method="inverted_cdf"))
    assert s["count"].tolist() == [5]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=6), st.integers(0, 2**31 - 1))
def test_aggregating_episode_stats_equals_stats_of_all_frames(sizes, seed):
    rng = np.random.default_rng(seed)
    parts = [rng.normal(loc=rng.normal(), scale=rng.uniform(0.1, 3), size=(n, 3)) for n in sizes]
    merged = aggregate({"x": vector_stats(p)} for p in parts)["x"]
    whole = np.concatenate(parts)
    np.testing.assert_allclose(merged["mean"], whole.mean(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(merged["std"], whole.std(0), rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(merged["min"], whole.min(0))
    np.testing.assert_array_equal(merged["max"], whole.max(0))
    assert merged["count"].tolist() == [len(whole)]
