"""Episode traces of the target: closest approach, how far the target got, goal distance,
and the phase a failure ended in (eval.md's failure table)."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.policy.evaluate import TaskSummary, markdown_table
from vla_ros.sim.target_trace import (
    MOVED,
    PHASES,
    REACH_M,
    TargetTrace,
    TargetTracker,
    phase_counts,
)


def test_phase_separates_not_reached_from_not_moved_from_missed():
    far = TargetTrace(REACH_M + 0.01, 0.3, 0.2)  # moved (by something else) but never reached
    idle = TargetTrace(REACH_M - 0.01, MOVED / 2, 0.2)
    missed = TargetTrace(0.0, MOVED * 3, 0.05)
    assert [t.phase() for t in (far, idle, missed)] == list(PHASES)
    assert phase_counts([far, missed, missed]) == {PHASES[0]: 1, PHASES[1]: 0, PHASES[2]: 2}
    assert missed.to_json() == {"closest_approach_m": 0.0, "target_travel": 0.06,
                                "goal_distance_m": 0.05}
    assert TargetTrace(0.1, 0.0, None).to_json()["goal_distance_m"] is None


def test_tracker_measures_approach_travel_and_goal_in_the_simulator(panda_env):
    env = panda_env
    from vla_ros.sim.tasks import get_task

    inst = env.reset(seed=3, task=get_task("place_cube_on_pad"))
    tracker = TargetTracker(env, inst.target, inst.goal)
    cube = env.object_pose(inst.target)[0]
    tcp = env.ee_pose()[:2, 3]
    assert tracker.trace().closest_approach == pytest.approx(np.linalg.norm(tcp - cube[:2]))
    assert tracker.trace().target_travel == pytest.approx(0.0, abs=1e-6)
    # carry the cube 6 cm up and back down: the most it got from its start counts
    env.set_object_pose(inst.target, cube + [0, 0, 0.06])
    tracker.update()
    env.set_object_pose(inst.target, cube)
    tracker.update()
    trace = tracker.trace()
    assert trace.target_travel == pytest.approx(0.06, abs=1e-6)
    pad = env.object_pose(inst.goal)[0]
    assert trace.goal_distance == pytest.approx(np.linalg.norm(cube[:2] - pad[:2]))


def test_a_fixture_is_reached_at_its_knob_and_moved_along_its_joint(panda_env):
    env = panda_env
    from vla_ros.sim.tasks import get_task

    inst = env.reset(seed=4, task=get_task("open_drawer"))
    tracker = TargetTracker(env, inst.target)
    assert tracker.handle == "drawer_knob" and tracker.joint == "drawer_slide"
    knob = env.geom_position("drawer_knob")[:2]
    assert tracker.trace().closest_approach == pytest.approx(
        np.linalg.norm(env.ee_pose()[:2, 3] - knob))
    start = env.joint_value("drawer_slide")
    env.set_joint_value("drawer_slide", start + 0.05)
    tracker.update()
    assert tracker.trace().target_travel == pytest.approx(0.05, abs=1e-6)
    assert tracker.trace().goal_distance is None


def test_eval_table_counts_traced_failures_by_phase():
    from vla_ros.policy.evaluate import EpisodeResult

    def episode(success, trace):
        return EpisodeResult("push_cube_to_pad", "seen", 0, "push", success, 5.0, 0.1,
                             np.zeros(1), np.zeros((1, 2)), np.zeros((1, 2, 3)),
                             np.zeros(1, bool), target=trace)

    summary = TaskSummary("push_cube_to_pad", "seen", [
        episode(True, TargetTrace(0.0, 0.1, 0.0)),
        episode(False, TargetTrace(0.2, 0.0, 0.3)),
        episode(False, TargetTrace(0.01, 0.0, 0.3)),
        episode(False, TargetTrace(0.01, 0.1, 0.1)),
        episode(False, None)])  # untraced (e.g. another runner): not counted
    table = markdown_table([summary])
    assert "| push_cube_to_pad | 3 | 1 | 1 | 1 |" in table
    assert "Failures by phase" not in markdown_table(
        [TaskSummary("push_cube_to_pad", "seen", [episode(True, None)])])
