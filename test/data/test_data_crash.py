"""A recorder killed with SIGKILL never costs a committed episode.

Each test runs a child process that records with DatasetWriter and is killed mid-episode
or at an exact step of a commit; the parent then reads and validates what is on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from data_testkit import open_writer, record

from vla_ros.data import CorruptDatasetError, DatasetReader, PartialEpisodeWarning

HERE = Path(__file__).parent

CHILD = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, {here!r})
    import numpy as np
    from data_testkit import frame_args, open_writer, record
    from vla_ros.data import atomic

    root, kill_at = sys.argv[1], sys.argv[2]
    writer = open_writer(root)
    record(writer, [6, 4], ["pick", "place"])
    if kill_at != "mid-episode":
        def die(step):
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        atomic.fault_hook = die
    rng = np.random.default_rng(7)
    for t in range(5):
        writer.add_frame(**frame_args(rng, t, "stack"))
    if kill_at == "mid-episode":
        print("READY", flush=True)
        while True:  # keep recording until the parent kills us
            writer.add_frame(**frame_args(rng, 0, "stack"))
            time.sleep(0.01)
    writer.save_episode()
    print("SAVED", flush=True)
""").format(here=str(HERE))


def run_child(root: Path, kill_at: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(root), kill_at],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if kill_at == "mid-episode":
            line = proc.stdout.readline()
            assert line.strip() == "READY", proc.stderr.read()
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()


@pytest.mark.parametrize("kill_at", ["mid-episode", "staged"])
def test_killed_before_commit_point_keeps_earlier_episodes(tmp_path, kill_at):
    root = tmp_path / "ds"
    run_child(root, kill_at)

    with pytest.warns(PartialEpisodeWarning, match="crashed recorder"):
        reader = DatasetReader(root)  # readable as is, before any recovery
    assert reader.num_episodes == 2
    assert [len(reader.episode(i).frames["front"]) for i in range(2)] == [6, 4]
    assert reader.tasks == ["pick", "place"]
    assert reader.validate().ok

    with pytest.warns(PartialEpisodeWarning, match="partly written episode"):
        writer = open_writer(root)
    quarantined = list((root / ".vla_ros/quarantine").iterdir())
    assert len(quarantined) == 1 and "episode-000002" in quarantined[0].name
    assert not any((root / ".vla_ros/staging").iterdir())
    with writer:
        record(writer, [3], ["stack"])
    reader = DatasetReader(root)
    assert reader.num_episodes == 3 and reader.episode(2).task == "stack"
    assert reader.validate().ok


@pytest.mark.parametrize("kill_at", ["manifest", "published-one"])
def test_killed_after_commit_point_is_finished_on_open(tmp_path, kill_at):
    root = tmp_path / "ds"
    run_child(root, kill_at)
    with pytest.raises(CorruptDatasetError, match="interrupted episode commit"):
        DatasetReader(root, recover=False)

    reader = DatasetReader(root)  # finishes the interrupted publish
    assert reader.num_episodes == 3
    assert len(reader.episode(2).frames["wrist"]) == 5
    assert reader.tasks == ["pick", "place", "stack"]
    assert reader.validate().ok
    assert not (root / ".vla_ros/quarantine").exists()


def test_writer_finishes_interrupted_commit_and_continues(tmp_path):
    root = tmp_path / "ds"
    run_child(root, "published-one")
    with open_writer(root) as writer:
        assert [r.action for r in writer.recovered] == ["completed"]
        assert writer.num_episodes == 3
        record(writer, [2], ["pick"])
    reader = DatasetReader(root)
    assert reader.num_episodes == 4 and reader.episode(3).task == "pick"
    assert reader.validate().ok


def test_exception_during_save_publishes_nothing(tmp_path, monkeypatch):
    from vla_ros.data import EpisodeError, atomic

    root = tmp_path / "ds"
    with open_writer(root) as writer:
        record(writer, [3], ["a"])

        def fail(step):
            if step == "staged":
                raise OSError("disk full")
        monkeypatch.setattr(atomic, "fault_hook", fail)
        with pytest.raises(EpisodeError, match="disk full"):
            record(writer, [4], ["b"])
        monkeypatch.setattr(atomic, "fault_hook", None)
        record(writer, [2], ["c"])
    reader = DatasetReader(root)
    assert [reader.episode(i).task for i in range(2)] == ["a", "c"]
    assert reader.tasks == ["a", "c"]
    assert len(list((root / ".vla_ros/quarantine").iterdir())) == 1
    assert reader.validate().ok
