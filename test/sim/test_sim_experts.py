"""Scripted experts: a few seeds of a few tasks per robot (the full table is a script:
`python -m vla_ros.sim.evaluate_experts --seeds 20`), and what an expert step outputs."""

import mujoco
import numpy as np
import pytest

from vla_ros.sim.env import SimEnv
from vla_ros.sim.evaluate_experts import evaluate, main
from vla_ros.sim.experts import Expert, ExpertError, ExpertNoise, top_down
from vla_ros.sim.rollout import ExecutionPerturbation, run_expert_episode
from vla_ros.sim.tasks import get_task

PANDA_TASKS = ("pick_cube", "push_cube_to_pad", "open_drawer")
SO101_TASKS = ("pick_cylinder", "cylinder_in_bin", "open_door")


@pytest.fixture(scope="module")
def panda():
    env = SimEnv("panda")
    yield env
    env.close()


@pytest.fixture(scope="module")
def so101():
    env = SimEnv("so101")
    yield env
    env.close()


@pytest.mark.parametrize("task", PANDA_TASKS)
def test_panda_expert_solves(panda, task):
    rollout = run_expert_episode(panda, task, 0)
    assert rollout.success, f"{task}: phases {sorted(set(rollout.phases))}"
    assert rollout.duration < get_task(task).time_limit


def test_so101_experts_solve_two_seeds():
    results = evaluate("so101", SO101_TASKS, seeds=2)
    assert [r.successes for r in results] == [2] * len(SO101_TASKS), results


def test_rollout_holds_joint_and_ee_actions(panda):
    r = run_expert_episode(panda, "pick_cube", 1)
    n = len(r.times)
    assert r.action_joints.shape == (n, len(r.action_joint_names))
    assert r.action_ee.shape == (n, 7) and r.ee_pose.shape == (n, 7)
    assert r.joint_positions.shape == (n, len(r.joint_names))
    assert np.all(np.diff(r.times) > 0) and r.control_dt == pytest.approx(0.05)
    for phase in ("approach", "descend", "close", "lift"):
        assert phase in r.phases
    # Gripper command in the EE action: open first, closed while lifting.
    assert r.action_ee[0, 6] == 0.0 and r.action_ee[r.phases.index("lift"), 6] == 1.0


def test_joint_targets_realise_the_ee_action(panda):
    """The IK's joint targets put the TCP where the EE-space action says (same step), to
    within the few mm the Panda's posture regularisation costs."""
    inst = panda.reset(seed=3, task="pick_cube")
    expert = Expert(panda, inst, np.random.default_rng(0), noise=ExpertNoise.none())
    scratch = SimEnv("panda")
    assert len(set(expert.act().joint_names)) == len(expert.act().joint_names)
    for k in range(40):
        action = expert.act()
        if k % 8:
            continue
        scratch.set_joint_positions(action.joint_names, action.joint_targets)
        T = scratch.ee_pose()
        assert np.linalg.norm(T[:3, 3] - action.ee_position) < 5e-3
        R = np.zeros(9)
        mujoco.mju_quat2Mat(R, action.ee_quaternion)
        assert np.allclose(T[:3, :3], R.reshape(3, 3), atol=1e-2)


def test_top_down_points_the_gripper_down():
    for yaw in (-1.0, 0.0, 2.0):
        R = top_down(yaw)
        assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
        assert np.allclose(R[:, 2], [0, 0, -1])
        assert np.allclose(R[:, 1], [np.sin(yaw), -np.cos(yaw), 0])


def test_expert_rejects_an_unknown_skill(panda):
    inst = panda.reset(seed=0, task="pick_cube")
    inst.skill = "juggle"
    with pytest.raises(ExpertError, match="no expert for skill 'juggle'"):
        Expert(panda, inst)


def test_table_script_rejects_unknown_tasks_before_simulating():
    with pytest.raises(Exception, match="unknown task 'nope'"):
        main(["--tasks", "nope", "--seeds", "1"])


def test_dart_perturbation_moves_the_robot_not_the_recorded_actions(panda):
    """DART: the robot is pushed off the path (states differ from the clean run) while the
    recorded EE actions stay the expert's; the grasp phases settle, so the task succeeds."""
    clean = run_expert_episode(panda, "pick_cube", 2)
    pushed = run_expert_episode(panda, "pick_cube", 2,
                                perturbation=ExecutionPerturbation(std=0.015))
    assert pushed.success
    n = min(len(clean.times), len(pushed.times))
    approach = [k for k in range(n) if clean.phases[k] == "approach"]
    # same expert plan (same seed): recorded actions equal while the executed path differs
    np.testing.assert_allclose(pushed.action_ee[approach], clean.action_ee[approach])
    gap = np.linalg.norm(pushed.ee_pose[approach, :3] - clean.ee_pose[approach, :3], axis=1)
    assert gap.max() > 0.01, gap.max()
    # in the settle phases the offset decays: at the end of "close" the TCP is on the action
    last_close = max(k for k in range(len(pushed.phases)) if pushed.phases[k] == "close")
    assert np.linalg.norm(pushed.ee_pose[last_close, :3] - pushed.action_ee[last_close, :3]) < 0.01


