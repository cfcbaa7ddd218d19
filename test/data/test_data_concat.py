"""Several datasets read as one (training on demos recorded in separate runs)."""

from __future__ import annotations

import numpy as np
import pytest
from data_testkit import open_writer, record

from vla_ros.data import DatasetReader
from vla_ros.data.concat import ConcatDataset, open_datasets
from vla_ros.data.errors import IncompatibleDatasetError


def _two_datasets(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with open_writer(a) as writer:
        given_a = record(writer, [5, 7], ["x", "y"], seed=1)
    with open_writer(b) as writer:
        given_b = record(writer, [4, 6, 3], ["y", "z", "x"], seed=2)
    return (a, b), given_a + given_b


def test_episodes_are_numbered_across_datasets_in_order(tmp_path):
    roots, given = _two_datasets(tmp_path)
    union = ConcatDataset(roots)
    assert union.num_episodes == 5
    assert [union.locate(i) for i in range(5)] == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
    for i, frames in enumerate(given):
        ep = union.episode(i)
        assert ep.task == frames[0]["task"]
        np.testing.assert_allclose(ep.states, np.stack([f["state"] for f in frames]),
                                   rtol=1e-6)
    with pytest.raises(IndexError, match="out of range"):
        union.episode(5)


def test_statistics_equal_those_of_all_frames(tmp_path):
    roots, given = _two_datasets(tmp_path)
    stats = ConcatDataset(roots).stats["observation.state"]
    states = np.stack([f["state"] for ep in given for f in ep]).astype(np.float32)
    np.testing.assert_allclose(stats["mean"], states.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["std"], states.std(0), rtol=1e-5, atol=1e-6)
    assert stats["count"].tolist() == [len(states)]


def test_datasets_with_other_features_are_refused_by_name(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with open_writer(a) as writer:
        record(writer, [3], ["x"])
    with open_writer(b, fps=15) as writer:
        record(writer, [3], ["x"])
    with pytest.raises(IncompatibleDatasetError, match="fps"):
        ConcatDataset([a, b])


def test_one_folder_opens_its_plain_reader(tmp_path):
    roots, _ = _two_datasets(tmp_path)
    assert isinstance(open_datasets(roots[:1]), DatasetReader)
    assert isinstance(open_datasets(roots), ConcatDataset)
