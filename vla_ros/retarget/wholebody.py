"""Whole-body IK for a floating-base humanoid (Unitree G1): two hand poses, feet fixed,
centre of mass over the support polygon, optional pelvis height.

One `IKProblem` (the same dense QP as arm IK) with
- cost tasks: left/right hand `FrameTask`s, a pelvis `FrameTask` (height when commanded,
  roll/pitch kept level so the torso stays upright; yaw and x-y free), a small
  `PostureTask` towards the neutral pose (picks a natural solution in the null space);
- equality constraints: both feet `FrameTask`s, so the feet do not move (gain 1: any drift
  from linearisation is removed at the next step);
- limits: joint range, and `SupportPolygonLimit`: the horizontal CoM stays inside the
  convex hull of the sole contact points, shrunk by a margin.

A squat is commanded through the pelvis height; the knees, hips and ankles take it because
the feet are pinned and the joint limits are hard bounds, never by moving the feet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pinocchio as pin

from vla_ros.retarget.errors import IKError
from vla_ros.retarget.ik import IKProblem, integrate
from vla_ros.retarget.ik_limits import (
    JointPositionLimit,
    Limit,
    SupportPolygonLimit,
    VelocityLimit,
)
from vla_ros.retarget.ik_tasks import FrameTask, PostureTask
from vla_ros.retarget.robot_model import RobotModel

PELVIS_TILT_WEIGHT = 0.3
"""Weight keeping the pelvis roll/pitch level (rad): an upright torso, as in a real squat."""
PELVIS_HEIGHT_WEIGHT = 1.0
POSTURE_WEIGHT = 1e-5
"""Small: a stronger pull towards the neutral pose visibly biases the hands (mm)."""
HAND_ORIENTATION_WEIGHT = 0.5
"""Hand orientation (rad) counts half as much as position (m): reach first, then turn."""
SUPPORT_MARGIN = 0.02
"""The CoM is kept this far (m) inside the support polygon's edges."""
LINE_SEARCH = (1.0, 0.5, 0.25)
LM_DOWN, LM_UP, LM_MIN, LM_MAX = 0.25, 10.0, 1e-4, 10.0
"""Adaptive Levenberg-Marquardt damping: near-singular legs (straight knees) make full
Gauss-Newton steps radians long; failed line searches raise the damping."""
CONSTRAINT_MERIT_WEIGHT = 10.0
"""Weight of squared foot drift (m, rad) and CoM excursion (m) in the line-search merit."""


@dataclass
class WholeBodyResult:
    """Outcome of `WholeBodyIK.solve` (errors in m and rad, world frame)."""

    q: np.ndarray
    converged: bool
    steps: int
    hand_pos_err: dict[str, float]
    hand_rot_err: dict[str, float]
    foot_pos_err: float
    """Largest foot position error against the feet at q0."""
    foot_rot_err: float
    com: np.ndarray
    com_inside: bool
    """Whether the horizontal CoM is inside the support polygon (without the margin)."""
    pelvis_height: float
    limits_ok: bool
    """Every commanded joint within its limits."""
    notes: list[str] = field(default_factory=list)