def _yaw(quats: np.ndarray) -> np.ndarray:
    """Rotation about the vertical of each (w, x, y, z) quaternion."""
    out = []
    for q in quats:
        m = np.zeros(9)
        mujoco.mju_quat2Mat(m, q)
        out.append(np.arctan2(m[3], m[0]))
    return np.array(out)


def test_dart_yaw_perturbation_turns_the_gripper_and_settles_before_the_grasp(panda):
    """Yaw DART: the executed gripper yaw wanders off the expert's (which is what the
    recorded actions keep) during the approach, and is back on it when the fingers close."""
    clean = run_expert_episode(panda, "pick_cube", 2)
    turned = run_expert_episode(panda, "pick_cube", 2,
                                perturbation=ExecutionPerturbation(std=0.0, yaw_std=0.3))
    assert turned.success
    n = min(len(clean.times), len(turned.times))
    approach = [k for k in range(n) if clean.phases[k] == "approach"]
    np.testing.assert_allclose(turned.action_ee[approach], clean.action_ee[approach])
    dyaw = _yaw(turned.ee_pose[approach, 3:]) - _yaw(clean.ee_pose[approach, 3:])
    dyaw = (dyaw + np.pi) % (2 * np.pi) - np.pi
    assert np.abs(dyaw).max() > np.radians(5), np.degrees(np.abs(dyaw).max())
    # position is not perturbed (std 0): only the turn moves the TCP, by little
    assert np.linalg.norm(turned.ee_pose[approach, :3] - clean.ee_pose[approach, :3],
                          axis=1).max() < 0.01
    last_close = max(k for k in range(len(turned.phases)) if turned.phases[k] == "close")
    closing = _yaw(turned.ee_pose[[last_close], 3:]) - _yaw(clean.ee_pose[[last_close], 3:])
    assert abs((closing[0] + np.pi) % (2 * np.pi) - np.pi) < np.radians(2)


def test_dart_perturbation_rejects_bad_settings():
    with pytest.raises(ValueError, match="std"):
        ExecutionPerturbation(std=-0.01)
    with pytest.raises(ValueError, match="tau"):
        ExecutionPerturbation(tau=0.0)
    with pytest.raises(ValueError, match="yaw_std"):
        ExecutionPerturbation(yaw_std=-0.1)


def _run_expert_until(env, inst, phase: str, rng_seed: int = 0) -> None:
    """Drive `env` with a fresh expert until it enters `phase` (a takeover prefix)."""
    expert = Expert(env, inst, np.random.default_rng(rng_seed))
    n_sub = max(1, int(round(expert.dt / env.timestep)))
    while env.time < inst.time_limit:
        action = expert.act()
        if action.phase == phase:
            return
        env.set_position_targets(action.joint_names, action.joint_targets)
        env.step(n_sub)
    raise AssertionError(f"the expert never reached phase '{phase}'")


def test_expert_taking_over_a_held_object_carries_it_on(panda):
    """DAgger-style takeover: a fresh expert that finds the target already in the hand
    must not open the gripper to grasp it again, and still completes the task; only its
    own part of the episode is recorded."""
    starts = []

    def prefix(spec, inst):
        _run_expert_until(panda, inst, "carry")
        starts.append(panda.time)

    r = run_expert_episode(panda, "place_cube_on_pad", 5, prefix=prefix)
    assert r.success, sorted(set(r.phases))
    assert r.times[0] == pytest.approx(starts[0])  # recording begins at the takeover
    before_release = [k for k, ph in enumerate(r.phases) if ph == "release"][0]
    assert np.all(r.action_ee[:before_release, 6] == 1.0)  # held all the way to the pad
    assert "approach" not in r.phases and "descend" not in r.phases


def test_expert_taking_over_an_empty_hand_grasps_first(panda):
    def prefix(spec, inst):
        _run_expert_until(panda, inst, "descend")

    r = run_expert_episode(panda, "place_cube_on_pad", 5, prefix=prefix)
    assert r.success
    assert r.phases[0] == "approach" and r.action_ee[0, 6] == 0.0
