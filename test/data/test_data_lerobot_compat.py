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


def test_we_read_and_append_to_a_lerobot_recorded_dataset(tmp_path):
    LeRobotDataset = _lerobot_dataset_class()
    root = tmp_path / "lerobot_made"
    features = {
        "observation.state": {"dtype": "float32", "shape": (3,), "names": ["a", "b", "c"]},
        "action": {"dtype": "float32", "shape": (2,), "names": ["x", "y"]},
        "observation.images.front": {"dtype": "video", "shape": (48, 64, 3),
                                     "names": ["height", "width", "channels"]},
    }
    theirs = LeRobotDataset.create("local/made_by_lerobot", fps=10, features=features,
                                   root=root, robot_type="test_arm", use_videos=True)
    rng = np.random.default_rng(5)
    states = []
    for e, n in enumerate([6, 4]):
        for i in range(n):
            state = rng.normal(size=3).astype(np.float32)
            states.append(state)
            theirs.add_frame({"observation.state": state,
                              "action": rng.normal(size=2).astype(np.float32),
                              "observation.images.front": _image(i + 50 * e, 48, 64),
                              "task": f"lerobot task {e}"})
        theirs.save_episode()
    theirs.finalize()

    ours = DatasetReader(root)
    ours.validate()
    assert ours.num_episodes == 2 and ours.tasks == ["lerobot task 0", "lerobot task 1"]
    np.testing.assert_array_equal(np.concatenate([ours.episode(i).states for i in range(2)]),
                                  np.stack(states))
    frames = ours.episode(1).frames["front"]
    original = np.stack([_image(i + 50, 48, 64) for i in range(4)]).astype(float)
    assert frames.shape == (4, 48, 64, 3) and np.abs(frames - original).mean() < 6.0

    with DatasetWriter.append(root) as writer:
        for i in range(5):
            writer.add_frame(rng.normal(size=3), rng.normal(size=2),
                             {"front": _image(i, 48, 64)}, task="lerobot task 1")
        writer.save_episode()
    ours = DatasetReader(root)
    ours.validate()
    assert ours.num_episodes == 3 and len(ours.episode(2).frames["front"]) == 5
    again = LeRobotDataset("local/made_by_lerobot", root=root)
    assert again.num_episodes == 3 and again.num_frames == 15
    assert again[14]["task"] == "lerobot task 1"
