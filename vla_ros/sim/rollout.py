"""Run a scripted expert through one episode and record what a dataset needs.

Per control step t the rollout stores the observation *before* acting (joint state, TCP
pose, optional camera frames) and the action taken (joint targets and the EE-space
action), plus the expert's phase and whether the task predicate already holds. The
episode ends at the task's time limit, or shortly after the expert finishes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vla_ros.sim.experts import Expert, ExpertNoise
from vla_ros.sim.failures import FailureInjector, check_mode
from vla_ros.sim.scene import mujoco
from vla_ros.sim.tasks import TaskInstance, TaskSpec, check_supported, get_task


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


@dataclass(frozen=True)
class ExecutionPerturbation:
    """DART-style noise on what the robot *executes*; the recorded action stays the expert's.

    A behaviour-cloned policy drifts a few centimetres off the demonstrated path and has
    never seen how to come back (Laskey et al., DART). Here the executed TCP target is the
    expert's plus a slowly varying offset (an Ornstein-Uhlenbeck process, `std` metres per
    axis at steady state, correlation time `tau` s), re-solved by the expert's IK, so the
    recorded states and images are off the path while the recorded actions still lead back
    onto it. In the phases not listed in `phases` (closing the gripper, pulling a handle,
    releasing) the offset decays with time constant `settle_tau`, so grasps still succeed
    and the episode still counts as a demonstration.

    `yaw_std` (radians) adds the same kind of offset to the gripper's rotation about the
    vertical: a policy that drifts in yaw closes its fingers on a cube's corners, and
    position noise alone never shows it how to turn back.
    """

    std: float = 0.015
    tau: float = 0.5
    settle_tau: float = 0.25
    phases: tuple[str, ...] = ("start", "approach", "lift", "carry", "retreat", "done")
    yaw_std: float = 0.0

    def __post_init__(self) -> None:
        if not (self.std >= 0 and self.yaw_std >= 0 and self.tau > 0 and self.settle_tau > 0):
            raise ValueError(f"perturbation needs std, yaw_std >= 0 and tau, settle_tau > 0, "
                             f"got {self.std}, {self.yaw_std}, {self.tau}, {self.settle_tau}")

    @property
    def active(self) -> bool:
        return self.std > 0 or self.yaw_std > 0


class _Perturber:
    """The offset process of one episode (see `ExecutionPerturbation`)."""

    def __init__(self, spec: ExecutionPerturbation, rng: np.random.Generator,
                 dt: float) -> None:
        self.spec, self.rng, self.dt = spec, rng, dt
        self.offset = np.zeros(4)  # x, y, z (m), yaw (rad)
        self.q_arm: np.ndarray | None = None

    def step(self, phase: str) -> np.ndarray:
        s = self.spec
        if phase in s.phases:
            a = np.exp(-self.dt / s.tau)
            # yaw drawn only when asked for: position-only runs keep their recorded noise
            noise = np.r_[s.std * self.rng.normal(size=3),
                          s.yaw_std * self.rng.normal() if s.yaw_std > 0 else 0.0]
            self.offset = a * self.offset + np.sqrt(1 - a * a) * noise
        else:
            self.offset *= np.exp(-self.dt / s.settle_tau)
        return self.offset

    def perturb(self, expert: Expert, action) -> np.ndarray:
        """Joint targets reaching the expert's TCP target + offset (arm joints only)."""
        offset = self.step(action.phase)
        n_arm = len(expert.q_arm)
        if self.q_arm is None:
            self.q_arm = action.joint_targets[:n_arm].copy()
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, np.asarray(action.ee_quaternion, float))
        c, s = np.cos(offset[3]), np.sin(offset[3])
        T = np.eye(4)
        T[:3, :3] = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ rot.reshape(3, 3)
        T[:3, 3] = np.asarray(action.ee_position, float) + offset[:3]
        self.q_arm = expert.ik.solve(self.q_arm, T, allow_jump=action.gripper < 0.5)
        targets = action.joint_targets.copy()
        targets[:n_arm] = self.q_arm
        return targets


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
    perturbation: ExecutionPerturbation | None = None,
    prefix: Callable[[TaskSpec, TaskInstance], bool | None] | None = None,
    background_fixture: bool = False,
) -> Rollout | None:
    """Reset `env` to (task, seed), run the expert (optionally with a failure mode, or with
    a DART `perturbation` of what is executed; the recorded actions stay the expert's).

    `prefix(spec, instance)`, when given, drives `env` after the reset (a policy running
    its first seconds); the expert then takes over from wherever that left the scene, and
    only the expert's part is recorded (DAgger-style data: states the policy reaches,
    actions the expert would take there). A prefix that returns False (the policy already
    solved the task) ends the episode there: None, and no expert time spent on it.
    `background_fixture` stands an unused cabinet behind the scene (`SimEnv.reset`)."""
    check_mode(failure)
    spec = get_task(task) if isinstance(task, str) else task
    check_supported(env.robot.name, spec.name)
    inst = env.reset(seed=seed, task=spec, background_fixture=background_fixture)
    if prefix is not None and prefix(spec, inst) is False:
        return None
    rng = np.random.default_rng([seed, 1])
    dt = 1.0 / control_hz
    n_sub = max(1, int(round(dt / env.timestep)))
    dt = n_sub * env.timestep
    expert = Expert(env, inst, rng, control_dt=dt, noise=noise)
    injector = None
    if failure is not None:
        injector = FailureInjector(failure, np.random.default_rng([seed, 2]))
        injector.setup(env, expert)
    perturber = (_Perturber(perturbation, np.random.default_rng([seed, 3]), dt)
                 if perturbation is not None and perturbation.active else None)
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
        executed = (action.joint_targets if perturber is None
                    else perturber.perturb(expert, action))
        env.set_position_targets(action.joint_names, executed)
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
