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
    return w


class Task:
    """Base class. Subclasses set `dim`, fill `weight` (dim,) and implement `compute`."""

    dim: int = 0
    uses_com = False
    static_jacobian = False

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)
        self.weight = np.ones(self.dim)

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
        self.set_weights(position_weight, orientation_weight)
        self.p_target = np.zeros(3)
        self.R_target = np.eye(3)
        self.has_target = False
        self._fid = -1

    def set_weights(
        self, position: float | np.ndarray, orientation: float | np.ndarray
    ) -> None:
        self.weight[:3] = _weights(position, 3, f"{self.frame}: position weight")
        self.weight[3:] = _weights(orientation, 3, f"{self.frame}: orientation weight")

    def set_target(self, T: np.ndarray | pin.SE3) -> None:
        """Target pose as a 4x4 matrix or pinocchio SE3 (world/base frame)."""
        if isinstance(T, pin.SE3):
            self.p_target[:] = T.translation
            self.R_target[:] = T.rotation
        else:
            T = np.asarray(T, dtype=float)
            if T.shape != (4, 4) or not np.all(np.isfinite(T)):
                raise IKError(f"{self.frame}: target must be a finite 4x4 pose, got {T.shape}")
            self.p_target[:] = T[:3, 3]
            self.R_target[:] = T[:3, :3]
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
        T = pin.updateFramePlacement(p.model, p.data, self._fid)
        np.subtract(T.translation, self.p_target, out=e[:3])
        E = T.rotation @ self.R_target.T
        e[3:] = pin.log3(E)
        J[:] = pin.getFrameJacobian(p.model, p.data, self._fid, _LWA)
        np.matmul(pin.Jlog3(E.T), J[3:], out=J[3:])
        if p.clamp_errors:
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
            self.weight = _weights(self._w, n, "posture weight")
        self._q_index = robot.joint_q_index
        self._v_index = robot.joint_v_index
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
        self.weight[:] = _weights(weight, 1, f"{joint}: pin weight")

    def bind(self, robot):
        if self.joint not in robot.joint_names:
            raise IKError(
                f"JointPinTask: '{self.joint}' is not a commanded joint of {robot.name} "
                f"({', '.join(robot.joint_names)})"
            )
        i = robot.joint_names.index(self.joint)
        self._iq = int(robot.joint_q_index[i])
        self._iv = int(robot.joint_v_index[i])

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
        self.weight[:] = _weights(weight, 1, "swivel weight")

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
        self.weight[:] = _weights(weight, self.dim, "CoM weight")
        self.target = np.zeros(self.dim)

    def set_target(self, target: np.ndarray) -> None:
        self.target[:] = np.asarray(target, dtype=float)[: self.dim]

    def compute(self, p, J, e):
        np.subtract(p.data.com[0][: self.dim], self.target, out=e)
        J[:] = p.data.Jcom[: self.dim]
