"""Run a scripted expert through one episode and record what a dataset needs.

Per control step t the rollout stores the observation *before* acting (joint state, TCP
pose, optional camera frames) and the action taken (joint targets and the EE-space
action), plus the expert's phase and whether the task predicate already holds. The
episode ends at the task's time limit, or shortly after the expert finishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_ros.sim.experts import Expert, ExpertNoise
from vla_ros.sim.failures import FailureInjector, check_mode
from vla_ros.sim.scene import mujoco
from vla_ros.sim.tasks import TaskSpec, check_supported, get_task


@dataclass
class Rollout:
    """One recorded episode; arrays have one row per control step."""

    task: str
    split: str
    robot: str
    seed: int
    instruction: str
    success: bool
    failure_mode: str | None  # injected mode (None for clean expert rollouts)
    failure_onset: float | None  # sim time the injected failure took effect
    control_dt: float
    joint_names: list[str]
    action_joint_names: list[str]
    times: np.ndarray
    joint_positions: np.ndarray
    joint_velocities: np.ndarray
    ee_pose: np.ndarray  # (T, 7): position, quaternion w x y z
    action_joints: np.ndarray  # (T, len(action_joint_names)) joint targets
    action_ee: np.ndarray  # (T, 7): position, rotation vector, gripper
    phases: list[str]
    task_done: np.ndarray  # (T,) success predicate at each step
    images: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> (T, H, W, 3)

    @property
    def label(self) -> str:
        return "success" if self.success else "failure"

    @property
    def duration(self) -> float:
        return float(len(self.times) * self.control_dt)


def run_expert_episode(
    env,
    task: str | TaskSpec,
    seed: int,
    *,
    control_hz: float = 20.0,
    failure: str | None = None,
    cameras: tuple[str, ...] = (),
    image_size: tuple[int, int] = (128, 128),
    noise: ExpertNoise | None = None,
    settle_s: float = 0.6,
) -> Rollout:
    """Reset `env` to (task, seed), run the expert (optionally with a failure mode)."""
    check_mode(failure)
    spec = get_task(task) if isinstance(task, str) else task
    check_supported(env.robot.name, spec.name)
    inst = env.reset(seed=seed, task=spec)
    rng = np.random.default_rng([seed, 1])
    dt = 1.0 / control_hz
    n_sub = max(1, int(round(dt / env.timestep)))
    dt = n_sub * env.timestep
    expert = Expert(env, inst, rng, control_dt=dt, noise=noise)
    injector = None
    if failure is not None:
        injector = FailureInjector(failure, np.random.default_rng([seed, 2]))
        injector.setup(env, expert)
    width, height = image_size
    rec: dict[str, list] = {k: [] for k in (
        "t", "q", "qd", "ee", "aj", "ae", "phase", "done")}  # fmt: skip
    frames: dict[str, list] = {c: [] for c in cameras}
    done_since: float | None = None
    while env.time < inst.time_limit - 1e-9:
        for cam in cameras:
            img = env.render(cam, width, height)
            frames[cam].append(injector.corrupt_image(img) if injector else img)
        T = env.ee_pose()
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, T[:3, :3].flatten())
        rec["t"].append(env.time)
        rec["q"].append(env.joint_positions())
        rec["qd"].append(env.joint_velocities())
        rec["ee"].append(np.r_[T[:3, 3], quat])
        rec["done"].append(spec.success(env, inst))
        action = expert.act()
        if injector is not None:
            action = injector.before_step(env, expert, action, dt)
        rec["aj"].append(action.joint_targets.copy())
        rec["ae"].append(action.ee_vector())
        rec["phase"].append(action.phase)
        env.set_position_targets(action.joint_names, action.joint_targets)
        env.step(n_sub)
        if expert.done:
            done_since = env.time if done_since is None else done_since
            if env.time - done_since >= settle_s:
                break
    return Rollout(
        task=spec.name,
        split=spec.split,
        robot=env.robot.name,
        seed=seed,
        instruction=inst.instruction,
        success=spec.success(env, inst),
        failure_mode=failure,
        failure_onset=injector.onset if injector else None,
        control_dt=dt,
        joint_names=list(env.joint_names),
        action_joint_names=list(action.joint_names),
        times=np.array(rec["t"]),
        joint_positions=np.array(rec["q"]),
        joint_velocities=np.array(rec["qd"]),
        ee_pose=np.array(rec["ee"]),
        action_joints=np.array(rec["aj"]),
        action_ee=np.array(rec["ae"]),
        phases=rec["phase"],
        task_done=np.array(rec["done"], dtype=bool),
        images={c: np.stack(f) for c, f in frames.items() if f},
    )
