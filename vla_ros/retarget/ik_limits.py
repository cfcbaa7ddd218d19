"""IK limits: bounds on the configuration displacement dq, or linear inequality rows.

Box limits are combined in two stages so the QP is always feasible:
1. *rate* limits (velocity, acceleration) intersect into a box around dq = 0;
2. *position* limits (joint range) are then clipped into that box. If the robot is
   outside its range, the box still admits the fastest move back instead of being empty.
Row limits (support polygon) add inequality rows  lo <= A dq <= up  to the QP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vla_ros.retarget.errors import IKError
from vla_ros.retarget.qp_solvers import INF

if TYPE_CHECKING:
    from vla_ros.retarget.ik import IKProblem
    from vla_ros.retarget.robot_model import RobotModel

RATE, POSITION, ROWS = 0, 1, 2


def _index(idx: np.ndarray) -> slice | np.ndarray:
    """A slice when the indices are contiguous (cheaper views), else the index array."""
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return slice(int(idx[0]), int(idx[0]) + len(idx))
    return idx


class Limit:
    """Base class. `stage` is RATE, POSITION or ROWS; ROWS limits set `rows`."""

    stage = RATE
    rows = 0
    uses_com = False

    def bind(self, robot: RobotModel) -> None:
        """Resolve indices for `robot` (called by `IKProblem`)."""
        self._q = _index(np.sort(robot.joint_q_index))
        self._v = _index(np.sort(robot.joint_v_index))
        order = np.argsort(robot.joint_v_index)
        self._perm = order  # joint_names order -> model v order

    def apply(
        self, p: IKProblem, dt: float | None, lb: np.ndarray, ub: np.ndarray
    ) -> None:
        """Box limits: tighten `lb`/`ub` (length nv) in place."""

    def fill_rows(self, p: IKProblem, A: np.ndarray, lo: np.ndarray, up: np.ndarray) -> None:
        """Row limits: write `rows` rows of A and their bounds."""


class JointPositionLimit(Limit):
    """q_min + margin <= q + dq <= q_max - margin for the commanded joints.

    `gain` < 1 approaches a limit gradually (a fraction of the remaining distance per step).
    """

    stage = POSITION

    def __init__(self, margin: float = 0.0, gain: float = 1.0) -> None:
        if margin < 0 or not 0 < gain <= 1:
            raise IKError(
                f"JointPositionLimit: need margin >= 0, 0 < gain <= 1 (got {margin}, {gain})"
            )
        self.margin = float(margin)
        self.gain = float(gain)

    def bind(self, robot):
        super().bind(robot)
        lo = robot.model.lowerPositionLimit[self._q]
        hi = robot.model.upperPositionLimit[self._q]
        margin = np.minimum(self.margin, 0.49 * (hi - lo))
        self.lower = lo + margin
        self.upper = hi - margin
        n = len(self.lower)
        self._tl, self._tu = np.empty(n), np.empty(n)

    def apply(self, p, dt, lb, ub):
        q = p.q[self._q]
        tl, tu = self._tl, self._tu
        np.subtract(self.lower, q, out=tl)
        np.subtract(self.upper, q, out=tu)
        if self.gain != 1.0:
            tl *= self.gain
            tu *= self.gain
        lbv, ubv = lb[self._v], ub[self._v]
        # clip into the rate box [lbv, ubv]: keeps lb <= ub even outside the range
        np.minimum(np.maximum(tl, lbv, out=tl), ubv, out=tl)
        np.minimum(np.maximum(tu, lbv, out=tu), ubv, out=tu)
        lb[self._v] = tl
        ub[self._v] = tu


class VelocityLimit(Limit):
    """|dq| <= v_max * dt per joint (only when the step has a dt).

    With an `anchor` configuration the box is around the anchor instead of the current q:
    several IK iterations inside one control period then move at most v_max * dt in total.
    """

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise IKError(f"VelocityLimit: scale must be > 0, got {scale}")
        self.scale = float(scale)
        self.anchor: np.ndarray | None = None

    def bind(self, robot):
        super().bind(robot)
        self.v_max = robot.velocity_limit[self._perm] * self.scale
        n = len(self.v_max)
        self._tl, self._tu = np.empty(n), np.empty(n)

    def apply(self, p, dt, lb, ub):
        if dt is None:
            return
        tu = np.multiply(self.v_max, dt, out=self._tu)
        if self.anchor is None:
            np.negative(tu, out=self._tl)
        else:
            offset = self.anchor[self._q] - p.q[self._q]
            np.subtract(offset, tu, out=self._tl)
            tu += offset
        np.maximum(lb[self._v], self._tl, out=self._tl)
        np.minimum(ub[self._v], tu, out=tu)
        lb[self._v] = self._tl
        ub[self._v] = tu


class AccelerationLimit(Limit):
    """|dq - dq_prev| <= a_max * dt^2 per joint, dq_prev being the previous step's motion."""

    def __init__(self, a_max: float | np.ndarray) -> None:
        self._a = np.asarray(a_max, dtype=float)
        if np.any(self._a <= 0):
            raise IKError(f"AccelerationLimit: a_max must be > 0, got {a_max!r}")

    def bind(self, robot):
        super().bind(robot)
        n = len(robot.joint_names)
        self.a_max = np.broadcast_to(self._a, (n,))[self._perm].copy()

    def apply(self, p, dt, lb, ub):
        if dt is None:
            return
        prev = p.last_dq[self._v]
        da = self.a_max * (dt * dt)
        lo = np.maximum(lb[self._v], prev - da)
        hi = np.minimum(ub[self._v], prev + da)
        np.minimum(lo, hi, out=lo)  # disjoint boxes (braking harder than allowed): pick hi
        lb[self._v] = lo
        ub[self._v] = hi


