"""EpisodeRecorder: grid sampling, stale streams, discards, and what reaches the dataset."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.data import DatasetReader, DatasetWriter, NotADatasetError
from vla_ros.data.recorder import (
    STATE,
    EpisodeRecorder,
    RecorderConfig,
    RecorderError,
    check_dataset_folder,
    image_stream,
)

FPS = 10


class FakeSink:
    def __init__(self) -> None:
        self.frames: list[tuple] = []
        self.episodes: list[list[tuple]] = []
        self.discarded = 0

    def add_frame(self, state, action, images=None, task="", timestamp=None, **extra):
        self.frames.append((np.asarray(state).copy(), np.asarray(action).copy(), images, task))

    def save_episode(self) -> int:
        self.episodes.append(self.frames)
        self.frames = []
        return len(self.episodes) - 1

    def discard_episode(self) -> int:
        n, self.frames = len(self.frames), []
        self.discarded += 1
        return n


def play(rec: EpisodeRecorder, t0: float, t1: float, sources: dict) -> None:
    """Deliver samples in time order from t0 to t1, advancing the recorder as time passes.

    sources: stream -> (rate, value_of(t)[, (hole_from, hole_to)]).
    """
    events = []
    for stream, (rate, value_of, *hole) in sources.items():
        k0 = int(np.ceil(t0 * rate - 1e-9))
        for k in range(k0, int(np.ceil(t1 * rate - 1e-9))):
            t = k / rate
            if hole and hole[0][0] < t < hole[0][1]:
                continue
            events.append((t, stream, value_of))
    for t, stream, value_of in sorted(events, key=lambda e: e[0]):
        rec.advance(t)
        rec.push(stream, t, value_of(t))
    rec.advance(t1)


def test_samples_latest_before_each_tick_not_every_message():
    sink = FakeSink()
    rec = EpisodeRecorder(sink, RecorderConfig(fps=FPS, latency_s=0.0))
    # State at 50 Hz (value = its stamp), actions at 7 Hz: neither matches the grid.
    sources = {STATE: (50, lambda t: [t, -t]), "action": (7, lambda t: [t])}
    play(rec, 0.0, 0.5, sources)
    rec.start("reach", now=0.5)
    play(rec, 0.5, 1.55, sources)
    result = rec.stop(1.5)
    assert result.saved and result.frames == 11  # ticks 0.5, 0.6, ..., 1.5
    states = np.array([f[0][0] for f in sink.episodes[0]])
    actions = np.array([f[1][0] for f in sink.episodes[0]])
    ticks = 0.5 + np.arange(11) / FPS
    assert np.all(states <= ticks + 1e-9) and np.all(ticks - states < 1 / 50 + 1e-9)
    assert np.all(actions <= ticks + 1e-9) and np.all(ticks - actions < 1 / 7 + 1e-9)
    assert {f[3] for f in sink.episodes[0]} == {"reach"}


def test_a_late_message_still_counts_within_latency():
    sink = FakeSink()
    rec = EpisodeRecorder(sink, RecorderConfig(fps=FPS, latency_s=0.1))
    rec.push(STATE, 0.0, [0.0])
    rec.push("action", 0.0, [0.0])
    rec.start("t", now=0.0)
    rec.advance(0.15)  # resolves tick 0.0 only (0.1 still waits for its latency)
    rec.push(STATE, 0.1, [1.0])  # arrives 0.05 s after its stamp
    rec.push("action", 0.1, [1.0])
    rec.advance(0.2)
    assert [f[0][0] for f in sink.frames] == [0.0, 1.0]


def test_a_stale_stream_skips_ticks_and_too_many_discard_the_episode():
    sink = FakeSink()
    cfg = RecorderConfig(fps=FPS, cameras=("front",), latency_s=0.0, max_skip_fraction=0.2)
    rec = EpisodeRecorder(sink, cfg)
    img = np.zeros((4, 4, 3), np.uint8)
    sources = {STATE: (30, lambda t: [t]), "action": (30, lambda t: [t]),
               image_stream("front"): (30, lambda t: img, (1.0, 9.0))}  # stops at 1 s
    play(rec, -0.2, 1e-6, sources)
    rec.start("t", now=0.0)
    play(rec, 1e-6, 2.0, sources)
    result = rec.stop(2.0)
    assert not result.saved and sink.discarded == 1 and sink.episodes == []
    assert result.skipped[image_stream("front")] == result.skipped_ticks > 0
    assert result.skipped.get(STATE, 0) == 0
    assert "front" in result.reason and "skipped" in result.reason


def test_a_few_skips_are_counted_and_the_episode_is_saved():
    sink = FakeSink()
    rec = EpisodeRecorder(sink, RecorderConfig(fps=FPS, latency_s=0.0, max_age_s=0.05,
                                               max_skip_fraction=0.2))
    sources = {STATE: (20, lambda t: [t]),
               "action": (20, lambda t: [t], (0.68, 0.92))}  # a 0.25 s hole
    play(rec, -0.2, 1e-6, sources)
    rec.start("t", now=0.0)
    play(rec, 1e-6, 1.9, sources)
    result = rec.stop(1.9)
    assert result.saved
    assert result.skipped_ticks == result.skipped["action"] == 2  # ticks 0.8 and 0.9
    assert result.frames == 20 - 2 == len(sink.episodes[0])


def test_a_long_gap_discards_at_once():
    sink = FakeSink()
    rec = EpisodeRecorder(sink, RecorderConfig(fps=FPS, latency_s=0.0, max_gap_s=0.5))
    rec.start("t", now=0.0)
    play(rec, 0.0, 0.5, {STATE: (20, lambda t: [t]), "action": (20, lambda t: [t])})
    result = rec.advance(3.0)
    assert result is not None and not result.saved and not rec.recording
    assert "no complete frame" in result.reason and "state" in result.reason


def test_order_errors_are_clear():
    rec = EpisodeRecorder(FakeSink(), RecorderConfig(fps=FPS))
    with pytest.raises(RecorderError, match="no task"):
        rec.start("  ", now=0.0)
    with pytest.raises(RecorderError, match="no episode"):
        rec.stop(1.0)
    with pytest.raises(RecorderError, match="unknown stream 'camera'"):
        rec.push("camera", 0.0, [1.0])
    rec.start("t", now=0.0)
    with pytest.raises(RecorderError, match="already being recorded"):
        rec.start("t", now=0.1)
    assert not rec.stop(0.5).saved  # no samples at all: nothing to save
    with pytest.raises(ValueError, match="fps"):
        RecorderConfig(fps=0)


def test_writes_a_valid_dataset_whose_frames_are_on_the_grid(tmp_path):
    root = tmp_path / "ds"
    cfg = RecorderConfig(fps=FPS, cameras=("front",), latency_s=0.0)
    with DatasetWriter(root, fps=FPS, state_names=2, action_names=1,
                       cameras={"front": (16, 16)}) as writer:
        rec = EpisodeRecorder(writer, cfg)
        sources = {STATE: (50, lambda t: [t, 1.0]), "action": (25, lambda t: [2 * t]),
                   image_stream("front"): (15, lambda t: np.full((16, 16, 3), int(abs(t) * 50),
                                                                 np.uint8))}
        play(rec, -0.5, 0.0 + 1e-6, sources)
        for start, stop, then in ((1e-6, 1.0, 2.0), (2.0, 3.5, 3.5)):
            rec.start(f"task {start}", now=start)
            play(rec, start, stop + 1e-6, sources)
            assert rec.stop(stop).saved
            play(rec, stop + 1e-6, then, sources)
    reader = DatasetReader(root)
    reader.validate()
    assert reader.num_episodes == 2
    lengths = [len(reader.episode(i).states) for i in range(2)]
    assert lengths == [11, 16]
    ep = reader.episode(1)
    assert ep.task == "task 2.0"
    np.testing.assert_allclose(ep.timestamps, np.arange(16) / FPS, atol=1e-6)
    assert np.all(np.abs(ep.states[:, 0] - (2.0 + np.arange(16) / FPS)) <= 1 / 50 + 1e-6)


def test_check_dataset_folder(tmp_path):
    assert check_dataset_folder(tmp_path / "new") is False
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(NotADatasetError, match="notes.txt"):
        check_dataset_folder(tmp_path / "other")
