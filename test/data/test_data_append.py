"""Reopening a dataset appends: indices continue, tasks merge, files keep growing."""

from __future__ import annotations

import numpy as np
from data_testkit import open_writer, record

from vla_ros.data import DatasetReader, DatasetWriter


def test_reopen_appends_and_merges_tasks(tmp_path):
    root = tmp_path / "ds"
    with open_writer(root) as writer:
        first = record(writer, [4, 3], ["pick", "place"], seed=1)
    with open_writer(root) as writer:
        assert (writer.num_episodes, writer.total_frames) == (2, 7)
        second = record(writer, [5, 2], ["place", "stack"], seed=2)
    with DatasetWriter.append(root) as writer:  # schema taken from info.json
        third = record(writer, [3], ["pick"], seed=3)
    reader = DatasetReader(root)
    assert reader.num_episodes == 5 and reader.num_frames == 17
    assert reader.tasks == ["pick", "place", "stack"]
    assert [reader.episode(i).task for i in range(5)] == ["pick", "place", "place", "stack",
                                                          "pick"]
    given = first + second + third
    for i, frames in enumerate(given):
        np.testing.assert_array_equal(reader.episode(i).states,
                                      np.stack([f["state"] for f in frames]).astype(np.float32))
    assert [it["index"] for it in reader.iter_frames(images=False)] == list(range(17))
    key = "videos/observation.images.front"
    starts = [reader.episode_meta(i)[f"{key}/from_timestamp"] for i in range(5)]
    ends = [reader.episode_meta(i)[f"{key}/to_timestamp"] for i in range(5)]
    assert starts[1:] == ends[:-1]  # back to back in one growing file
    assert {reader.episode_meta(i)[f"{key}/file_index"] for i in range(5)} == {0}
    assert [len(reader.episode(i).frames["front"]) for i in range(5)] == [4, 3, 5, 2, 3]
    assert reader.stats["observation.state"]["count"][0] == 17
    assert reader.validate().ok


def test_reopen_without_new_episodes_changes_nothing(tmp_path):
    root = tmp_path / "ds"
    with open_writer(root) as writer:
        record(writer, [3], ["a"])
    before = (root / "meta/info.json").read_bytes()
    with open_writer(root):
        pass
    assert (root / "meta/info.json").read_bytes() == before
    assert DatasetReader(root).num_episodes == 1


def test_discarded_episode_leaves_no_trace(tmp_path):
    root = tmp_path / "ds"
    rng = np.random.default_rng(0)
    with open_writer(root) as writer:
        record(writer, [3], ["a"])
        from data_testkit import frame_args

        for t in range(4):
            writer.add_frame(**frame_args(rng, t, "never saved"))
        assert writer.discard_episode() == 4
        record(writer, [2], ["b"])
    reader = DatasetReader(root)
    assert reader.tasks == ["a", "b"] and reader.num_frames == 5
    assert not any((root / ".vla_ros/staging").iterdir())