class WholeBodyIK:
    """Whole-body IK for a robot with `feet` and two hand end effectors in its config.

    `solve(q0, T_left_hand, T_right_hand, pelvis_height=None)` iterates QP steps from q0
    (pinocchio configuration: free-flyer + joints); the feet stay where they are at q0.
    `step(...)` is one QP step, for streaming retargeting at a control rate.
    """

    def __init__(
        self,
        robot: RobotModel | str = "g1",
        solver: str = "daqp",
        *,
        hands: tuple[str, str] = ("left_hand", "right_hand"),
        hand_orientation_weight: float = HAND_ORIENTATION_WEIGHT,
        posture_weight: float = POSTURE_WEIGHT,
        support_margin: float = SUPPORT_MARGIN,
        velocity_limit: bool = True,
        position_limit_gain: float = 1.0,
        damping: float = 1e-6,
        com_limit: bool = True,
    ) -> None:
        """`com_limit=False` drops the support-polygon rows from the QP (the CoM is then
        only reported, not constrained): for comparisons with solvers that lack them."""
        self.robot = robot = RobotModel.load(robot) if isinstance(robot, str) else robot
        cfg = robot.config
        if not robot.floating_base or len(cfg.feet) < 1:
            raise IKError(
                f"{robot.name}: whole-body IK needs floating_base: true and a 'feet' section "
                f"in {cfg.path}"
            )
        missing = [h for h in hands if h not in cfg.end_effectors]
        if missing:
            raise IKError(
                f"{robot.name}: no end effector {missing} in {cfg.path} "
                f"(end_effectors: {', '.join(cfg.end_effectors)})"
            )
        self.hand_names = tuple(hands)
        self.hands = {
            name: FrameTask(cfg.end_effectors[name], 1.0, hand_orientation_weight)
            for name in hands
        }
        pelvis = cfg.pelvis_frame or cfg.base_frame
        self.pelvis = FrameTask(pelvis, position_weight=0.0, orientation_weight=0.0)
        self.posture = PostureTask(posture_weight) if posture_weight > 0 else None
        self.feet = {name: FrameTask(foot.frame) for name, foot in cfg.feet.items()}
        # the hull of two soles has at most 8 edges; fewer QP rows than the default 16
        self.support = SupportPolygonLimit(max_edges=8, margin=support_margin)
        self.velocity = VelocityLimit() if velocity_limit else None
        tasks = [*self.hands.values(), self.pelvis]
        if self.posture is not None:
            tasks.append(self.posture)
        limits: list[Limit] = [JointPositionLimit(gain=position_limit_gain)]
        if com_limit:
            limits.append(self.support)
        if self.velocity is not None:
            limits.insert(0, self.velocity)
        self.problem = IKProblem(
            robot, tasks, limits, constraints=list(self.feet.values()), damping=damping,
            solver=solver,
        )
        self._sole_points = {
            name: np.array([[x, y, foot.sole_z] for x, y in foot.sole])
            for name, foot in cfg.feet.items()
        }
        self._feet_q: np.ndarray | None = None
        self._holder: IKProblem | None = None
        self._pelvis_height: float | None = None

    # --- targets ---------------------------------------------------------------------------
    def hold_feet(self, q: np.ndarray) -> None:
        """Pin the feet where they are at q and rebuild the support polygon from their soles."""
        q = self.robot.check_q(q, "q0")
        points = []
        for name, task in self.feet.items():
            T = self.robot.fk(q, task.frame)
            task.set_target(T)
            points.append((self._sole_points[name] @ T[:3, :3].T + T[:3, 3])[:, :2])
        self.support.set_polygon(np.vstack(points))
        self._feet_q = q.copy()

    def set_targets(
        self,
        T_left_hand: np.ndarray,
        T_right_hand: np.ndarray,
        pelvis_height: float | None = None,
    ) -> None:
        """Hand poses (4x4, world) and the pelvis height (m above the ground, None: free)."""
        left, right = self.hand_names
        self.hands[left].set_target(T_left_hand)
        self.hands[right].set_target(T_right_hand)
        if pelvis_height is not None:
            pelvis_height = float(pelvis_height)
            if not math.isfinite(pelvis_height) or pelvis_height <= 0:
                raise IKError(
                    f"pelvis_height must be a positive finite number, got {pelvis_height}"
                )
        if pelvis_height == self._pelvis_height and self.pelvis.has_target:
            return  # streaming: the same height every step, nothing to redo
        if (pelvis_height is None) != (self._pelvis_height is None) or not self.pelvis.has_target:
            height_weight = 0.0 if pelvis_height is None else PELVIS_HEIGHT_WEIGHT
            self.pelvis.set_weights(
                [0.0, 0.0, height_weight], [PELVIS_TILT_WEIGHT, PELVIS_TILT_WEIGHT, 0.0]
            )
        level = np.eye(4)
        level[2, 3] = 0.0 if pelvis_height is None else pelvis_height
        self.pelvis.set_target(level)
        self._pelvis_height = pelvis_height

    # --- solving ---------------------------------------------------------------------------
    def step(
        self,
        q: np.ndarray,
        T_left_hand: np.ndarray,
        T_right_hand: np.ndarray,
        pelvis_height: float | None = None,
        dt: float | None = None,
    ) -> np.ndarray:
        """One QP step from q (feet held where they were at the last `hold_feet`, or at q
        on the first call)."""
        q = self.robot.check_q(q)
        if self._feet_q is None:
            self.hold_feet(q)
        self.set_targets(T_left_hand, T_right_hand, pelvis_height)
        return integrate(self.robot, q, self.problem.solve(q, dt))

    def solve(
        self,
        q0: np.ndarray,
        T_left_hand: np.ndarray,
        T_right_hand: np.ndarray,
        pelvis_height: float | None = None,
        max_steps: int = 100,
        tol_pos: float = 1e-3,
        tol_rot: float = 1e-2,
        dt: float | None = None,
    ) -> WholeBodyResult:
        """Iterate from q0 (feet pinned at q0) until both hands are within tolerance and
        the pelvis height is reached, or `max_steps`. Each step is backtracked until the
        task cost falls (a full step far from the target can overshoot)."""
        q = self.robot.check_q(q0, "q0").copy()
        self.hold_feet(q)
        self.set_targets(T_left_hand, T_right_hand, pelvis_height)
        problem = self.problem
        merit = self._merit(q)
        lam = 0.0
        for k in range(max_steps + 1):
            if self._converged(pelvis_height, tol_pos, tol_rot):
                return self._result(q, True, k, pelvis_height)
            if k == max_steps:
                break
            dq = problem.solve(q, dt, extra_damping=lam, update=False)
            full_step = False
            for alpha in LINE_SEARCH:
                trial = integrate(self.robot, q, dq if alpha == 1.0 else alpha * dq)
                trial_merit = self._merit(trial)
                if trial_merit < merit:
                    q, merit, full_step = trial, trial_merit, alpha == 1.0
                    break
            else:  # no descent: the linearisation is poor here, damp harder and retry
                if lam >= LM_MAX:  # q is as good as it gets (e.g. a target out of reach)
                    return self._result(self._restore(q), False, k + 1, pelvis_height)
                self._merit(q)
            lam = lam * LM_DOWN if full_step else min(max(lam * LM_UP, LM_MIN), LM_MAX)
        q = self._restore(q)
        return self._result(q, False, max_steps, pelvis_height)

    def _restore(self, q: np.ndarray, steps: int = 10) -> np.ndarray:
        """Remove constraint drift from an unconverged q: a few QP steps with the feet and
        CoM constraints and the hands held where they are (Newton steps on the feet
        converge quadratically). The line search tolerates small drift in exchange for
        hand accuracy; a returned configuration must not keep it."""
        if self._holder is None:
            hold = [FrameTask(t.frame, 1.0, 1.0) for t in self.hands.values()]
            self._holder = IKProblem(
                self.robot, hold, [JointPositionLimit(), self.support],
                constraints=list(self.feet.values()), solver=self.problem.solver.name,
            )
        holder = self._holder
        holder.update_kinematics(q)
        for task in holder.tasks:
            task.set_target(pin.updateFramePlacement(holder.model, holder.data, task._fid))
        for _ in range(steps):
            if max(float(np.linalg.norm(t.error(holder))) for t in self.feet.values()) < 1e-6:
                break
            q = integrate(self.robot, q, holder.solve(q))
        return q

    def _merit(self, q: np.ndarray) -> float:
        """Task cost plus heavily weighted constraint violations (feet off their poses, CoM
        outside the polygon) at q: the line search must not buy hand accuracy with them.
        Leaves the kinematics at q."""
        merit = self.problem.cost(q)
        for task in self.feet.values():
            e = task.error(self.problem)
            merit += CONSTRAINT_MERIT_WEIGHT * float(e @ e)
        outside = self.support.normals @ self.problem.data.com[0][:2] - (
            self.support.offsets - self.support.margin
        )
        np.maximum(outside, 0.0, out=outside)
        return merit + CONSTRAINT_MERIT_WEIGHT * float(outside @ outside)

    def _converged(self, pelvis_height: float | None, tol_pos: float, tol_rot: float) -> bool:
        p = self.problem
        for task in self.hands.values():
            e = task.error(p)
            if e[:3] @ e[:3] > tol_pos**2 or e[3:] @ e[3:] > tol_rot**2:
                return False
        for task in self.feet.values():
            e = task.error(p)
            if e[:3] @ e[:3] > (0.1 * tol_pos) ** 2 or e[3:] @ e[3:] > (0.1 * tol_rot) ** 2:
                return False
        return pelvis_height is None or abs(self.pelvis.error(p)[2]) <= tol_pos

    def _result(
        self, q: np.ndarray, converged: bool, steps: int, pelvis_height: float | None
    ) -> WholeBodyResult:
        p = self.problem
        p.update_kinematics(q)
        hand_pos, hand_rot = {}, {}
        for name, task in self.hands.items():
            e = task.error(p)
            hand_pos[name] = float(np.linalg.norm(e[:3]))
            hand_rot[name] = float(np.linalg.norm(e[3:]))
        foot_errors = np.array([task.error(p) for task in self.feet.values()])
        com = self.robot.com(q)
        joints = self.robot.joints_from_q(q)
        limits_ok = bool(
            np.all(joints >= self.robot.lower - 1e-9) and np.all(joints <= self.robot.upper + 1e-9)
        )
        pelvis_z = float(pin.updateFramePlacement(p.model, p.data, self.pelvis._fid).translation[2])
        notes = []
        if pelvis_height is not None and abs(pelvis_z - pelvis_height) > 1e-3:
            notes.append(f"pelvis height {pelvis_z:.3f} m, commanded {pelvis_height:.3f} m")
        return WholeBodyResult(
            q=q,
            converged=converged,
            steps=steps,
            hand_pos_err=hand_pos,
            hand_rot_err=hand_rot,
            foot_pos_err=float(np.max(np.linalg.norm(foot_errors[:, :3], axis=1))),
            foot_rot_err=float(np.max(np.linalg.norm(foot_errors[:, 3:], axis=1))),
            com=com,
            com_inside=self.support.contains(com[:2]),
            pelvis_height=pelvis_z,
            limits_ok=limits_ok,
            notes=notes,
        )

    @property
    def support_polygon(self) -> np.ndarray:
        """Vertices (k x 2, counter-clockwise) of the current support polygon."""
        return self.support.vertices.copy()

    def pelvis_height_at(self, q: np.ndarray) -> float:
        return float(self.robot.fk(q, self.pelvis.frame)[2, 3])

    def hand_poses_at(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(left, right) hand poses at q: a convenient "hold the hands still" target."""
        frames = [self.hands[name].frame for name in self.hand_names]
        return self.robot.fk(q, frames[0]), self.robot.fk(q, frames[1])
