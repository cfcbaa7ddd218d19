"""A dataset we write loads in LeRobot's own LeRobotDataset (skipped where LeRobot is absent).

LeRobot cannot be installed in the project environment (it pins an older torch), so this
runs only where `lerobot` (or its standalone `ledataset` packaging) imports.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from vla_ros.data import DatasetReader, DatasetWriter


def _lerobot_dataset_class():
    for module in ("lerobot.datasets.lerobot_dataset", "ledataset.datasets.lerobot_dataset"):
        try:
            return importlib.import_module(module).LeRobotDataset
        except ImportError:
            continue
    pytest.skip("LeRobot is not installed")


def _image(t: int, h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 2 + 5 * t) % 256, (y * 3 + t) % 256,
                     np.full_like(x, (40 * t) % 256)], -1).astype(np.uint8)


@pytest.mark.parametrize("file_mb", [200.0, 0.001], ids=["packed", "file-per-episode"])
def test_lerobot_reads_our_dataset(tmp_path, file_mb):
    LeRobotDataset = _lerobot_dataset_class()
    root = tmp_path / "ds"
    rng = np.random.default_rng(3)
    lengths = [12, 9, 15]
    for e, n in enumerate(lengths):  # one writer session per episode: appends every time
        with DatasetWriter(root, fps=10, state_names=["j0", "j1", "j2"], action_names=2,
                           cameras={"front": (48, 64)}, robot_type="test_arm",
                           data_files_size_in_mb=file_mb, video_files_size_in_mb=file_mb,
                           ) as writer:
            start = 1000.0 + rng.uniform(0, 5)
            for i in range(n):
                jitter = rng.uniform(-4e-5, 4e-5) if e == 1 else 0.0  # clock jitter in ep 1
                writer.add_frame(rng.normal(size=3), rng.normal(size=2),
                                 {"front": _image(i + 100 * e, 48, 64)}, task=f"task {e % 2}",
                                 timestamp=start + i / 10 + jitter if e else None)
            writer.save_episode()
    ours = DatasetReader(root)
    ours.validate()
    files = ours.episode_meta(2)["data/file_index"], ours.episode_meta(2)[
        "videos/observation.images.front/file_index"]
    assert files == ((0, 0) if file_mb > 1 else (2, 2))

    theirs = LeRobotDataset("local/vla_ros_compat", root=root, video_backend="pyav"
                            if importlib.util.find_spec("torchcodec") is None else None)
    assert theirs.num_episodes == len(lengths)
    assert theirs.num_frames == sum(lengths)
    for index in (0, 11, 12, 20, sum(lengths) - 1):
        item = theirs[index]
        mine = ours.frame(index)
        np.testing.assert_allclose(item["observation.state"].numpy(), mine["observation.state"])
        np.testing.assert_allclose(item["action"].numpy(), mine["action"])
        assert int(item["episode_index"]) == mine["episode_index"]
        assert item["task"] == mine["task"]
        their_img = (item["observation.images.front"].numpy().transpose(1, 2, 0) * 255).round()
        assert np.abs(their_img - mine["observation.images.front"].astype(float)).mean() < 1.0
