"""Closed-loop evaluation harness: a policy replaying the expert's recorded end-effector
actions (canonicalised as in the training set) solves the task through the same
retargeting as retarget_node; results land in the failure detector's rollout format."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from vla_ros.policy.evaluate import (
    ClosedLoop,
    EvalConfig,
    TaskSummary,
    action_space_for,
    markdown_table,
    write_videos,
)
from vla_ros.policy.interface import ActionChunk, Observation, Policy, PolicyMetadata

ROOT = Path(__file__).resolve().parents[2]
EE = ["x", "y", "z", "rx", "ry", "rz", "gripper"]


def dataset_script():
    spec = importlib.util.spec_from_file_location("make_policy_dataset",
                                                  ROOT / "scripts" / "make_policy_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ReplayPolicy(Policy):
    """Returns the recorded actions from the observation's time on, as chunks."""

    def __init__(self, actions: np.ndarray, dt: float, joints: list[str], horizon: int = 8):
        self.actions, self.dt, self.horizon = actions, dt, horizon
        self._meta = PolicyMetadata(tuple(EE), tuple(joints), ("scene",), (32, 32), horizon,
                                    dt, feature_dim=3)
        self.t0 = None

    @property
    def metadata(self) -> PolicyMetadata:
        return self._meta

    def reset(self) -> None:
        self.t0 = None

    def infer(self, obs: Observation) -> ActionChunk:
        self.validate(obs)
        self.t0 = obs.stamp if self.t0 is None else self.t0
        k = int(round((obs.stamp - self.t0) / self.dt))
        idx = np.minimum(np.arange(k, k + self.horizon), len(self.actions) - 1)
        return ActionChunk(self.actions[idx], EE, self.dt, features=np.ones(3) * k,
                           stamp=obs.stamp)


def test_canonical_rotvec_is_the_same_rotation_near_the_reference():
    mod = dataset_script()
    rv = np.array([[-3.1, 0.1, 0.0], [3.0, -0.2, 0.0], [0.0, 0.0, 0.5]])
    out = mod.canonical_rotvec(rv)
    assert out[0, 0] > 0 and np.allclose(out[2], rv[2]) and np.allclose(out[1], rv[1])
    # the flipped vector is the same rotation: same axis line, angles summing to 2 pi
    a0, a1 = np.linalg.norm(rv[0]), np.linalg.norm(out[0])
    assert a0 + a1 == pytest.approx(2 * np.pi)
    np.testing.assert_allclose(out[0] / a1, -rv[0] / a0)


def test_expert_actions_replayed_through_the_harness_solve_the_task(tmp_path):
    from vla_ros.sim.env import SimEnv
    from vla_ros.sim.rollout import run_expert_episode

    mod = dataset_script()
    env = SimEnv("panda")
    roll = run_expert_episode(env, "pick_cube", 7)
    env.close()
    assert roll.success
    policy = ReplayPolicy(mod.ee_actions(roll.action_ee), roll.control_dt,
                          list(roll.joint_names))
    loop = ClosedLoop(policy, EvalConfig(execute_steps=8, render_size=(32, 32)))
    try:
        result = loop.episode("pick_cube", 7, video=True)
    finally:
        loop.close()
    assert result.success
    assert result.inferences >= 2 and result.features.shape == (result.inferences, 3)
    assert result.chunks.shape == (result.inferences, 8, 7)
    summary = TaskSummary("pick_cube", "seen", [result])
    table = markdown_table([summary])
    assert "| pick_cube | seen | 1 | 1 | 100% |" in table
    # the rollout video: a frame per control step (+ the first), decodable, named by outcome
    steps = int(round(result.duration / roll.control_dt))
    assert len(result.frames) == steps + 1 and result.frames[0].shape == (32, 32, 3)
    (video,) = write_videos([summary], tmp_path / "videos", fps=20)
    assert video.name == "pick_cube_7_success.mp4"
    import av

    with av.open(str(video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == len(result.frames)
    assert np.abs(decoded[-1].astype(int) - result.frames[-1]).mean() < 12


def test_action_names_must_match_a_declared_action_space():
    from vla_ros.policy.errors import PolicyConfigError
    from vla_ros.retarget.robot_model import RobotModel

    model = RobotModel.load("panda")
    assert list(action_space_for(model, EE).names) == EE
    with pytest.raises(PolicyConfigError, match="match none of panda's action spaces"):
        action_space_for(model, ["a", "b"])


def test_eval_command_resolves_task_sets():
    from vla_ros.commands.eval import resolve_tasks
    from vla_ros.sim.tasks import tasks_in_split

    assert resolve_tasks("unseen") == tasks_in_split("unseen")
    assert resolve_tasks("pick_cube, open_door") == ["pick_cube", "open_door"]
    with pytest.raises(KeyError):
        resolve_tasks("fly_away")
