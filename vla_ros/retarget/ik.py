"""Differential IK as one dense QP per step (pink's formulation, built for speed).

Each step solves, for the configuration displacement dq (tangent space, size nv):

    minimize    sum_tasks || W^1/2 (J_t dq + g_t e_t) ||^2  +  lambda ||dq||^2
    subject to  J_c dq = -g_c e_c                      (tasks given as constraints)
                lb <= dq <= ub                         (joint range, velocity, acceleration)
                lo <= A dq <= up                       (support polygon, ...)

with lambda = damping + lm_damping * ||weighted error||^2 (Levenberg-Marquardt: large errors
take shorter, better-conditioned steps). `IKProblem` owns every matrix, allocated once, and
per step makes one `computeJointJacobians` call (which also runs forward kinematics), lets
each task write its rows in place, forms H = Jw'Jw + diag(lambda + w_diag) and f = Jw'rw
(posture and pinned-joint tasks, whose rows are unit vectors, only touch the diagonal and
f), and hands the buffers to the QP back-end unchanged. `PoseIK` adds the iteration to
convergence (line search, adaptive damping, restarts); see docs/retargeting.md.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pinocchio as pin

from vla_ros.retarget.errors import IKError
from vla_ros.retarget.ik_limits import (
    POSITION,
    RATE,
    ROWS,
    JointPositionLimit,
    Limit,
    VelocityLimit,
)
from vla_ros.retarget.ik_tasks import WEIGHTS_VERSION, FrameTask, PostureTask, Task
from vla_ros.retarget.qp_solvers import INF, make_solver
from vla_ros.retarget.robot_model import RobotModel

try:  # the clip ufunc itself: np.clip's Python wrapper costs 3x more on small vectors
    from numpy._core.umath import clip as clip_ufunc
except ImportError:  # numpy < 2
    from numpy.core.umath import clip as clip_ufunc

SOFT_CONSTRAINT_WEIGHT = 1e4
"""Weight of constraint rows moved into the cost when the hard QP is infeasible."""

STALL_STEPS = 5
"""`PoseIK.solve` restarts after this many steps without the cost falling by STALL_DECREASE."""
STALL_DECREASE = 0.8
FIRST_ATTEMPT_STEPS = 20
"""Steps the first attempt (from the caller's q0) may take before a restart..."""
ATTEMPT_STEPS = 10
"""...and each restart: a restart that converges at all does so in about 5 steps."""
FAST_DECREASE = 0.25
"""An attempt past its step cap goes on while its last step cut the cost at least this much."""
STATIONARY = 0.99
"""A restarted attempt gives up at once when the QP predicts less than 1 % cost decrease:
a joint limit holds q at a local minimum. Not the first attempt: callers warm-start it
near their previous solution and expect the answer to stay near it."""
LINE_SEARCH = (1.0, 0.5, 0.25)
"""Step fractions tried in turn until the task cost falls; if none does, q stays."""
LM_DOWN, LM_UP, LM_MIN, LM_MAX = 0.25, 4.0, 1e-4, 1.0
"""Adaptive Levenberg-Marquardt damping: a full step that lowers the cost divides the extra
damping by 4; a shortened or failed one multiplies it by 4 (from LM_MIN, up to LM_MAX)."""
SEED_TABLE_SIZE = 2048
"""Random configurations (with their frame poses) that restarts pick seeds from."""
SEED_CANDIDATES = 8
"""Nearest table poses whose full task cost is evaluated to pick a restart seed."""
SEED_ROTATION_SCALE = 0.1
"""Metres per unit of rotation-matrix distance when looking up the nearest table pose."""


class IKProblem:
    """Tasks + constraints + limits for one robot, with preallocated QP data.

    The sets of tasks, constraints and limits are fixed at construction (that fixes the QP
    size); targets, weights and gains may change between steps.
    """

    def __init__(
        self,
        robot: RobotModel,
        tasks: Sequence[Task],
        limits: Sequence[Limit] = (),
        constraints: Sequence[Task] = (),
        damping: float = 1e-6,
        lm_damping: float = 0.0,
        solver: str = "daqp",
    ) -> None:
        if not tasks and not constraints:
            raise IKError("IKProblem needs at least one task or constraint")
        self.robot = robot
        self.model = robot.model
        self.data = robot.model.createData()
        self.tasks = list(tasks)
        self.constraints = list(constraints)
        self.limits = list(limits)
        self._weights_seen = -1
        self.damping = damping
        self.lm_damping = float(lm_damping)
        for item in (*self.tasks, *self.constraints, *self.limits):
            item.bind(robot)
        self.uses_com = any(x.uses_com for x in (*self.tasks, *self.constraints, *self.limits))
        nv = self.model.nv
        self.nv = nv
        self.q = pin.neutral(self.model)
        self.last_dq = np.zeros(nv)
        self.Jcom = np.zeros((3, nv))  # CoM Jacobian of the last kinematics update

        # Tasks whose Jacobian rows are unit vectors (posture, pinned joint) add only to the
        # diagonal of H and to f: they stay out of the dense stack (29 fewer rows on G1).
        dense = [t for t in self.tasks if t.diagonal_index is None]
        nc = sum(t.dim for t in dense)
        self.J_cost = np.zeros((nc, nv))
        self.e_cost = np.zeros(nc)
        self.sqrt_w = np.zeros(nc)
        self.gain_w = np.zeros(nc)  # sqrt(w) * gain
        self._Jw_buffer = np.zeros((nc, nv))  # sqrt(w) J and sqrt(w) gain e
        self._rw_buffer = np.zeros(nc)
        self.Jw, self.rw = self._Jw_buffer, self._rw_buffer
        self._Jw_T, self._J_cost_T = self.Jw.T, self.J_cost.T  # views, made once
        self._sqrt_w_column = self.sqrt_w[:, None]
        self._unit_weights = False
        self._cost_views = self._views(dense, self.J_cost, self.e_cost)
        self.f = np.zeros(nv)
        self._diag_tasks = [  # (task, error, its rows of f, weight * gain)
            (t, np.zeros(t.dim), self.f[t.diagonal_index], np.zeros(t.dim))
            for t in self.tasks
            if t.diagonal_index is not None
        ]
        self._diag_weight = np.zeros(nv)  # damping + diagonal tasks' weights per variable

        neq = sum(t.dim for t in self.constraints)
        row_limits = [lim for lim in self.limits if lim.stage == ROWS]
        nin = sum(lim.rows for lim in row_limits)
        m = neq + nin
        self.A = np.zeros((m, nv))
        self.lower = np.full(nv + m, -INF)  # daqp layout: [box lb, row lower]
        self.upper = np.full(nv + m, INF)
        self.lb, self.ub = self.lower[:nv], self.upper[:nv]
        self._eq_e = np.zeros(neq)
        self._eq_gain = np.zeros(neq)
        self._eq_views = self._views(self.constraints, self.A[:neq], self._eq_e)
        self._eq_upper = self.upper[nv : nv + neq]
        self._eq_lower = self.lower[nv : nv + neq]
        self._row_views = []
        r = nv + neq
        for lim in row_limits:
            a = r - nv
            rows = slice(r, r + lim.rows)
            a_rows = self.A[a : a + lim.rows]
            self._row_views.append((lim, a_rows, self.lower[rows], self.upper[rows]))
            r += lim.rows
        self._rate = [lim for lim in self.limits if lim.stage == RATE]
        self._position = [lim for lim in self.limits if lim.stage == POSITION]
        self.H = np.zeros((nv, nv))
        self._diag = self.H.reshape(-1)[:: nv + 1]
        self.solver = make_solver(solver, nv, m, neq)
        self._soft: object | None = None  # box-only solver for the infeasible fallback
        self._cost_jacobians = [(t, J, e) for t, J, e, _ in self._cost_views]
        self._eq_jacobians = [(t, J, e) for t, J, e, _ in self._eq_views]
        self._box = _FusedBox.build(robot, self._rate, self._position, self.lb, self.ub)
        self.last_status = 0
        self.used_fallback = False
        self.clamp_errors = True  # tasks may clamp the error they feed to the QP

    @property
    def damping(self) -> float:
        """Tikhonov damping lambda added to the diagonal of H."""
        return self._damping

    @damping.setter
    def damping(self, value: float) -> None:
        self._damping = float(value)
        self._weights_seen = -1  # re-stack: the damping lives in the diagonal constant

    @staticmethod
    def _views(tasks: Sequence[Task], J: np.ndarray, e: np.ndarray) -> list:
        views, r = [], 0
        for t in tasks:
            block = J[r : r + t.dim]
            t.init_jacobian(block)
            views.append((t, block, e[r : r + t.dim], slice(r, r + t.dim)))
            r += t.dim
        return views

    # --- kinematics and QP assembly ------------------------------------------------------
    def update_kinematics(self, q: np.ndarray) -> None:
        """Forward kinematics + joint Jacobians (+ CoM Jacobian if needed) at q."""
        self.q[:] = q
        pin.computeJointJacobians(self.model, self.data, self.q)
        if self.uses_com:
            self.Jcom = pin.jacobianCenterOfMass(self.model, self.data, False)

    def cost(self, q: np.ndarray) -> float:
        """Weighted squared error of the cost tasks at q (unclamped): the objective that
        `PoseIK.solve` drives down."""
        self.update_kinematics(q)
        total = 0.0
        for t in self.tasks:
            e = t.error(self)
            total += float(t.weight @ (e * e))
        return total

    def solve(
        self,
        q: np.ndarray,
        dt: float | None = None,
        extra_damping: float = 0.0,
        update: bool = True,
    ) -> np.ndarray:
        """Displacement dq (tangent, nv) for one step from q; `dt` scales rate limits
        (None: no velocity/acceleration limits); `extra_damping` is added to lambda.
        `update=False` reuses the kinematics of the last `update_kinematics`/`cost` call
        (which must have been at this q). The returned array is also kept as `last_dq`
        (acceleration limits read it): copy it before changing it in place.
        Never fails: an infeasible QP is re-solved with constraints made soft."""
        if update:
            self.q[:] = q
            pin.computeJointJacobians(self.model, self.data, self.q)
            if self.uses_com:
                self.Jcom = pin.jacobianCenterOfMass(self.model, self.data, False)
        if self._weights_seen != WEIGHTS_VERSION[0]:
            self._stack_weights()
        for t, J, e in self._cost_jacobians:
            t.compute(self, J, e)
        if self._unit_weights:  # Jw is J_cost and rw is e_cost (aliases): nothing to scale
            np.matmul(self._J_cost_T, self.J_cost, out=self.H)
            np.matmul(self.e_cost, self.J_cost, out=self.f)
        else:
            np.multiply(self.J_cost, self._sqrt_w_column, out=self.Jw)
            np.multiply(self.e_cost, self.gain_w, out=self.rw)
            np.matmul(self._Jw_T, self.Jw, out=self.H)
            np.matmul(self.rw, self.Jw, out=self.f)
        self._diag += self._diag_weight  # damping + diagonal tasks' weights
        if extra_damping or self.lm_damping:
            self._diag += extra_damping + self.lm_damping * float(self.rw @ self.rw)
        for t, e, f_rows, wg in self._diag_tasks:
            t.compute(self, None, e)
            e *= wg
            f_rows += e

        if self._eq_jacobians:
            for t, J, e in self._eq_jacobians:
                t.compute(self, J, e)
            np.multiply(self._eq_e, self._eq_gain, out=self._eq_upper)
            self._eq_lower[:] = self._eq_upper
        for lim, A, lo, up in self._row_views:
            lim.fill_rows(self, A, lo, up)

        if self._box is not None:
            self._box.apply(self.q, dt)
        else:
            self.lb.fill(-INF)
            self.ub.fill(INF)
            for lim in self._rate:
                lim.apply(self, dt, self.lb, self.ub)
            for lim in self._position:
                lim.apply(self, dt, self.lb, self.ub)

        x = self.solver.solve(self.H, self.f, self.A, self.lower, self.upper)
        self.last_status = self.solver.last_status
        self.used_fallback = x is None
        if x is None:
            x = self._solve_soft()
        self.last_dq = x  # a fresh array from the solver: keeping a reference is safe
        return x

    def _stack_weights(self) -> None:
        """sqrt(w) and sqrt(w) * gain per cost row, -gain per constraint row: redone only
        when some task's weight or gain changed (WEIGHTS_VERSION)."""
        for t, _, _, rows in self._cost_views:
            self.sqrt_w[rows] = t.weight
            self.gain_w[rows] = t.gain
        np.sqrt(self.sqrt_w, out=self.sqrt_w)
        self.gain_w *= self.sqrt_w
        for t, _, _, rows in self._eq_views:
            self._eq_gain[rows] = -t.gain
        self._unit_weights = bool(np.all(self.sqrt_w == 1.0) and np.all(self.gain_w == 1.0))
        if self._unit_weights:
            self.Jw, self.rw = self.J_cost, self.e_cost
        else:
            self.Jw, self.rw = self._Jw_buffer, self._rw_buffer
        self._Jw_T = self.Jw.T
        self._diag_weight.fill(self.damping)
        for t, _, _, wg in self._diag_tasks:
            self._diag_weight[t.diagonal_index] += t.weight
            np.multiply(t.weight, t.gain, out=wg)
        self._weights_seen = WEIGHTS_VERSION[0]

    def predicted_ratio(self, dq: np.ndarray) -> float:
        """Cost the linearised tasks predict after the step `dq` (from the last `solve`),
        as a fraction of the cost before it: near 1 means q is a (constrained) stationary
        point, where differential IK cannot make progress."""
        r = self.Jw @ dq
        r += self.rw
        before = float(self.rw @ self.rw)
        return float(r @ r) / before if before > 0 else 0.0

    def _solve_soft(self) -> np.ndarray:
        """Infeasible hard QP (e.g. a foot constraint against a joint limit): move the rows
        into the cost with a large weight and keep only the (always feasible) box."""
        nv, neq = self.nv, len(self._eq_e)
        H, f = self.H.copy(), self.f.copy()
        w = SOFT_CONSTRAINT_WEIGHT
        if neq:
            A = self.A[:neq]
            b = self.upper[nv : nv + neq]
            H += w * A.T @ A
            f -= w * A.T @ b
        for _, A, _, up in self._row_views:
            # penalise only violated rows at dq = 0 (a cheap, conservative choice)
            viol = up < 0
            if np.any(viol):
                H += w * A[viol].T @ A[viol]
                f -= w * A[viol].T @ up[viol]
        if self._soft is None:
            self._soft = make_solver(self.solver.name, nv, 0, 0)
        x = self._soft.solve(H, f, np.zeros((0, nv)), self.lower[:nv], self.upper[:nv])
        if x is None:  # the box alone is always feasible; keep still if even that fails
            x = np.zeros(nv)
        return x

    def task_errors(self) -> np.ndarray:
        """Unweighted errors of the dense cost tasks (all but posture / pinned joints) of
        the last `solve`, stacked in task order."""
        return self.e_cost


class _FusedBox:
    """The common box: a `VelocityLimit` (no anchor) and/or one `JointPositionLimit` on
    the commanded joints, computed in a few in-place numpy operations on views instead of
    a dozen per limit:  lb = clip(gain (q_min - q), -v dt, v dt),  ub likewise.
    Same result as applying the limits one by one (`IKProblem` falls back to that for
    any other combination)."""

    def __init__(self, velocity, position, q_index, lb, ub):
        self.velocity, self.position = velocity, position
        self.q_index, self.lb, self.ub = q_index, lb, ub
        self._dt: float | None = None
        self._vmax = None
        self._vdt = np.empty(len(lb))
        self._neg_vdt = np.empty(len(lb))

    @classmethod
    def build(cls, robot, rate, position, lb, ub) -> _FusedBox | None:
        if len(rate) > 1 or len(position) > 1 or not (rate or position):
            return None
        vel = rate[0] if rate else None
        pos = position[0] if position else None
        if vel is not None and (type(vel) is not VelocityLimit or vel.anchor is not None):
            return None
        if pos is not None and type(pos) is not JointPositionLimit:
            return None
        first = vel if vel is not None else pos
        if not (isinstance(first._q, slice) and isinstance(first._v, slice)):
            return None
        if vel is not None and pos is not None and (vel._q, vel._v) != (pos._q, pos._v):
            return None
        if len(robot.joint_names) != robot.nv - (6 if robot.floating_base else 0):
            return None  # some v entries are not commanded joints: keep the general path
        box = cls(vel, pos, first._q, lb[first._v], ub[first._v])
        lb.fill(-INF)  # entries outside the joints (free-flyer) stay unbounded
        ub.fill(INF)
        return box

    def apply(self, q: np.ndarray, dt: float | None) -> None:
        lb, ub, pos = self.lb, self.ub, self.position
        if pos is not None:
            qj = q[self.q_index]
            np.subtract(pos.lower, qj, out=lb)
            np.subtract(pos.upper, qj, out=ub)
            if pos.gain != 1.0:
                lb *= pos.gain
                ub *= pos.gain
        else:
            lb.fill(-INF)
            ub.fill(INF)
        if self.velocity is not None and dt is not None:
            if dt != self._dt or self.velocity.v_max is not self._vmax:
                np.multiply(self.velocity.v_max, dt, out=self._vdt)
                np.negative(self._vdt, out=self._neg_vdt)
                self._dt, self._vmax = dt, self.velocity.v_max
            clip_ufunc(lb, self._neg_vdt, self._vdt, out=lb)
            clip_ufunc(ub, self._neg_vdt, self._vdt, out=ub)


def integrate(robot: RobotModel, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
    """q (+) dq on the configuration manifold, joints clipped into their limits.
    Plain addition when the model has only 1-DoF joints (no free-flyer)."""
    model = robot.model
    if robot.q_is_joint_vector:
        out = q + dq
        return clip_ufunc(out, model.lowerPositionLimit, model.upperPositionLimit, out=out)
    out = q + dq if model.nq == model.nv else pin.integrate(model, q, dq)
    lo, hi, qi = robot.joint_limits_q
    joints = out[qi]
    clip_ufunc(joints, lo, hi, out=joints)
    if not isinstance(qi, slice):
        out[qi] = joints
    return out


_PROBLEMS: OrderedDict[tuple, IKProblem] = OrderedDict()
_MAX_CACHED = 16


def solve_ik(
    robot: RobotModel,
    q: np.ndarray,
    tasks: Sequence[Task],
    dt: float | None = None,
    *,
    limits: Sequence[Limit] | None = None,
    constraints: Sequence[Task] = (),
    damping: float = 1e-6,
    lm_damping: float = 0.0,
    solver: str = "daqp",
) -> np.ndarray:
    """One IK step: the displacement dq (nv) that best achieves `tasks` from `q`.

    pink-shaped convenience over `IKProblem`: the problem for this (robot, tasks, limits,
    constraints, solver) set is built on first use and cached, so repeated calls allocate
    nothing new. Default limits: the joint range. Integrate with `integrate(robot, q, dq)`.
    """
    if limits is None:
        limits = _default_limits(robot)
    key = (
        id(robot),
        tuple(map(id, tasks)),
        tuple(map(id, limits)),
        tuple(map(id, constraints)),
        damping,
        lm_damping,
        solver,
    )
    problem = _PROBLEMS.get(key)
    if problem is None:
        problem = IKProblem(robot, tasks, limits, constraints, damping, lm_damping, solver)
        _PROBLEMS[key] = problem  # the problem holds the objects, so ids stay unique
        if len(_PROBLEMS) > _MAX_CACHED:
            _PROBLEMS.popitem(last=False)
    else:
        _PROBLEMS.move_to_end(key)
    return problem.solve(robot.check_q(q), dt).copy()


_DEFAULT_LIMITS: dict[int, tuple[RobotModel, list[Limit]]] = {}


def _default_limits(robot: RobotModel) -> list[Limit]:
    entry = _DEFAULT_LIMITS.get(id(robot))
    if entry is None or entry[0] is not robot:
        if len(_DEFAULT_LIMITS) >= _MAX_CACHED:
            _DEFAULT_LIMITS.clear()
        entry = (robot, [JointPositionLimit()])
        _DEFAULT_LIMITS[id(robot)] = entry
    return entry[1]


_SEED_TABLES: dict[tuple[int, str], tuple] = {}


@dataclass
class IKResult:
    """Outcome of `PoseIK.solve`: final configuration and errors (m, rad)."""

    q: np.ndarray
    converged: bool
    steps: int
    pos_err: float
    rot_err: float


class PoseIK:
    """End-effector pose IK: a FrameTask (+ optional extra tasks) under joint range and
    velocity limits. `step` is one QP step; `solve` iterates to convergence."""

    def __init__(
        self,
        robot: RobotModel,
        frame: str | None = None,
        solver: str = "daqp",
        *,
        position_weight: float | np.ndarray = 1.0,
        orientation_weight: float | np.ndarray = 1.0,
        posture_weight: float = 0.0,
        extra_tasks: Sequence[Task] = (),
        extra_limits: Sequence[Limit] = (),
        constraints: Sequence[Task] = (),
        damping: float = 1e-6,
        lm_damping: float = 0.0,
        velocity_limit: bool = True,
        position_limit_gain: float = 1.0,
        max_position_error: float = np.inf,
        max_orientation_error: float = np.inf,
        seed: int = 0,
    ) -> None:
        from vla_ros.retarget.ik_limits import VelocityLimit

        self.robot = robot
        self.frame = frame or robot.ee_frame
        self.task = FrameTask(
            self.frame, position_weight, orientation_weight,
            max_position_error=max_position_error, max_orientation_error=max_orientation_error,
        )
        tasks: list[Task] = [self.task, *extra_tasks]
        self.posture = PostureTask(posture_weight) if posture_weight > 0 else None
        if self.posture is not None:
            tasks.append(self.posture)
        self.velocity = VelocityLimit() if velocity_limit else None
        limits: list[Limit] = [JointPositionLimit(gain=position_limit_gain), *extra_limits]
        if self.velocity is not None:
            limits.insert(0, self.velocity)
        self.problem = IKProblem(
            robot, tasks, limits, constraints, damping=damping, lm_damping=lm_damping,
            solver=solver,
        )
        self.seed = seed  # kept for API compatibility: restarts are deterministic now

    def step(self, q: np.ndarray, T_target: np.ndarray | pin.SE3, dt: float | None) -> np.ndarray:
        """Next configuration: one QP step from q towards T_target; `dt` (s) bounds the
        motion by the velocity limits (None: no velocity limit)."""
        q = self.robot.check_q(q)
        self.task.set_target(T_target)
        dq = self.problem.solve(q, dt)
        return integrate(self.robot, q, dq)

    def errors(self, q: np.ndarray) -> tuple[float, float]:
        """(position error m, orientation error rad) of the frame at q against the target."""
        self.problem.update_kinematics(self.robot.check_q(q))
        return self._errors_now()

    def _errors_now(self) -> tuple[float, float]:
        e = self.task.error(self.problem)
        return float(np.linalg.norm(e[:3])), float(np.linalg.norm(e[3:]))

    def solve(
        self,
        q0: np.ndarray,
        T_target: np.ndarray | pin.SE3,
        max_steps: int = 50,
        tol_pos: float = 1e-3,
        tol_rot: float = 1e-2,
        dt: float | None = None,
        restarts: bool = True,
    ) -> IKResult:
        """Iterate QP steps from q0 until the pose is within tolerance (and other tasks have
        settled) or `max_steps` steps in all; without `dt` velocity limits are not applied.

        Each step is backtracked (LINE_SEARCH) until the task cost falls: a full
        Gauss-Newton step far from the target can overshoot. Differential IK is local:
        from q0 it can stall against a joint limit when the target lies on another IK
        branch (e.g. the wrist must turn the long way round). With `restarts`, a stall
        (cost not down by STALL_DECREASE in STALL_STEPS steps) restarts, within the same
        step budget, first from q with the limiting joints turned a full turn back, then
        from the configurations of a seeded table whose poses are nearest the target.
        The best configuration found is returned if none converges.
        """
        q = self.robot.check_q(q0).copy()
        self.task.set_target(T_target)
        problem = self.problem
        cost = problem.cost(q)  # also leaves the kinematics at q for the step below
        best_cost, best_q = cost, q.copy()
        ref, since, flipped, n_restarts = cost, 0, False, 0
        lam, attempt, cap, fast = 0.0, 0, FIRST_ATTEMPT_STEPS, False
        for k in range(max_steps + 1):
            pos_err, rot_err = self._errors_now()
            if pos_err <= tol_pos and rot_err <= tol_rot and self._extra_tasks_settled():
                return IKResult(q, True, k, pos_err, rot_err)
            if k == max_steps:
                break
            attempt += 1
            if restarts and (since >= STALL_STEPS or (attempt > cap and not fast)):
                attempt, cap = 1, ATTEMPT_STEPS
                seed = None if flipped else self._flip_seed(q)
                flipped = True  # one flip per solve: it rarely helps twice
                if seed is None:
                    seed = self._table_seed(n_restarts)
                    n_restarts += 1
                q = seed
                cost = problem.cost(q)
                ref, since, lam, fast = cost, 0, 0.0, False
            dq = problem.solve(q, dt, extra_damping=lam, update=False)
            if flipped and problem.predicted_ratio(dq) > STATIONARY:
                since = STALL_STEPS  # stuck at a constrained local minimum: restart next
            full_step, before = False, cost
            for alpha in LINE_SEARCH:
                trial = integrate(self.robot, q, dq if alpha == 1.0 else alpha * dq)
                trial_cost = problem.cost(trial)
                if trial_cost < cost:
                    q, cost, full_step = trial, trial_cost, alpha == 1.0
                    break
            else:  # no descent along this step: stay (counts towards a stall)
                problem.cost(q)
            lam = lam * LM_DOWN if full_step else min(max(lam * LM_UP, LM_MIN), LM_MAX)
            fast = cost < FAST_DECREASE * before
            if cost < best_cost:
                best_cost, best_q = cost, q.copy()
            if cost < STALL_DECREASE * ref:
                ref, since = cost, 0
            else:
                since += 1

        problem.update_kinematics(best_q)
        pos_err, rot_err = self._errors_now()
        return IKResult(best_q, False, max_steps, pos_err, rot_err)

    def _flip_seed(self, q: np.ndarray) -> np.ndarray | None:
        """Stalled against a limit of a joint with more than half a turn of range: the
        target may need that joint the long way round, which a local step never takes
        (the orientation error always points the short way). Seed: the same q with those
        joints moved a full turn back, clipped into range. None if no joint qualifies."""
        robot = self.robot
        joints = robot.joints_from_q(q)
        span = robot.upper - robot.lower
        at_upper = (robot.upper - joints < 1e-3) & (span > np.pi)
        at_lower = (joints - robot.lower < 1e-3) & (span > np.pi)
        if not (at_upper.any() or at_lower.any()):
            return None
        joints = joints - 2 * np.pi * at_upper + 2 * np.pi * at_lower
        joints = np.clip(joints, robot.lower + 1e-3, robot.upper - 1e-3)
        seed = q.copy()
        seed[robot.joint_q_index] = joints
        return seed

    def _seed_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(configurations, frame positions, frame rotations) of SEED_TABLE_SIZE random
        configurations inside the limits; built on the first restart (a few ms), the same
        for every PoseIK of this robot and frame."""
        key = (id(self.robot), self.frame)
        table = _SEED_TABLES.get(key)
        if table is None or table[0] is not self.robot:
            robot = self.robot
            rng = np.random.default_rng(0)
            qs = np.repeat(robot.q_neutral[None], SEED_TABLE_SIZE, axis=0)
            qs[:, robot.joint_q_index] = rng.uniform(
                robot.lower, robot.upper, (SEED_TABLE_SIZE, len(robot.joint_names))
            )
            model, data = robot.model, robot.model.createData()
            fid = robot.frame_id(self.frame)
            pos = np.empty((SEED_TABLE_SIZE, 3))
            rot = np.empty((SEED_TABLE_SIZE, 9))
            for i, qi in enumerate(qs):
                pin.forwardKinematics(model, data, qi)
                T = pin.updateFramePlacement(model, data, fid)
                pos[i] = T.translation
                rot[i] = T.rotation.reshape(-1)
            table = (robot, qs, pos, rot)
            _SEED_TABLES[key] = table
        return table[1], table[2], table[3]

    def _table_seed(self, attempt: int) -> np.ndarray:
        """Restart seed: among the table configurations whose frame poses lie nearest the
        target, the one with the lowest full task cost (extra tasks such as a pinned joint
        count too); successive restarts take successive groups of candidates."""
        qs, pos, rot = self._seed_table()
        task = self.task
        d = pos - task.p_target
        dist = np.einsum("ij,ij->i", d, d)
        dr = rot - task.R_target.reshape(-1)
        dist += SEED_ROTATION_SCALE**2 * np.einsum("ij,ij->i", dr, dr)
        k = SEED_CANDIDATES
        first = (attempt * k) % (len(dist) - k)
        order = np.argpartition(dist, first + k - 1)[: first + k]
        group = order[np.argsort(dist[order])][first : first + k]
        costs = [self.problem.cost(qs[i]) for i in group]
        return qs[group[int(np.argmin(costs))]].copy()

    def _extra_tasks_settled(self, tol: float = 1e-3) -> bool:
        """Other cost tasks (pinned joint, swivel) count for convergence too, posture not."""
        for t in self.problem.tasks:
            if t is self.task or isinstance(t, PostureTask):
                continue
            if np.max(np.abs(t.error(self.problem))) > tol:
                return False
        return True
