"""IK tasks: residuals e(q) with Jacobians J(q), in the shape of pink's tasks.

A task in the cost contributes  w * || J dq + gain * e ||^2  (per-row weights w); the same
task given as a *constraint* is enforced as the equality  J dq = -gain * e.
Errors are "current minus target" in world-aligned coordinates, so positions and the
centre of mass are in metres along the world axes and per-axis weights mean what they say.

Speed matters (one IK step should take tens of microseconds), so a task never allocates its
outputs: `IKProblem` hands it views (`J`, `e`) into its stacked, preallocated matrices and
tasks write into them. Tasks whose Jacobian is constant (posture, pinned joint) write it
once in `bind` and only update the error afterwards.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pinocchio as pin

from vla_ros.retarget.errors import IKError

if TYPE_CHECKING:
    from vla_ros.retarget.ik import IKProblem
    from vla_ros.retarget.robot_model import RobotModel

_LWA = pin.LOCAL_WORLD_ALIGNED


def _weights(value: float | np.ndarray, n: int, what: str) -> np.ndarray:
    w = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise IKError(f"{what} must be finite and >= 0, got {value!r}")
    w.flags.writeable = False  # changes go through the setter, which IKProblem notices
    return w


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    """A slice when the indices are consecutive and ascending (views instead of copies)."""
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return slice(int(index[0]), int(index[0]) + len(index))
    return index


WEIGHTS_VERSION = [0]
"""Bumped whenever any task's weight or gain changes: `IKProblem` re-stacks its weight
vectors only then, not on every step."""


class Task:
    """Base class. Subclasses set `dim`, set `weight` (dim,) and implement `compute`.

    `weight` and `gain` are properties: assign new values (`task.weight = 5.0`), do not
    write into the array (it is read-only)."""

    dim: int = 0
    uses_com = False
    static_jacobian = False
    diagonal_index: slice | None = None
    """Set (in `bind`) by tasks whose Jacobian rows are the unit vectors of the consecutive
    variables `diagonal_index`: `IKProblem` adds them to the diagonal of H and to f
    instead of stacking rows."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain
        self._weight = _weights(1.0, self.dim, "weight")

    @property
    def weight(self) -> np.ndarray:
        """Per-row weights (dim,), read-only."""
        return self._weight

    @weight.setter
    def weight(self, value: float | np.ndarray) -> None:
        self._weight = _weights(value, self.dim, f"{type(self).__name__} weight")
        WEIGHTS_VERSION[0] += 1

    @property
    def gain(self) -> float:
        """Fraction of the error corrected per step (1: full Gauss-Newton step)."""
        return self._gain

    @gain.setter
    def gain(self, value: float) -> None:
        value = float(value)
        if not 0.0 < value <= 1.0:
            raise IKError(f"{type(self).__name__}: gain must be in (0, 1], got {value}")
        self._gain = value
        WEIGHTS_VERSION[0] += 1

    def bind(self, robot: RobotModel) -> None:
        """Resolve names to indices (and set `dim` where it depends on the robot)."""

    def init_jacobian(self, J: np.ndarray) -> None:
        """Write a constant Jacobian once into this task's zeroed block (dim x nv)."""

    def compute(self, p: IKProblem, J: np.ndarray, e: np.ndarray) -> None:
        """Write the Jacobian into `J` (unless static) and the error into `e`."""
        raise NotImplementedError

    def error(self, p: IKProblem) -> np.ndarray:
        """The current error (after `p.update_kinematics`), for reports and tests."""
        J = np.zeros((self.dim, p.model.nv))
        e = np.zeros(self.dim)
        self.init_jacobian(J)
        clamp, p.clamp_errors = p.clamp_errors, False  # the true error, not the clamped one
        try:
            self.compute(p, J, e)
        finally:
            p.clamp_errors = clamp
        return e


