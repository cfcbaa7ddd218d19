"""Retargeter: one action row of a declared `ActionSpace` -> joint targets of one robot.

Why a stateful object: consecutive chunk steps are close, so IK warm-started from the
previous solution converges in a few QP steps and stays on the same IK branch (no elbow
flips between steps). Delta actions are increments from the previous step's *intended*
target (the first from the state given to `reset`), so a chunk of deltas traces the path
the policy meant even where the robot cannot follow it.

Pose spaces use `PoseIK` (+ `JointPinTask` for ERJ, `ElbowSwivelTask` for ERA); whole-body
rows use `WholeBodyIK` (feet pinned where they are, CoM over the support polygon).

Guarantees of `step` and `twist_step`: input is checked (NaN/inf, wrong length ->
`RetargetError` naming the dimensions); the returned joint and hand values are finite and
inside the joint limits (values that had to be clipped are named in `clipped`); an
unreachable pose gives the best configuration IK found with `reached = False` and the
remaining errors, so the caller can warn and still move as far as it can.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pinocchio as pin

from vla_ros.retarget.action_space import ActionSpace
from vla_ros.retarget.errors import RetargetError
from vla_ros.retarget.ik import PoseIK
from vla_ros.retarget.ik_tasks import ElbowSwivelTask, JointPinTask
from vla_ros.retarget.robot_model import RobotModel
from vla_ros.retarget.rotations import decode_rotation, encode_rotation

SERVO_REBASE_DISTANCE = 0.05
"""Servo integrates from the last commanded pose unless it is this far (m) from the measured
one (the robot is blocked or lagging): then it restarts from the measured pose (no windup)."""


def space_has_extra(space: ActionSpace) -> bool:
    """ERJ and ERA carry one value besides the pose."""
    return space.type in ("erj", "era")


class ActionSpaceUnavailableError(RetargetError, NotImplementedError):
    """The action space is declared but its solver is not available in this build."""


@dataclass
class RetargetResult:
    """Joint targets for one action row, and how well they achieve it."""

    joints: np.ndarray  # commanded joints, `robot.joint_names` order, within limits
    hand: np.ndarray | None  # `robot.hand_joint_names` order; None: the space sets no hand
    q: np.ndarray  # IK model configuration (free-flyer first for a floating base)
    reached: bool = True  # False: pose not achieved within tolerance (best effort returned)
    pos_err: float = 0.0  # m, remaining EE position error (pose spaces)
    rot_err: float = 0.0  # rad, remaining EE orientation error (pose spaces)
    velocity_limited: bool = False  # motion shortened to respect joint velocity limits
    clipped: list[str] = field(default_factory=list)  # joints/inputs clipped into range

    @property
    def ok(self) -> bool:
        """Nothing to warn about."""
        return self.reached and not self.velocity_limited and not self.clipped


class Retargeter:
    """Turns action rows of `space` into joint targets of `robot` (see module docstring)."""

    def __init__(
        self,
        robot: RobotModel,
        space: ActionSpace,
        *,
        max_steps: int = 40,
        tol_pos: float = 1e-3,
        tol_rot: float = 1e-2,
        restarts: bool = False,
        solver: str = "daqp",
        eigengrasp_map: Any = None,
        posture_weight: float = 1e-5,
    ) -> None:
        """`eigengrasp_map` replaces `EigengraspMap.load(<hand.eigengrasp>, k)` (any object
        with `joint_names`, `to_joint_positions`, `from_joint_positions`). `posture_weight`
        pulls a redundant arm's null space towards the neutral pose; it is kept tiny because
        it also biases the pose (error ~ weight x posture distance) and only applies to
        arms with more than 6 joints whose space does not fix the redundancy (ERJ/ERA)."""
        self.robot = robot
        self.space = space
        self.max_steps = int(max_steps)
        self.tol_pos = float(tol_pos)
        self.tol_rot = float(tol_rot)
        self.restarts = bool(restarts)
        self.posture_weight = float(posture_weight) if len(robot.joint_names) > 6 else 0.0
        self.n = len(robot.joint_names)
        hand = robot.config.hand
        self._hand_open = np.array(hand.open, dtype=float) if hand.open else None
        self._hand_closed = np.array(hand.closed, dtype=float) if hand.closed else None
        if space.gripper and self._hand_open is None:
            raise RetargetError(
                f"{robot.name}: space {space.describe()} has a gripper column but "
                f"{robot.config.path} gives no hand.open/closed postures"
            )
        self.pin_task: JointPinTask | None = None
        self.swivel_task: ElbowSwivelTask | None = None
        self.ik: PoseIK | None = None
        self.eigengrasp = None
        self._eigen_to_joint: np.ndarray | None = None
        self._eigen_to_hand: np.ndarray | None = None
        self.wholebody = None
        if space.type == "whole_body":
            self._build_wholebody(solver)
        if space.type in ("ee_pose", "erj", "era"):
            self._build_pose_ik(solver)
        elif space.type == "eigengrasp":
            self._build_eigengrasp(eigengrasp_map)
        self._servo_ik: PoseIK | None = None  # built on the first twist if ik is None
        self.reset(robot.q_neutral)
        self._started = False  # the first step with a q_current resets to it

    # --- construction --------------------------------------------------------------------
    def _frame(self) -> str:
        frame = self.space.frame
        if frame is None:
            return self.robot.ee_frame
        return self.robot.config.end_effectors.get(frame, frame)

    def _build_pose_ik(self, solver: str) -> None:
        space, robot = self.space, self.robot
        extra = []
        if space.type == "erj":
            self.pin_task = JointPinTask(space.joint, weight=space.extra_weight)
            self._pin_index = robot.joint_names.index(space.joint)
            extra.append(self.pin_task)
        elif space.type == "era":
            self.swivel_task = ElbowSwivelTask.from_robot(robot, weight=space.extra_weight)
            extra.append(self.swivel_task)
        self.ik = PoseIK(
            robot,
            self._frame(),
            solver,
            position_weight=space.position_weight,
            orientation_weight=space.orientation_weight,
            posture_weight=0.0 if extra else self.posture_weight,
            extra_tasks=extra,
        )
        self._orientation_counts = space.orientation_weight >= 1.0

    def _build_wholebody(self, solver: str) -> None:
        """`WholeBodyIK` (feet pinned, CoM over the support polygon) for two hand poses."""
        from vla_ros.retarget.errors import IKError
        from vla_ros.retarget.wholebody import WholeBodyIK

        if len(self.space.hands) != 2:
            raise RetargetError(
                f"{self.robot.name}: whole_body space {self.space.describe()} needs exactly "
                f"two hands, got {list(self.space.hands)}"
            )
        try:
            self.wholebody = WholeBodyIK(self.robot, solver, hands=tuple(self.space.hands))
        except IKError as exc:
            raise RetargetError(f"action space {self.space.describe()}: {exc}") from None

    def _build_eigengrasp(self, eigengrasp_map: Any) -> None:
        robot = self.robot
        hand = robot.config.hand.eigengrasp
        if eigengrasp_map is None:
            from vla_ros.retarget.eigengrasp import EigengraspError, EigengraspMap

            try:
                eigengrasp_map = EigengraspMap.load(hand, self.space.k)
            except EigengraspError as exc:
                raise RetargetError(
                    f"{robot.name}: action space {self.space.describe()}: {exc}"
                ) from None
        if len(getattr(eigengrasp_map, "names", [None] * self.space.k)) != self.space.k:
            raise RetargetError(
                f"{robot.name}: eigengrasp map has {len(eigengrasp_map.names)} coefficients, "
                f"the space {self.space.k}"
            )
        self.eigengrasp = eigengrasp_map
        names = self.eigengrasp.joint_names
        unknown = [j for j in names if j not in robot.joint_names + robot.hand_joint_names]
        if unknown:
            raise RetargetError(
                f"{robot.name}: eigengrasp map '{hand}' drives joints {unknown} that are "
                f"neither joints nor hand.joints in {robot.config.path}"
            )
        self._eigen_to_joint = np.array(
            [[i, robot.joint_names.index(j)] for i, j in enumerate(names)
             if j in robot.joint_names], dtype=int).reshape(-1, 2)  # fmt: skip
        self._eigen_to_hand = np.array(
            [[i, robot.hand_joint_names.index(j)] for i, j in enumerate(names)
             if j in robot.hand_joint_names and j not in robot.joint_names],
            dtype=int).reshape(-1, 2)  # fmt: skip

    # --- state ---------------------------------------------------------------------------
    def as_q(self, q: np.ndarray, what: str = "q_current") -> np.ndarray:
        """A model configuration from either a configuration (nq values) or the commanded
        joint values (`robot.joint_names` order)."""
        q = np.asarray(q, dtype=float)
        if q.shape == (self.robot.nq,):
            return self.robot.check_q(q, what)
        if q.shape == (self.n,):
            if not np.all(np.isfinite(q)):
                bad = [self.robot.joint_names[i] for i in np.flatnonzero(~np.isfinite(q))]
                raise RetargetError(f"{self.robot.name}: {what} has NaN/inf for {bad}")
            # joint states carry no base pose: keep the current estimate (feet stay put)
            base = getattr(self, "_q", None)
            return self.robot.q_from_joints(
                q, base=base[:7] if base is not None and self.robot.floating_base else None)
        raise RetargetError(
            f"{self.robot.name}: {what} must hold {self.n} joint values or a {self.robot.nq}"
            f"-value configuration, got shape {q.shape}"
        )

    def reset(self, q: np.ndarray, hand: np.ndarray | None = None) -> None:
        """Start from the (measured) configuration q: warm start and delta reference."""
        q = self.as_q(q, "q")
        q, _ = self.robot.clip(q)
        self._started = True
        self._q = q.copy()
        joints = self.robot.joints_from_q(q)
        self._ref_joints = joints.copy()
        if hand is not None:
            hand = np.asarray(hand, dtype=float)
            if hand.shape != (len(self.robot.hand_joint_names),) or not np.all(
                np.isfinite(hand)
            ):
                raise RetargetError(
                    f"{self.robot.name}: hand must hold finite values for "
                    f"{self.robot.hand_joint_names}, got {hand.tolist()}"
                )
            self._hand = np.clip(hand, self.robot.hand_lower, self.robot.hand_upper)
        elif not hasattr(self, "_hand"):
            self._hand = self.robot.hand_neutral.copy()
        if self.ik is not None:
            T = self.robot.fk(q, self.ik.frame)
            self._ref_T = T
            self._ref_extra = self._measure_extra(q)

    @property
    def q(self) -> np.ndarray:
        """The last target configuration (the next warm start)."""
        return self._q.copy()

    def _measure_extra(self, q: np.ndarray) -> float:
        """Current value of the ERJ joint or ERA swivel angle at q (0 for plain poses)."""
        if self.pin_task is not None:
            return float(self.robot.joints_from_q(q)[self._pin_index])
        if self.swivel_task is not None:
            problem = self.ik.problem
            problem.update_kinematics(q)
            return self.swivel_task.measure(problem)
        return 0.0

    # --- the main entry point ------------------------------------------------------------------
    def step(
        self,
        action_row: np.ndarray,
        q_current: np.ndarray | None = None,
        dt: float | None = None,
    ) -> RetargetResult:
        """Joint targets for one action row, warm-started from the previous target.
        `q_current` (measured joints or configuration) is the start when no state was given
        yet (no `reset`, no earlier step); later it is ignored: call `reset` to re-anchor.
        `dt` (s since the previous target) bounds the joint motion by the velocity limits."""
        a = self.space.check_row(action_row)
        if q_current is not None and not self._started:
            self.reset(q_current)
        if dt is not None and not (np.isfinite(dt) and dt > 0):
            raise RetargetError(f"dt must be a finite number > 0, got {dt!r}")
        space = self.space
        clipped: list[str] = []
        hand = self._gripper(a[-1], clipped) if space.gripper else None
        if space.hand_joints:
            hand = self._raw_hand(a[-len(space.hand_joints):], clipped)
        if space.type == "joint_position":
            result = self._joint_step(a[: self.n], clipped)
        elif space.type == "eigengrasp":
            result = self._eigengrasp_step(a, clipped)
        elif space.type == "whole_body":
            result = self._wholebody_step(a)
        else:
            result = self._pose_step(a, clipped)
        if hand is not None:
            result.hand = hand
        return self._finish(result, dt)

    def step_chunk(
        self, actions: np.ndarray, q_current: np.ndarray, times: np.ndarray | None = None
    ) -> list[RetargetResult]:
        """Rows of a chunk [H, dim] from the measured state (`reset` first); `times` are the
        rows' time_from_start (s) for velocity limiting."""
        actions = np.asarray(actions, dtype=float)
        if actions.ndim != 2:
            raise RetargetError(f"chunk must be [H, {self.space.dim}], got {actions.shape}")
        self.reset(q_current)
        out, prev = [], 0.0
        for k, row in enumerate(actions):
            dt = None
            if times is not None:
                dt = float(times[k]) - prev
                prev = float(times[k])
                dt = dt if dt > 0 else None
            try:
                out.append(self.step(row, dt=dt))
            except RetargetError as exc:
                raise RetargetError(f"chunk step {k}: {exc}") from None
        return out

    @property
    def has_grip(self) -> bool:
        """The robot config gives open/closed hand postures, so a grip command maps."""
        return self._hand_open is not None

    def hand_for_grip(self, g: float) -> np.ndarray:
        """Hand joint values (`robot.hand_joint_names` order) for grip g (0 open ... 1
        closed, clipped into [0, 1]): linear between the config's open and closed postures."""
        if not np.isfinite(g):
            raise RetargetError(f"gripper command must be finite, got {g!r}")
        return self._gripper(float(g), [])

    def _gripper(self, g: float, clipped: list[str]) -> np.ndarray:
        if self._hand_open is None:
            raise RetargetError(
                f"{self.robot.name}: {self.robot.config.path} gives no hand.open/closed "
                "postures for a grip command"
            )
        if not 0.0 <= g <= 1.0:
            clipped.append("gripper")
            g = min(max(g, 0.0), 1.0)
        hand = self._hand_open + g * (self._hand_closed - self._hand_open)
        return np.clip(hand, self.robot.hand_lower, self.robot.hand_upper)

    def _raw_hand(self, values: np.ndarray, clipped: list[str]) -> np.ndarray:
        """Raw hand joint columns (`gripper: joints`) into the hand vector, clipped."""
        robot = self.robot
        hand = self._hand.copy()
        for name, value in zip(self.space.hand_joints, values, strict=True):
            i = robot.hand_joint_names.index(name)
            if not robot.hand_lower[i] <= value <= robot.hand_upper[i]:
                clipped.append(name)
            hand[i] = value
        return hand

    def _joint_step(self, values: np.ndarray, clipped: list[str]) -> RetargetResult:
        joints = self._ref_joints + values if self.space.is_delta else values.copy()
        self._ref_joints = joints.copy()
        return RetargetResult(joints=joints, hand=None, q=self._q, clipped=clipped)

    def _eigengrasp_step(self, coeffs: np.ndarray, clipped: list[str]) -> RetargetResult:
        out = np.asarray(self.eigengrasp.to_joint_positions(coeffs), dtype=float)
        lo = getattr(self.eigengrasp, "coeff_low", -np.inf)
        hi = getattr(self.eigengrasp, "coeff_high", np.inf)
        clipped += [self.space.names[i] for i in np.flatnonzero((coeffs < lo) | (coeffs > hi))]
        joints = self.robot.joints_from_q(self._q)
        joints[self._eigen_to_joint[:, 1]] = out[self._eigen_to_joint[:, 0]]
        hand = None
        if len(self._eigen_to_hand):
            hand = self._hand.copy()
            hand[self._eigen_to_hand[:, 1]] = out[self._eigen_to_hand[:, 0]]
        return RetargetResult(joints=joints, hand=hand, q=self._q, clipped=clipped)

    def _pose_target(self, a: np.ndarray) -> tuple[np.ndarray, float]:
        """Target EE pose (4x4) and ERJ/ERA value from an action row; updates the delta
        reference."""
        space = self.space
        r = 3 + space.rotation_dim
        R = decode_rotation(a[3:r], space.rotation)
        T = np.eye(4)
        extra = float(a[r]) if space.type in ("erj", "era") else 0.0
        if space.is_delta:
            T[:3, :3] = R @ self._ref_T[:3, :3]
            T[:3, 3] = self._ref_T[:3, 3] + a[:3]
            extra += self._ref_extra
        else:
            T[:3, :3] = R
            T[:3, 3] = a[:3]
        if space.type == "era":
            extra = (extra + np.pi) % (2 * np.pi) - np.pi
        self._ref_T = T
        self._ref_extra = extra
        return T, extra

    def _pose_step(self, a: np.ndarray, clipped: list[str]) -> RetargetResult:
        try:
            T, extra = self._pose_target(a)
        except RetargetError as exc:
            raise RetargetError(f"action {self.space.describe()}: {exc}") from None
        if self.pin_task is not None:
            lo, hi = self.robot.lower[self._pin_index], self.robot.upper[self._pin_index]
            if not lo <= extra <= hi:
                clipped.append(self.space.joint)
                extra = min(max(extra, lo), hi)
            self.pin_task.value = extra
        if self.swivel_task is not None:
            self.swivel_task.angle = extra
        res = self.ik.solve(self._q, T, max_steps=self.max_steps, tol_pos=self.tol_pos,
                            tol_rot=self.tol_rot, restarts=self.restarts)  # fmt: skip
        reached = self._reached(res.pos_err, res.rot_err)
        if reached and space_has_extra(self.space):
            reached = abs(self._extra_error(res.q, extra)) <= 5e-3
        return RetargetResult(
            joints=self.robot.joints_from_q(res.q), hand=None, q=res.q, reached=reached,
            pos_err=res.pos_err, rot_err=res.rot_err, clipped=clipped,
        )

    def _hand_targets(self, a: np.ndarray) -> list[np.ndarray]:
        """Whole-body rows: one 4x4 pose per hand (in `space.hands` order)."""
        width = 3 + self.space.rotation_dim
        poses = []
        for i, hand in enumerate(self.space.hands):
            block = a[i * width : (i + 1) * width]
            try:
                R = decode_rotation(block[3:], self.space.rotation)
            except RetargetError as exc:
                raise RetargetError(f"{hand}: {exc}") from None
            T = np.eye(4)
            T[:3, :3], T[:3, 3] = R, block[:3]
            poses.append(T)
        return poses

    def _wholebody_step(self, a: np.ndarray) -> RetargetResult:
        poses = self._hand_targets(a)
        height = None
        if self.space.pelvis_height:
            height = float(a[2 * (3 + self.space.rotation_dim)])
            if not height > 0:
                raise RetargetError(f"pelvis_z must be > 0 m above the ground, got {height}")
        res = self.wholebody.solve(self._q, *poses, height, max_steps=self.max_steps,
                                   tol_pos=self.tol_pos, tol_rot=self.tol_rot)
        pos_err = max(res.hand_pos_err.values())
        rot_err = max(res.hand_rot_err.values())
        reached = res.converged or (
            pos_err <= 2 * self.tol_pos and rot_err <= 2 * self.tol_rot and not res.notes)
        return RetargetResult(
            joints=self.robot.joints_from_q(res.q), hand=None, q=res.q, reached=bool(reached),
            pos_err=pos_err, rot_err=rot_err,
        )

    def _extra_error(self, q: np.ndarray, target: float) -> float:
        """ERJ joint / ERA swivel error at q (wrapped for the angle)."""
        err = self._measure_extra(q) - target
        return float((err + np.pi) % (2 * np.pi) - np.pi) if self.swivel_task else err

    def _reached(self, pos_err: float, rot_err: float) -> bool:
        ok = pos_err <= 2 * self.tol_pos
        if self._orientation_counts:
            ok = ok and rot_err <= 2 * self.tol_rot
        return bool(ok)

    def _finish(self, result: RetargetResult, dt: float | None) -> RetargetResult:
        """Clip into limits, bound the speed, never return NaN; advance the warm start."""
        robot = self.robot
        prev = robot.joints_from_q(self._q)
        joints = np.asarray(result.joints, dtype=float)
        if not np.all(np.isfinite(joints)):  # cannot happen by construction; never pass it on
            joints = prev.copy()
            result.reached = False
        low = joints < robot.lower
        high = joints > robot.upper
        if low.any() or high.any():
            result.clipped += [robot.joint_names[i] for i in np.flatnonzero(low | high)]
            joints = np.clip(joints, robot.lower, robot.upper)
        if dt is not None:
            step = joints - prev
            ratio = float(np.max(np.abs(step) / (robot.velocity_limit * dt)))
            if ratio > 1.0:
                joints = prev + step / ratio
                result.velocity_limited = True
        q = robot.q_from_joints(joints, base=result.q[:7] if robot.floating_base else None)
        result.joints = joints
        result.q = q
        if result.hand is not None:
            result.hand = np.clip(result.hand, robot.hand_lower, robot.hand_upper)
            self._hand = result.hand.copy()
        self._q = q
        return result

    # --- servo mode -------------------------------------------------------------------------
    def twist_step(
        self,
        twist6: np.ndarray,
        gripper: float | None,
        q_current: np.ndarray,
        dt: float,
    ) -> RetargetResult:
        """Servo: move the end effector by `twist6` = [vx, vy, vz, wx, wy, wz] (base frame,
        m/s and rad/s) for `dt` seconds from the last commanded pose (or the measured one,
        `q_current`, when far from it); `gripper` 0 open ... 1 closed, None = unchanged."""
        twist = np.asarray(twist6, dtype=float)
        if twist.shape != (6,) or not np.all(np.isfinite(twist)):
            raise RetargetError(
                f"twist must be 6 finite values [vx vy vz wx wy wz], got {twist.tolist()}"
            )
        if not (np.isfinite(dt) and dt > 0):
            raise RetargetError(f"dt must be a finite number > 0, got {dt!r}")
        if gripper is not None and not np.isfinite(gripper):
            raise RetargetError(f"gripper command must be finite, got {gripper!r}")
        if self.wholebody is not None:
            raise ActionSpaceUnavailableError(
                f"{self.robot.name}: servo twists drive one end effector; the whole-body "
                f"space {self.space.describe()} takes hand poses as chunks only"
            )
        q_meas = self.as_q(q_current)
        ik = self._servo()
        T_meas = self.robot.fk(q_meas, ik.frame)
        T_cmd = self.robot.fk(self._q, ik.frame)
        if not self._started or (
            np.linalg.norm(T_cmd[:3, 3] - T_meas[:3, 3]) > SERVO_REBASE_DISTANCE
        ):
            self.reset(q_meas)
            T_cmd = T_meas
        T = np.eye(4)
        T[:3, 3] = T_cmd[:3, 3] + twist[:3] * dt
        T[:3, :3] = pin.exp3(twist[3:] * dt) @ T_cmd[:3, :3]
        if self.pin_task is not None:  # redundancy held where it is
            self.pin_task.value = float(self.robot.joints_from_q(self._q)[self._pin_index])
        if self.swivel_task is not None:
            self.swivel_task.angle = self._measure_extra(self._q)
        q = self._q
        for _ in range(3):  # a few velocity-limited QP steps: small motions converge fast
            q = ik.step(q, T, dt / 3)
        pos_err, rot_err = ik.errors(q)
        clipped: list[str] = []
        hand = self._gripper(float(gripper), clipped) if gripper is not None else None
        result = RetargetResult(
            joints=self.robot.joints_from_q(q), hand=hand, q=q,
            reached=pos_err <= 1e-3 + 0.05 * float(np.linalg.norm(twist[:3])) * dt,
            pos_err=pos_err, rot_err=rot_err, clipped=clipped,
        )
        result = self._finish(result, None)
        if self.space.is_pose:
            self._ref_T = self.robot.fk(result.q, ik.frame)
        return result

    def _servo(self) -> PoseIK:
        if self.ik is not None:
            return self.ik
        if self._servo_ik is None:
            self._servo_ik = PoseIK(
                self.robot, self._frame(), posture_weight=self.posture_weight,
                orientation_weight=1.0 if self.n >= 6 else 0.05,
            )
        return self._servo_ik

    # --- the inverse: configurations -> action rows ----------------------------------------------
    def encode(self, q: np.ndarray, gripper: float = 0.0) -> np.ndarray:
        """The action row (absolute spaces) that asks for configuration q: FK of the EE,
        the ERJ joint or ERA swivel, joint values. For recording demonstrations in a space
        and for round-trip tests. Delta spaces encode q relative to the current reference."""
        space = self.space
        q = self.as_q(q, "q")
        if space.type == "joint_position":
            values = self.robot.joints_from_q(q)
            if space.is_delta:
                values = values - self._ref_joints
        elif space.is_pose:
            T = self.robot.fk(q, self.ik.frame)
            extra = self._measure_extra(q)
            if space.is_delta:
                R = T[:3, :3] @ self._ref_T[:3, :3].T
                p = T[:3, 3] - self._ref_T[:3, 3]
                extra = extra - self._ref_extra
            else:
                R, p = T[:3, :3], T[:3, 3]
            values = np.concatenate((p, encode_rotation(R, space.rotation)))
            if space.type in ("erj", "era"):
                values = np.append(values, extra)
        elif space.type == "eigengrasp":
            joints = self.robot.joints_from_q(q)
            names = self.robot.joint_names
            full = np.array([joints[names.index(j)] if j in names
                             else self._hand[self.robot.hand_joint_names.index(j)]
                             for j in self.eigengrasp.joint_names])  # fmt: skip
            values = self.eigengrasp.from_joint_positions(full)
        else:  # whole_body
            values = []
            for hand in space.hands:
                T = self.robot.fk(q, self.robot.config.end_effectors[hand])
                values += [*T[:3, 3], *encode_rotation(T[:3, :3], space.rotation)]
            if space.pelvis_height:
                values.append(self.wholebody.pelvis_height_at(q))
            values = np.array(values)
        if space.gripper:
            values = np.append(values, gripper)
        if space.hand_joints:
            hand = self.hand_for_grip(gripper) if self._hand_open is not None else self._hand
            names = self.robot.hand_joint_names
            values = np.append(values, [hand[names.index(j)] for j in space.hand_joints])
        return np.asarray(values, dtype=float)
