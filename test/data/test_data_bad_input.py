"""Bad input gets a clear error naming what is wrong, and never costs recorded data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_testkit import CAMERAS, frame_args, image, open_writer, record, tree_digest

from vla_ros.data import (
    CorruptDatasetError,
    DatasetLockedError,
    DatasetReader,
    DatasetWriter,
    EpisodeError,
    FrameError,
    IncompatibleDatasetError,
    NotADatasetError,
)


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / "ds"
    with open_writer(root) as writer:
        record(writer, [5, 4], ["a", "b"])
    return root


def test_folder_holding_something_else_is_refused_untouched(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    (root / "holiday.jpg").write_bytes(b"\xff\xd8 not a dataset")
    before = tree_digest(root)
    with pytest.raises(NotADatasetError, match=r"holiday\.jpg"):
        open_writer(root)
    assert tree_digest(root) == before and not (root / ".vla_ros").exists()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(NotADatasetError, match="is a file"):
        open_writer(a_file)
    with pytest.raises(NotADatasetError, match="no meta/info.json"):
        DatasetReader(root)


@pytest.mark.parametrize("change, match", [
    (dict(fps=30), "fps is 10"),
    (dict(state_names=["a", "b"]), "observation.state"),
    (dict(cameras={"front": (48, 64)}), "observation.images.wrist"),
    (dict(robot_type="other_arm"), "robot_type"),
    (dict(extras={}), "next.reward"),
])
def test_dataset_recorded_differently_is_refused_untouched(dataset, change, match):
    before = tree_digest(dataset)
    with pytest.raises(IncompatibleDatasetError, match=match):
        open_writer(dataset, **change)
    after = tree_digest(dataset)
    assert after == before
    assert DatasetReader(dataset).num_episodes == 2


def test_second_writer_is_refused_while_first_is_open(dataset):
    with open_writer(dataset), pytest.raises(DatasetLockedError, match="another writer"):
        open_writer(dataset, lock_timeout_s=0.1)


def test_corrupt_parquet_is_named(dataset):
    data = dataset / "data/chunk-000/file-000.parquet"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    reader = DatasetReader(dataset)
    with pytest.raises(CorruptDatasetError, match=r"data/chunk-000/file-000\.parquet"):
        reader.episode(0)
    report = reader.validate(raise_on_error=False)
    assert any("file-000.parquet" in p and "cannot read parquet" in p for p in report.problems)
    episodes = dataset / "meta/episodes/chunk-000/file-000.parquet"
    episodes.write_bytes(b"PAR1 garbage")
    with pytest.raises(CorruptDatasetError, match=r"meta/episodes/chunk-000/file-000\.parquet"):
        DatasetReader(dataset)


def test_missing_and_broken_files_are_named(dataset):
    video = dataset / "videos/observation.images.wrist/chunk-000/file-000.mp4"
    video.unlink()
    reader = DatasetReader(dataset)
    ep = reader.episode(1)
    assert ep.states.shape == (4, 3)  # numbers stay readable without the video
    with pytest.raises(CorruptDatasetError, match="observation.images.wrist.*missing"):
        ep.frames["wrist"]
    assert any("observation.images.wrist" in p for p in reader.validate(
        raise_on_error=False).problems)
    (dataset / "meta/info.json").write_text("{ not json")
    with pytest.raises(CorruptDatasetError, match=r"info\.json: not valid JSON"):
        DatasetReader(dataset)


def test_bad_frames_are_rejected_with_the_reason(tmp_path):
    rng = np.random.default_rng(0)
    with open_writer(tmp_path / "ds") as writer:
        def bad(match, drop=(), **change):
            args = frame_args(rng, 0, "task")
            args.update(change)
            for key in drop:
                del args[key]
            with pytest.raises(FrameError, match=match):
                writer.add_frame(**args)

        wrong = {**frame_args(rng, 0, "t")["images"], "front": image(0, 32, 32)}
        bad(r"camera 'front' image is \(32, 32, 3\) uint8, expected \(48, 64, 3\)", images=wrong)
        as_float = {**wrong, "front": image(0, 48, 64).astype(np.float32)}
        bad("camera 'front' image is .* float32", images=as_float)
        bad(r"missing \['wrist'\]", images={"front": image(0, 48, 64)})
        bad(r"unknown \['side'\]",
            images={**wrong, "front": image(0, 48, 64), "side": wrong["wrist"]})
        bad(r"observation.state has non-finite values \(elbow=nan\)", state=[0.0, np.nan, 1.0])
        bad("action has non-finite values", action=[np.inf, 0.0])
        bad(r"observation.state has shape \(4,\), expected \(3,\)", state=np.zeros(4))
        bad("task must be a non-empty string", task="  ")
        bad("next.done .* cannot be stored exactly as bool", **{"next.done": 2})
        bad(r"missing \['next.reward'\]", drop=["next.reward"])
        bad(r"unknown \['next.cost'\]", **{"next.cost": 1.0})
        assert writer.episode_frames == 0  # rejected frames were not recorded
        with pytest.raises(EpisodeError, match="no frames to save"):
            writer.save_episode()

        writer.add_frame(**frame_args(rng, 0, "task"), timestamp=5.0)
        with pytest.raises(FrameError, match=r"off this frame's slot 0.100000 s .* dropped"):
            writer.add_frame(**frame_args(rng, 1, "task"), timestamp=5.2)
        with pytest.raises(FrameError, match="for every frame of an episode or for none"):
            writer.add_frame(**frame_args(rng, 1, "task"))
        assert writer.discard_episode() == 1


def test_bad_constructor_arguments(tmp_path):
    with pytest.raises(ValueError, match="fps must be a positive integer"):
        DatasetWriter(tmp_path / "a", fps=29.97, state_names=2, action_names=2)
    with pytest.raises(ValueError, match="must be even"):
        DatasetWriter(tmp_path / "b", fps=10, state_names=2, action_names=2,
                      cameras={"front": (47, 64)})
    with pytest.raises(ValueError, match="names repeat"):
        DatasetWriter(tmp_path / "c", fps=10, state_names=["a", "a"], action_names=2)
    assert not (tmp_path / "a").exists()


def test_tampered_metadata_is_reported_by_validate(dataset):
    info_path = dataset / "meta/info.json"
    info = json.loads(info_path.read_text())
    info["total_frames"] += 1
    info["features"]["action"]["shape"] = [3]
    info_path.write_text(json.dumps(info))
    problems = DatasetReader(dataset).validate(raise_on_error=False).problems
    assert any("total_frames is 10" in p for p in problems)
    assert any("'action'" in p and "2 names for shape [3]" in p for p in problems)
    assert CAMERAS  # the cameras themselves were not touched