class FrameTask(Task):
    """Pose of a frame: position (m) and orientation (rad) errors in world-aligned axes.

    The orientation error is log3(R R_target^T); its Jacobian includes Jlog3 so large
    rotations converge in few steps (the same derivation as pink's FrameTask).
    """

    dim = 6

    def __init__(
        self,
        frame: str,
        position_weight: float | np.ndarray = 1.0,
        orientation_weight: float | np.ndarray = 1.0,
        gain: float = 1.0,
        max_position_error: float = np.inf,
        max_orientation_error: float = np.inf,
    ) -> None:
        super().__init__(gain)
        self.frame = frame
        self.max_position_error = float(max_position_error)
        self.max_orientation_error = float(max_orientation_error)
        self._clamps = min(self.max_position_error, self.max_orientation_error) < np.inf
        self.set_weights(position_weight, orientation_weight)
        self._T_in = np.eye(4)  # scratch: a new target is checked here before it is taken
        self._T = np.eye(4)
        self._T_in_flat = self._T_in.reshape(-1)
        self.p_target = self._T[:3, 3]  # views into the target pose
        self.R_target = self._T[:3, :3]
        self._R_target_T = self._T[:3, :3].T
        self.has_target = False
        self._fid = -1
        self._views: tuple | None = None

    def set_weights(
        self, position: float | np.ndarray, orientation: float | np.ndarray
    ) -> None:
        w = np.concatenate((
            _weights(position, 3, f"{self.frame}: position weight"),
            _weights(orientation, 3, f"{self.frame}: orientation weight"),
        ))
        w.flags.writeable = False
        self._weight = w
        WEIGHTS_VERSION[0] += 1

    def set_target(self, T: np.ndarray | pin.SE3) -> None:
        """Target pose as a 4x4 matrix or pinocchio SE3 (world/base frame)."""
        if isinstance(T, pin.SE3):
            T = T.homogeneous
        if getattr(T, "shape", None) != (4, 4):
            try:
                T = np.asarray(T, dtype=float)
            except (ValueError, TypeError):
                T = np.zeros(0)
            if T.shape != (4, 4):
                raise IKError(f"{self.frame}: target must be a finite 4x4 pose, got {T.shape}")
        np.copyto(self._T_in, T)
        if not math.isfinite(self._T_in_flat @ self._T_in_flat):
            raise IKError(f"{self.frame}: target must be a finite 4x4 pose, got non-finite values")
        np.copyto(self._T, self._T_in)
        self.has_target = True

    def set_target_from(self, robot: RobotModel, q: np.ndarray) -> None:
        """Target = the frame's current pose at `q` (hold still)."""
        self.set_target(robot.fk(q, self.frame))

    def bind(self, robot):
        self._fid = robot.frame_id(self.frame)

    def error(self, p):
        """Unclamped pose error without the Jacobian (cheap: used every step for tests
        of convergence and line search)."""
        if not self.has_target:
            raise IKError(f"FrameTask '{self.frame}': no target set")
        T = pin.updateFramePlacement(p.model, p.data, self._fid)
        e = np.empty(6)
        np.subtract(T.translation, self.p_target, out=e[:3])
        e[3:] = pin.log3(T.rotation @ self.R_target.T)
        return e

    def compute(self, p, J, e):
        if not self.has_target:
            raise IKError(f"FrameTask '{self.frame}': no target set")
        views = self._views
        if views is None or views[0] is not J:  # the problem passes the same blocks each step
            views = self._views = (J, e[:3], e[3:], J[:3], J[3:])
        _, e_pos, e_rot, J_pos, J_rot = views
        T = pin.updateFramePlacement(p.model, p.data, self._fid)
        np.subtract(T.translation, self.p_target, out=e_pos)
        E = T.rotation @ self._R_target_T
        e_rot[:] = pin.log3(E)
        Jf = pin.getFrameJacobian(p.model, p.data, self._fid, _LWA)
        J_pos[:] = Jf[:3]
        np.matmul(pin.Jlog3(E.T), Jf[3:], out=J_rot)
        if p.clamp_errors and self._clamps:
            _clamp_norm(e[:3], self.max_position_error)
            _clamp_norm(e[3:], self.max_orientation_error)


def _clamp_norm(v: np.ndarray, limit: float) -> None:
    """Scale v in place to norm <= limit: far targets are approached along a straight line
    in task space instead of one huge linearised jump (fewer joint-limit stalls)."""
    if limit < np.inf:
        n = float(np.sqrt(v @ v))
        if n > limit:
            v *= limit / n


class PostureTask(Task):
    """Joint values towards a reference posture (free-flyer excluded): regularises the
    redundancy. Keep its weight small next to pose tasks, or it biases them."""

    static_jacobian = True

    def __init__(self, weight: float = 1e-3, gain: float = 1.0) -> None:
        self._w = float(weight)
        self.dim = 0
        super().__init__(gain)
        self.target: np.ndarray | None = None

    def bind(self, robot):
        n = len(robot.joint_names)
        if self.dim not in (0, n):
            raise IKError(f"PostureTask bound to robots with {self.dim} and {n} joints")
        if self.dim == 0:
            self.dim = n
            self._weight = _weights(self._w, n, "posture weight")
            WEIGHTS_VERSION[0] += 1
        self._q_index = _as_slice(robot.joint_q_index)
        self._v_index = robot.joint_v_index
        index = _as_slice(robot.joint_v_index)
        # joints out of tree order: stacked as dense rows instead (views need a slice)
        self.diagonal_index = index if isinstance(index, slice) else None
        if self.target is None:
            self.target = robot.joints_from_q(robot.q_neutral)

    def init_jacobian(self, J):
        J[np.arange(self.dim), self._v_index] = 1.0

    def set_target(self, joints: np.ndarray) -> None:
        """Reference joint values in `joint_names` order."""
        self.target = np.array(joints, dtype=float)

    def compute(self, p, J, e):
        np.subtract(p.q[self._q_index], self.target, out=e)


