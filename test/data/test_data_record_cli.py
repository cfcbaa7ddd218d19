"""`vla-ros record`: the teleop node graph (scripted operator) and the expert path."""

from __future__ import annotations

import numpy as np

from vla_ros.cli import main
from vla_ros.data import DatasetReader
from vla_ros.runtime.bag import bag_summary


def test_record_through_the_teleop_launch_graph(tmp_path, capsys):
    root = tmp_path / "demos"
    code = main(["record", "--dataset", str(root), "--task", "pick_cube", "--episodes", "2",
                 "--operator", "scripted", "--episode-seconds", "1.5", "--keep-failures",
                 "--bag", str(tmp_path / "bag")])
    out = capsys.readouterr().out
    assert code == 0, out
    reader = DatasetReader(root)
    reader.validate()
    assert reader.num_episodes == 2 and reader.fps == 20
    assert reader.cameras == ["scene", "wrist"]
    assert reader.action_names[-1] == "panda_finger_joint1"  # arm + gripper controllers
    for i in range(2):
        ep = reader.episode(i)
        assert len(ep.states) == 31  # 1.5 s at 20 fps, both ends
        assert ep.task and ep.frames["scene"].shape == (31, 128, 128, 3)
        assert np.ptp(ep.actions[:, :7], axis=0).max() > 1e-3  # the operator moved the arm
    assert "saved episode 1" in out and out.count("0 ticks skipped") == 2
    topics = bag_summary(tmp_path / "bag")  # every topic of the graph, not only the recorded
    assert {"/joint_states", "/teleop/twist", "/arm_controller/joint_trajectory",
            "/camera/scene/image_raw"} <= set(topics)


def test_failed_graph_episodes_are_dropped_without_keep_failures(tmp_path, capsys):
    root = tmp_path / "demos"
    code = main(["record", "--dataset", str(root), "--task", "pick_cube", "--episodes", "1",
                 "--operator", "scripted", "--episode-seconds", "1.0"])
    assert code == 1  # the scripted wiggle never solves the task
    assert "discarded" in capsys.readouterr().out
    assert not (root / "meta" / "info.json").exists() or DatasetReader(root).num_episodes == 0


def test_record_with_the_expert_uses_the_sim_core(tmp_path):
    root = tmp_path / "demos"
    code = main(["record", "--dataset", str(root), "--task", "pick_cube", "--episodes", "1",
                 "--operator", "expert", "--workers", "0", "--quiet"])
    assert code == 0
    reader = DatasetReader(root)
    assert reader.num_episodes == 1 and reader.fps == 20
    assert "cube" in reader.episode(0).task


def test_record_refuses_bad_requests(tmp_path, capsys):
    assert main(["record", "--dataset", str(tmp_path / "d"), "--task", "fly",
                 "--operator", "expert"]) == 2
    assert "unknown task 'fly'" in capsys.readouterr().err
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("")
    assert main(["record", "--dataset", str(tmp_path / "d"), "--task", "pick_cube",
                 "--operator", "scripted"]) == 2
    assert "x.txt" in capsys.readouterr().err
