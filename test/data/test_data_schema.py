"""The files on disk follow the LeRobotDataset v3 layout that LeRobot 0.4.x reads."""

from __future__ import annotations

import json

import av
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from data_testkit import CAMERAS, FPS, STATE_NAMES, open_writer, record

from vla_ros.data import DatasetReader, DatasetValidationError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema") / "ds"
    with open_writer(root) as writer:
        record(writer, [5, 3], ["pick", "place"])
    return root


def test_info_json(dataset):
    info = json.loads((dataset / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert (info["fps"], info["robot_type"]) == (FPS, "test_arm")
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (2, 8, 2)
    assert info["chunks_size"] == 1000 and info["splits"] == {"train": "0:2"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == ("videos/{video_key}/chunk-{chunk_index:03d}/"
                                  "file-{file_index:03d}.mp4")
    features = info["features"]
    assert features["observation.state"] == {"dtype": "float32", "shape": [3],
                                             "names": STATE_NAMES}
    assert features["action"]["shape"] == [2]
    assert features["next.done"] == {"dtype": "bool", "shape": [1], "names": None}
    for cam, (h, w) in CAMERAS.items():
        video = features[f"observation.images.{cam}"]
        assert video["dtype"] == "video" and video["shape"] == [h, w, 3]
        assert video["names"] == ["height", "width", "channels"]
        assert video["info"]["video.codec"] == "h264"
        assert video["info"]["video.pix_fmt"] == "yuv420p"
        assert (video["info"]["video.height"], video["info"]["video.width"]) == (h, w)
    # LeRobot's default columns come last, in its order
    assert list(features)[-5:] == ["timestamp", "frame_index", "episode_index", "index",
                                   "task_index"]


def test_data_parquet_columns(dataset):
    table = pq.read_table(dataset / "data/chunk-000/file-000.parquet")
    schema = table.schema
    assert schema.field("observation.state").type == pa.list_(pa.float32(), 3)
    assert schema.field("action").type == pa.list_(pa.float32(), 2)
    assert schema.field("observation.effort").type == pa.list_(pa.float32(), 2)
    assert schema.field("next.reward").type == pa.float32()
    assert schema.field("next.done").type == pa.bool_()
    assert schema.field("timestamp").type == pa.float32()
    for col in ("frame_index", "episode_index", "index", "task_index"):
        assert schema.field(col).type == pa.int64()
    assert not any(name.startswith("observation.images") for name in schema.names)
    assert table.column("index").to_pylist() == list(range(8))
    assert table.column("episode_index").to_pylist() == [0] * 5 + [1] * 3
    assert table.column("task_index").to_pylist() == [0] * 5 + [1] * 3


def test_tasks_and_episode_metadata(dataset):
    tasks = pq.read_table(dataset / "meta/tasks.parquet")
    assert tasks.column("task_index").to_pylist() == [0, 1]
    assert tasks.column("__index_level_0__").to_pylist() == ["pick", "place"]
    pandas_meta = json.loads(tasks.schema.metadata[b"pandas"])
    assert pandas_meta["index_columns"] == ["__index_level_0__"]  # pandas restores the index

    rows = pq.read_table(dataset / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [r["episode_index"] for r in rows] == [0, 1]
    second = rows[1]
    assert second["tasks"] == ["place"] and second["length"] == 3
    assert (second["dataset_from_index"], second["dataset_to_index"]) == (5, 8)
    assert (second["data/chunk_index"], second["data/file_index"]) == (0, 0)
    key = "videos/observation.images.front"
    assert (second[f"{key}/from_timestamp"], second[f"{key}/to_timestamp"]) == (0.5, 0.8)
    assert second["meta/episodes/file_index"] == 0
    assert second["stats/observation.state/mean"] is not None
    assert len(second["stats/observation.images.front/mean"]) == 3  # per channel, (3, 1, 1)


def test_videos_are_one_stream_per_camera_with_all_frames(dataset):
    for cam, (h, w) in CAMERAS.items():
        path = dataset / f"videos/observation.images.{cam}/chunk-000/file-000.mp4"
        with av.open(str(path)) as container:
            (stream,) = container.streams
            assert stream.type == "video" and stream.codec_context.name == "h264"
            assert (stream.codec_context.width, stream.codec_context.height) == (w, h)
            assert stream.codec_context.pix_fmt == "yuv420p"
            pts = sorted(float(p.pts * p.time_base) for p in container.demux(stream)
                         if p.pts is not None)
        assert pts == pytest.approx([i / FPS for i in range(8)], abs=1e-6)  # constant frame rate


def test_validate_names_the_broken_file(tmp_path):
    root = tmp_path / "ds"
    with open_writer(root) as writer:
        record(writer, [4, 4], ["a", "b"])
    reader = DatasetReader(root)
    assert reader.validate().ok
    # Replace the wrist video with one that lacks the second episode.
    wrist = root / "videos/observation.images.wrist/chunk-000/file-000.mp4"
    short = tmp_path / "short"
    with open_writer(short) as writer:
        record(writer, [4], ["a"])
    wrist.write_bytes((short / wrist.relative_to(root)).read_bytes())
    # A data file nobody references.
    stray = root / "data/chunk-000/file-007.parquet"
    stray.write_bytes((root / "data/chunk-000/file-000.parquet").read_bytes())
    with pytest.raises(DatasetValidationError) as err:
        reader.validate()
    problems = err.value.problems
    assert any("observation.images.wrist" in p and "episode 1 has 0 video frames" in p
               for p in problems)
    assert any("file-007.parquet" in p and "not referenced" in p for p in problems)
    assert str(root) in str(err.value)


def test_validate_catches_tampered_rows(tmp_path):
    root = tmp_path / "ds"
    with open_writer(root, cameras={}) as writer:
        record_no_cams(writer)
    path = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    ts = table.column("timestamp").to_pylist()
    ts[2], ts[3] = ts[3], ts[2]
    state = table.column("observation.state").to_pylist()
    state[1][0] = float("nan")
    table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp",
                             pa.array(ts, pa.float32()))
    table = table.set_column(table.schema.get_field_index("observation.state"),
                             "observation.state", pa.array(state, pa.list_(pa.float32(), 3)))
    pq.write_table(table, path)
    problems = DatasetReader(root).validate(raise_on_error=False).problems
    assert any("episode 0: timestamps not strictly increasing at frame 3" in p for p in problems)
    assert any("frame 2 has timestamp 0.300000 s, not 2/10 s" in p for p in problems)
    assert any("'observation.state' holds NaN" in p for p in problems)
    assert all(str(path) in p for p in problems)


def record_no_cams(writer):
    import numpy as np

    rng = np.random.default_rng(0)
    for t in range(6):
        writer.add_frame(rng.normal(size=3), rng.normal(size=2), task="t",
                         **{"next.reward": 0.0, "observation.effort": [0.0, 0.0],
                            "next.done": t == 5})
    writer.save_episode()