class SupportPolygonLimit(Limit):
    """Horizontal centre of mass inside a convex polygon (shrunk by `margin` metres):
    N (c + Jc dq) <= b - margin, one row per polygon edge (linearised CoM)."""

    stage = ROWS
    uses_com = True

    def __init__(self, max_edges: int = 16, margin: float = 0.01) -> None:
        self.rows = int(max_edges)
        self.normals = np.zeros((self.rows, 2))
        self._normals3 = np.zeros((self.rows, 3))  # (n_x, n_y, 0): rows act on 3-D CoM data
        self.offsets = np.full(self.rows, INF)
        self._bound = np.full(self.rows, INF)  # offsets - margin
        self.vertices = np.zeros((0, 2))
        self.margin = margin

    @property
    def margin(self) -> float:
        """Distance (m) kept from the polygon's edges; negative widens the polygon."""
        return self._margin

    @margin.setter
    def margin(self, value: float) -> None:
        self._margin = float(value)
        np.subtract(self.offsets, self._margin, out=self._bound)

    def set_polygon(self, points: np.ndarray) -> None:
        """The polygon is the convex hull of `points` (k x 2, world x-y)."""
        hull = convex_hull(np.asarray(points, dtype=float))
        if len(hull) < 3:
            raise IKError(f"support polygon needs 3+ non-collinear points, got {len(hull)}")
        if len(hull) > self.rows:
            raise IKError(f"support polygon has {len(hull)} edges, limit built for {self.rows}")
        self.vertices = hull
        edges = np.roll(hull, -1, axis=0) - hull
        normals = np.column_stack((edges[:, 1], -edges[:, 0]))  # outward for CCW order
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        k = len(hull)
        self.normals[:] = 0.0
        self.offsets[:] = INF
        self.normals[:k] = normals
        self.offsets[:k] = np.einsum("ij,ij->i", normals, hull)
        self._normals3[:, :2] = self.normals
        np.subtract(self.offsets, self._margin, out=self._bound)

    def contains(self, xy: np.ndarray, margin: float = 0.0) -> bool:
        """Whether a ground point lies inside the polygon shrunk by `margin`."""
        return bool(np.all(self.normals @ np.asarray(xy)[:2] <= self.offsets - margin))

    def fill_rows(self, p, A, lo, up):
        np.matmul(self._normals3, p.Jcom, out=A)
        np.subtract(self._bound, self._normals3 @ p.data.com[0], out=up)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """2-D convex hull in counter-clockwise order (Andrew's monotone chain)."""
    pts = sorted(set(map(tuple, np.round(points, 12))))
    if len(pts) < 3:
        return np.array(pts, dtype=float).reshape(-1, 2)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for pt in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], pt) <= 0:
            lower.pop()
        lower.append(pt)
    upper: list = []
    for pt in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], pt) <= 0:
            upper.pop()
        upper.append(pt)
    return np.array(lower[:-1] + upper[:-1], dtype=float)