class JointPinTask(Task):
    """One joint held at a commanded value (ERJ: EE pose + one joint)."""

    dim = 1
    static_jacobian = True

    def __init__(self, joint: str, value: float = 0.0, weight: float = 10.0, gain: float = 1.0):
        super().__init__(gain)
        self.joint = joint
        self.value = float(value)
        self._weight = _weights(weight, 1, f"{joint}: pin weight")

    def bind(self, robot):
        if self.joint not in robot.joint_names:
            raise IKError(
                f"JointPinTask: '{self.joint}' is not a commanded joint of {robot.name} "
                f"({', '.join(robot.joint_names)})"
            )
        i = robot.joint_names.index(self.joint)
        self._iq = int(robot.joint_q_index[i])
        self._iv = int(robot.joint_v_index[i])
        self.diagonal_index = slice(self._iv, self._iv + 1)

    def init_jacobian(self, J):
        J[0, self._iv] = 1.0

    def compute(self, p, J, e):
        e[0] = p.q[self._iq] - self.value


class ElbowSwivelTask(Task):
    """Elbow swivel angle (ERA): rotation of the elbow point E about the shoulder S -> wrist W
    axis u, measured from the plane containing u and a fixed `reference` direction r:

        phi = atan2(u . (r x e), r . e - (r . u)(u . e)),   e = E - S.

    The Jacobian is analytic: from the position Jacobians of S, E and W (see docs).
    """

    dim = 1

    def __init__(
        self,
        shoulder: str,
        elbow: str,
        wrist: str,
        reference: tuple[float, float, float] = (0.0, 0.0, 1.0),
        angle: float = 0.0,
        weight: float = 1.0,
        gain: float = 1.0,
    ) -> None:
        super().__init__(gain)
        self.frames = (shoulder, elbow, wrist)
        self.reference = np.asarray(reference, dtype=float)
        self.reference /= np.linalg.norm(self.reference)
        self.angle = float(angle)
        self._weight = _weights(weight, 1, "swivel weight")

    @classmethod
    def from_robot(cls, robot: RobotModel, **kwargs) -> ElbowSwivelTask:
        """Built from the robot config's `swivel` section."""
        s = robot.config.swivel
        if s is None:
            raise IKError(f"{robot.name}: no 'swivel' section in {robot.config.path} (for ERA)")
        return cls(s.shoulder, s.elbow, s.wrist, s.reference, **kwargs)

    def bind(self, robot):
        self._fids = [robot.frame_id(f) for f in self.frames]

    def _terms(self, p: IKProblem) -> tuple:
        S, E, W = (
            pin.updateFramePlacement(p.model, p.data, f).translation for f in self._fids
        )
        d = W - S
        L = float(np.sqrt(d @ d))
        u = d / L
        e = E - S
        r = self.reference
        ru, ue = float(r @ u), float(u @ e)
        rxe = np.cross(r, e)
        return u, e, r, ru, ue, rxe, float(r @ e) - ru * ue, float(u @ rxe), L

    def measure(self, p: IKProblem) -> float:
        """Swivel angle (rad) at the problem's current kinematics."""
        *_, x, y, _ = self._terms(p)
        return float(np.arctan2(y, x))

    def compute(self, p, J, e):
        u, ev, r, ru, ue, rxe, x, y, L = self._terms(p)
        phi = np.arctan2(y, x)
        e[0] = (phi - self.angle + np.pi) % (2 * np.pi) - np.pi
        r2 = x * x + y * y
        # Gradients of y and x w.r.t. u and e, then of phi (see class docstring).
        g_u = (x * rxe + y * (ue * r + ru * ev)) / r2
        g_e = (x * np.cross(u, r) - y * (r - ru * u)) / r2
        c_w = (g_u - u * float(u @ g_u)) / L  # through u = (W - S) / |W - S|
        model, data = p.model, p.data
        JS, JE, JW = (pin.getFrameJacobian(model, data, f, _LWA)[:3] for f in self._fids)
        J[0] = c_w @ JW + g_e @ JE - (c_w + g_e) @ JS


class ComTask(Task):
    """Centre of mass over a ground point: horizontal (x, y) error, or all three axes."""

    uses_com = True

    def __init__(self, weight: float = 1.0, horizontal: bool = True, gain: float = 1.0):
        self.dim = 2 if horizontal else 3
        super().__init__(gain)
        self._weight = _weights(weight, self.dim, "CoM weight")
        self.target = np.zeros(self.dim)

    def set_target(self, target: np.ndarray) -> None:
        self.target[:] = np.asarray(target, dtype=float)[: self.dim]

    def compute(self, p, J, e):
        np.subtract(p.data.com[0][: self.dim], self.target, out=e)
        J[:] = p.Jcom[: self.dim]
