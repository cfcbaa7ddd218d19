"""`vla-ros collect`: a tiny parallel collection gives a valid dataset; plans are seeded."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from vla_ros.assets import PACKAGE_ROOT
from vla_ros.data import DatasetReader, NotADatasetError
from vla_ros.data.collect import (
    FAILURE_ACTIVE_KEY,
    FAILURE_MODE_KEY,
    SUCCESS_KEY,
    CollectConfig,
    CollectError,
    collect,
    failure_codes,
    plan_jobs,
    resolve_tasks,
)
from vla_ros.sim.tasks import get_task, tasks_in_split

TASKS = ("pick_cube", "close_drawer")


def tiny(**kw) -> CollectConfig:
    args = dict(tasks=TASKS, episodes_per_task=2, image_size=(24, 32), cameras=("scene",),
                workers=2, seed=3)
    args.update(kw)
    return CollectConfig(**args)


def test_parallel_collect_writes_a_valid_dataset_the_trainer_can_read(tmp_path):
    root = tmp_path / "demos"
    summary = collect(root, tiny(failures=0.5, keep_failures=True), progress=False)
    reader = DatasetReader(root)
    reader.validate()
    assert reader.num_episodes == 4 == summary.written
    assert reader.fps == 20 and reader.cameras == ["scene"]
    assert reader.state_names[:7] == [f"panda_joint{i}" for i in range(1, 8)]
    # the action space is what the arm and gripper controllers take (what teleop records)
    controllers = yaml.safe_load((PACKAGE_ROOT / "config" / "controllers" /
                                  "panda_controllers.yaml").read_text())
    assert reader.action_names == (controllers["arm_controller"]["ros__parameters"]["joints"]
                                   + controllers["gripper_controller"]["ros__parameters"]["joints"])
    plan = plan_jobs(tiny(failures=0.5, keep_failures=True))
    codes = failure_codes()
    for i, job in enumerate(plan):
        ep = reader.episode(i)
        # the episode's task text is the planned task's instruction (every template of
        # these two tasks names its object)
        assert get_task(job.task).target_kind in ep.task
        assert ep.frames["scene"].shape == (len(ep.states), 24, 32, 3)
        assert np.all(ep.extras[FAILURE_MODE_KEY] == codes[job.failure or "none"])
        assert ep.extras[SUCCESS_KEY].all() or not ep.extras[SUCCESS_KEY].any()
        if job.failure is None:
            assert not ep.extras[FAILURE_ACTIVE_KEY].any()
    assert sum(j.failure is not None for j in plan) == 2  # round(0.5 * 2) per task
    assert (root / "meta" / "collect_summary.md").read_text().count("| pick_cube |") == 1
    assert summary.tasks["pick_cube"].episodes == 2


def test_result_does_not_depend_on_the_number_of_workers(tmp_path):
    cfg = tiny(tasks=("pick_cube",), episodes_per_task=2)
    collect(tmp_path / "a", cfg, progress=False)
    collect(tmp_path / "b", tiny(tasks=("pick_cube",), episodes_per_task=2, workers=0),
            progress=False)
    a, b = DatasetReader(tmp_path / "a"), DatasetReader(tmp_path / "b")
    assert a.num_episodes == b.num_episodes == 2
    for i in range(2):
        ea, eb = a.episode(i), b.episode(i)
        assert ea.task == eb.task
        np.testing.assert_array_equal(ea.states, eb.states)
        np.testing.assert_array_equal(ea.actions, eb.actions)


def test_plans_are_seeded_and_stable_when_tasks_are_added():
    one = plan_jobs(tiny(tasks=("pick_cube",), episodes_per_task=4, failures=0.5))
    two = plan_jobs(tiny(tasks=("open_drawer", "pick_cube"), episodes_per_task=4,
                         failures=0.5))
    assert [(j.seed, j.failure) for j in one] == [(j.seed, j.failure) for j in two[4:]]
    assert len({j.seed for j in two}) == 8
    other = plan_jobs(tiny(tasks=("pick_cube",), episodes_per_task=4, seed=4))
    assert [j.seed for j in one] != [j.seed for j in other]


def test_task_selection_and_bad_requests():
    assert resolve_tasks("seen") == tuple(tasks_in_split("seen"))
    assert set(resolve_tasks("all")) == set(tasks_in_split("seen") + tasks_in_split("unseen"))
    assert resolve_tasks("pick_cube, open_drawer,pick_cube") == ("pick_cube", "open_drawer")
    with pytest.raises(CollectError, match="unknown task 'fly'"):
        resolve_tasks("pick_cube,fly")
    with pytest.raises(CollectError, match="fraction"):
        tiny(failures=1.5)
    with pytest.raises(CollectError, match="control_hz"):
        tiny(control_hz=12.5)


def test_refuses_a_foreign_folder_before_simulating(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("")
    with pytest.raises(NotADatasetError, match="a.txt"):
        collect(tmp_path / "x", tiny(), progress=False)
    with pytest.raises(CollectError, match="unknown camera"):
        collect(tmp_path / "y", tiny(cameras=("nope",), tasks=("pick_cube",),
                                     episodes_per_task=1, workers=1), progress=False)
