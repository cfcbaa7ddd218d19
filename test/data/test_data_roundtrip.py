"""Write -> read back: numbers exactly, video frames closely, metadata consistently."""

from __future__ import annotations

import numpy as np
from data_testkit import CAMERAS, FPS, image, open_writer, record
from hypothesis import given, settings
from hypothesis import strategies as st

from vla_ros.data import DatasetReader


def test_roundtrip_states_actions_frames_and_extras(tmp_path):
    root = tmp_path / "ds"
    with open_writer(root) as writer:
        given = record(writer, [12, 7, 10], ["pick the cube", "open the drawer", "pick the cube"])
        assert writer.num_episodes == 3 and writer.total_frames == 29
    reader = DatasetReader(root)
    assert reader.num_episodes == 3
    assert reader.num_frames == len(reader) == 29
    assert reader.tasks == ["pick the cube", "open the drawer"]
    assert reader.cameras == list(CAMERAS)
    assert reader.robot_type == "test_arm"
    for index, frames in enumerate(given):
        ep = reader.episode(index)
        n = len(frames)
        assert len(ep) == n and ep.task == frames[0]["task"]
        np.testing.assert_array_equal(ep.states, np.stack([f["state"] for f in frames])
                                      .astype(np.float32))
        np.testing.assert_array_equal(ep.actions, np.stack([f["action"] for f in frames])
                                      .astype(np.float32))
        np.testing.assert_allclose(ep.timestamps, np.arange(n) / FPS, atol=1e-6)
        np.testing.assert_array_equal(ep.extras["next.done"], [f["next.done"] for f in frames])
        np.testing.assert_allclose(ep.extras["observation.effort"],
                                   np.stack([f["observation.effort"] for f in frames]), rtol=1e-6)
        for cam, (h, w) in CAMERAS.items():
            decoded = ep.frames[cam]
            assert decoded.shape == (n, h, w, 3) and decoded.dtype == np.uint8
            original = np.stack([image(t, h, w) for t in range(n)]).astype(np.int16)
            err = np.abs(decoded.astype(np.int16) - original)
            assert err.mean() < 3.0, f"{cam}: mean abs error {err.mean():.2f} grey levels"
    assert reader.validate().ok


def test_iteration_and_random_access_agree(tmp_path):
    root = tmp_path / "ds"
    with open_writer(root) as writer:
        record(writer, [6, 9], ["a", "b"])
    reader = DatasetReader(root)
    items = list(reader)
    assert [it["index"] for it in items] == list(range(15))
    assert [it["episode_index"] for it in items] == [0] * 6 + [1] * 9
    assert [it["frame_index"] for it in items][5:8] == [5, 0, 1]
    assert {it["task"] for it in items} == {"a", "b"}
    for index in (0, 5, 6, 14):
        single = reader.frame(index)
        for key in ("observation.state", "action", "observation.images.front",
                    "observation.images.wrist", "next.reward"):
            np.testing.assert_array_equal(single[key], items[index][key])
    only_data = next(reader.iter_frames(episodes=[1], images=False))
    assert only_data["episode_index"] == 1 and "observation.images.front" not in only_data


def test_clock_timestamps_on_the_frame_grid_are_kept_relative(tmp_path):
    root = tmp_path / "ds"
    rng = np.random.default_rng(1)
    clock0 = 1_700_000_000.25  # a ROS wall-clock time
    jitter = rng.uniform(-5e-5, 5e-5, size=8)
    with open_writer(root, cameras={}, extras={}) as writer:
        for i in range(8):
            writer.add_frame(rng.normal(size=3), rng.normal(size=2), task="t",
                             timestamp=clock0 + i / FPS + (jitter[i] if i else 0.0))
        writer.save_episode()
    ts = DatasetReader(root).episode(0).timestamps
    assert ts[0] == 0.0
    np.testing.assert_allclose(ts, np.arange(8) / FPS, atol=2e-4)
    assert np.all(np.diff(ts) > 0)


def test_size_limits_roll_over_files_and_chunks(tmp_path):
    root = tmp_path / "ds"
    with open_writer(root, chunks_size=2, data_files_size_in_mb=1e-6,
                     video_files_size_in_mb=1e-6) as writer:
        record(writer, [4, 5, 3], ["a", "b", "c"])
    reader = DatasetReader(root)
    refs = [(reader.episode_meta(i)["data/chunk_index"], reader.episode_meta(i)["data/file_index"])
            for i in range(3)]
    assert refs == [(0, 0), (0, 1), (1, 0)]
    assert (root / "videos/observation.images.front/chunk-001/file-000.mp4").is_file()
    assert reader.episode_meta(2)["videos/observation.images.front/from_timestamp"] == 0.0
    assert [len(reader.episode(i).frames["wrist"]) for i in range(3)] == [4, 5, 3]
    assert reader.validate().ok


def test_packed_files_hold_episodes_back_to_back(tmp_path):
    root = tmp_path / "ds"
    with open_writer(root) as writer:
        record(writer, [4, 6, 5], ["a", "a", "a"])
    reader = DatasetReader(root)
    key = "videos/observation.images.front"
    metas = [reader.episode_meta(i) for i in range(3)]
    assert {(m["data/file_index"], m[f"{key}/file_index"]) for m in metas} == {(0, 0)}
    assert [m[f"{key}/from_timestamp"] for m in metas] == [0.0, 0.4, 1.0]
    assert [m[f"{key}/to_timestamp"] for m in metas] == [0.4, 1.0, 1.5]
    assert sorted(p.name for p in (root / "data/chunk-000").iterdir()) == ["file-000.parquet"]


def test_task_may_change_within_an_episode(tmp_path):
    root = tmp_path / "ds"
    rng = np.random.default_rng(2)
    with open_writer(root, cameras={}, extras={}) as writer:
        for i, task in enumerate(["reach", "reach", "grasp", "lift", "grasp"]):
            writer.add_frame(rng.normal(size=3), rng.normal(size=2), task=task)
            assert writer.episode_frames == i + 1
        writer.save_episode()
    reader = DatasetReader(root)
    ep = reader.episode(0)
    assert ep.tasks == ["reach", "grasp", "lift"] and ep.task == "reach"
    assert [reader.tasks[i] for i in ep.task_indices] == ["reach", "reach", "grasp", "lift",
                                                          "grasp"]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 8), st.sampled_from(["a", "b", "c"])),
                min_size=1, max_size=5),
       st.integers(1, 3))
def test_any_sequence_of_episodes_and_sessions_reads_back(tmp_path_factory, episodes, sessions):
    root = tmp_path_factory.mktemp("prop") / "ds"
    rng = np.random.default_rng(len(episodes))
    expected_states = []
    for s in range(sessions):
        with open_writer(root, cameras={"cam": (16, 16)}, extras={}) as writer:
            for n, task in episodes[s::sessions]:
                for t in range(n):
                    state = rng.normal(size=3)
                    expected_states.append(state)
                    writer.add_frame(state, rng.normal(size=2), {"cam": image(t, 16, 16)},
                                     task=task)
                writer.save_episode()
    reader = DatasetReader(root)
    order = [ep for s in range(sessions) for ep in episodes[s::sessions]]
    assert reader.num_episodes == len(order)
    assert [len(reader.episode(i)) for i in range(len(order))] == [n for n, _ in order]
    assert [reader.episode(i).task for i in range(len(order))] == [t for _, t in order]
    states = np.concatenate([reader.episode(i).states for i in range(len(order))])
    np.testing.assert_array_equal(states, np.stack(expected_states).astype(np.float32))
    assert reader.validate().ok
