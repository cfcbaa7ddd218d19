"""Dense QP back-ends for differential IK, behind one small interface.

The problem every back-end solves (x = configuration displacement):

    minimize    1/2 x' H x + f' x
    subject to  lb <= x <= ub                  (box on every variable)
                bl <= A x <= bu                (rows; the first `n_eq` rows have bl == bu)

Buffers follow daqp's layout, the default and fastest back-end: `upper = [ub, bu]` and
`lower = [lb, bl]` in one array each, so the IK fills them in place and daqp reads them
without a copy. Infinite bounds are written as +-INF (1e30, daqp's infinity).
"""

from __future__ import annotations

import numpy as np

from vla_ros.retarget.errors import IKError

INF = 1e30
"""Bound value meaning "no bound" (daqp treats |b| >= 1e30 as infinite)."""

SOLVERS = ("daqp", "proxsuite", "quadprog")


class QPSolver:
    """Base class: holds the sizes; `solve` returns x or None when the QP failed."""

    name = "base"

    def __init__(self, n: int, m: int, n_eq: int) -> None:
        self.n, self.m, self.n_eq = n, m, n_eq
        self.last_status = 0

    def solve(
        self, H: np.ndarray, f: np.ndarray, A: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> np.ndarray | None:
        raise NotImplementedError


class DaqpSolver(QPSolver):
    """daqp (dual active set): a few microseconds for IK-sized problems.

    Uses `daqp.solve` with the full data each call: a warm-started `daqp.Model` (update +
    solve) measured no faster per IK step here, and this keeps no state that could go
    stale when the problem changes shape.
    """

    name = "daqp"

    def __init__(self, n: int, m: int, n_eq: int) -> None:
        super().__init__(n, m, n_eq)
        import daqp

        self._solve = daqp.solve
        self.sense = np.zeros(n + m, dtype=np.int32)
        self.sense[n : n + n_eq] = 5  # equality rows

    def solve(self, H, f, A, lower, upper):
        x, _, exitflag, _ = self._solve(H, f, A, upper, lower, self.sense)
        self.last_status = int(exitflag)
        return x if exitflag >= 1 else None


class ProxsuiteSolver(QPSolver):
    """proxsuite's dense ProxQP with box constraints (warm-started between calls)."""

    name = "proxsuite"

    def __init__(self, n: int, m: int, n_eq: int) -> None:
        super().__init__(n, m, n_eq)
        from proxsuite import proxqp

        self._qp = proxqp.dense.QP(n, n_eq, m - n_eq, True)
        self._qp.settings.eps_abs = 1e-9
        self._qp.settings.verbose = False
        self._status_ok = proxqp.QPSolverOutput.PROXQP_SOLVED
        self._initialised = False

    def solve(self, H, f, A, lower, upper):
        n, neq = self.n, self.n_eq
        args = (
            H,
            f,
            A[:neq] if neq else None,
            upper[n : n + neq] if neq else None,
            A[neq:] if self.m > neq else None,
            lower[n + neq :] if self.m > neq else None,
            upper[n + neq :] if self.m > neq else None,
            lower[:n],
            upper[:n],
        )
        if self._initialised:
            self._qp.update(*args)
        else:
            self._qp.init(*args)
            self._initialised = True
        self._qp.solve()
        status = self._qp.results.info.status
        self.last_status = 1 if status == self._status_ok else -1
        return self._qp.results.x.copy() if status == self._status_ok else None


class QuadprogSolver(QPSolver):
    """quadprog (Goldfarb-Idnani): no box support, so bounds become rows; slowest."""

    name = "quadprog"

    def __init__(self, n: int, m: int, n_eq: int) -> None:
        super().__init__(n, m, n_eq)
        import quadprog

        self._solve = quadprog.solve_qp
        self._eye = np.eye(n)

    def solve(self, H, f, A, lower, upper):
        n, neq = self.n, self.n_eq
        rows = np.vstack((self._eye, A)) if self.m else self._eye
        lo, up = lower[: n + self.m], upper[: n + self.m]
        eq = np.zeros(n + self.m, dtype=bool)
        eq[n : n + neq] = True
        has_up = (up < INF) & ~eq
        has_lo = (lo > -INF) & ~eq
        C = np.vstack((rows[eq], -rows[has_up], rows[has_lo])).T
        b = np.concatenate((up[eq], -up[has_up], lo[has_lo]))
        try:
            x = self._solve(H, -f, C, b, int(eq.sum()))[0]
        except ValueError:  # "constraints are inconsistent, no solution"
            self.last_status = -1
            return None
        self.last_status = 1
        return x


def make_solver(name: str, n: int, m: int, n_eq: int) -> QPSolver:
    """A back-end by name: 'daqp' (default), 'proxsuite' or 'quadprog'."""
    classes = {"daqp": DaqpSolver, "proxsuite": ProxsuiteSolver, "quadprog": QuadprogSolver}
    if name not in classes:
        raise IKError(f"unknown QP solver '{name}' (use one of {', '.join(SOLVERS)})")
    try:
        return classes[name](n, m, n_eq)
    except ImportError as exc:
        raise IKError(f"QP solver '{name}' is not installed: {exc}") from None
