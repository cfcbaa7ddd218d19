"""ros2_control `joint_trajectory_controller` semantics as a pure class (no ROS imports).

The `mujoco_sim` node stands in for ros2_control hardware + a joint_trajectory_controller;
this class is that controller's behaviour, sampled at the sim's control rate:

- a trajectory is joint names + points (positions, optional velocities, time_from_start)
  relative to a start time (None/0 = "now", as a zero header stamp in ROS);
- positions are interpolated linearly, or by cubic Hermite splines when every point has
  velocities;
- a new trajectory replaces the old one at its start time, starting from the state the
  old one commands at that moment (or the measured state if given) - no jump;
- an empty trajectory stops motion and holds the current command;
- unknown or duplicate joint names, size mismatches, non-finite values, non-increasing
  times and trajectories that end in the past are rejected with `TrajectoryError`;
- targets outside the joint limits are clamped, with a warning returned (and logged);
- joints a trajectory does not name hold their current command;
- after the last point the controller holds the last point.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


class TrajectoryError(ValueError):
    """A trajectory the controller rejects; the message says which field/joint/point."""


@dataclass(frozen=True)
class TrajectoryPoint:
    """One trajectory_msgs/JointTrajectoryPoint: positions [, velocities] at a time."""

    positions: Sequence[float]
    time_from_start: float
    velocities: Sequence[float] | None = None


@dataclass(frozen=True)
class CommandResult:
    """Outcome of an accepted command: warnings (clamping, dropped past points)."""

    warnings: list[str] = field(default_factory=list)


@dataclass
class _Spline:
    """Piecewise trajectory over all controller joints, in absolute time."""

    times: np.ndarray  # (k,) strictly increasing
    positions: np.ndarray  # (k, n)
    velocities: np.ndarray | None  # (k, n) for Hermite, None for linear

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        T, P, V = self.times, self.positions, self.velocities
        n = P.shape[1]
        if t <= T[0]:
            return P[0].copy(), (V[0].copy() if V is not None else np.zeros(n))
        if t >= T[-1]:
            return P[-1].copy(), np.zeros(n)
        i = int(np.searchsorted(T, t, side="right")) - 1
        h = T[i + 1] - T[i]
        s = (t - T[i]) / h
        p0, p1 = P[i], P[i + 1]
        if V is None:
            return p0 + s * (p1 - p0), (p1 - p0) / h
        v0, v1 = V[i], V[i + 1]
        s2, s3 = s * s, s * s * s
        pos = ((2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * h * v0
               + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * h * v1)
        vel = ((6 * s2 - 6 * s) * (p0 - p1) / h + (3 * s2 - 4 * s + 1) * v0
               + (3 * s2 - 2 * s) * v1)
        return pos, vel

    @property
    def end_time(self) -> float:
        return float(self.times[-1])


class JointTrajectoryController:
    """Follows joint trajectories for a fixed set of joints; sample it every control tick."""

    def __init__(
        self,
        joint_names: Sequence[str],
        lower: Sequence[float],
        upper: Sequence[float],
        initial_positions: Sequence[float] | None = None,
        start_time: float = 0.0,
    ):
        self.joint_names = list(joint_names)
        if len(set(self.joint_names)) != len(self.joint_names):
            raise TrajectoryError(f"duplicate controller joint names: {self.joint_names}")
        self._index = {n: i for i, n in enumerate(self.joint_names)}
        self.lower = np.asarray(lower, float)
        self.upper = np.asarray(upper, float)
        n = len(self.joint_names)
        if self.lower.shape != (n,) or self.upper.shape != (n,):
            raise TrajectoryError(f"limits must have {n} entries (one per joint)")
        q0 = np.zeros(n) if initial_positions is None else np.asarray(initial_positions, float)
        self._current = _hold(np.clip(q0, self.lower, self.upper), start_time)
        self._pending: _Spline | None = None
        self._switch_time = 0.0

    # -- queries -------------------------------------------------------------------
    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Commanded positions and velocities of all joints at absolute time t."""
        if self._pending is not None and t >= self._switch_time:
            self._current, self._pending = self._pending, None
        p, v = self._current.sample(t)
        return np.clip(p, self.lower, self.upper), v

    def is_moving(self, t: float) -> bool:
        """True while a trajectory is still being executed (or waiting to start)."""
        return self._pending is not None or t < self._current.end_time

    # -- commands ------------------------------------------------------------------
    def reset(self, positions: Sequence[float], now: float = 0.0) -> None:
        """Drop every trajectory and hold `positions` (e.g. after a sim reset)."""
        q = np.clip(np.asarray(positions, float), self.lower, self.upper)
        self._current, self._pending = _hold(q, now), None

    def stop(self, now: float) -> None:
        """Hold the position commanded at `now` (what an empty trajectory does)."""
        p, _ = self.sample(now)
        self._current, self._pending = _hold(p, now), None

    def command(
        self,
        joint_names: Sequence[str],
        points: Sequence[TrajectoryPoint],
        now: float,
        start_time: float | None = None,
        current_positions: Sequence[float] | None = None,
    ) -> CommandResult:
        """Replace the active trajectory. Raises `TrajectoryError` if it is rejected.

        `start_time` is absolute (None or 0: now). `current_positions` (all joints) is
        the measured state to start from; by default the controller's own command.
        """
        if len(points) == 0:
            self.stop(now)
            return CommandResult(["empty trajectory: stopped, holding current position"])
        idx = self._validate_names(joint_names)
        warnings: list[str] = []
        start = now if not start_time else float(start_time)
        P, V = self._validate_points(joint_names, idx, points, warnings)
        times = start + np.array([float(p.time_from_start) for p in points])
        if times[-1] < now:
            raise TrajectoryError(
                f"trajectory ends in the past: start {start:.3f} s + last time_from_start "
                f"{points[-1].time_from_start:.3f} s < now {now:.3f} s"
            )
        # The new trajectory takes over at t_switch from the state commanded then.
        t_switch = max(now, start)
        old = self._pending if (self._pending is not None and t_switch >= self._switch_time) \
            else self._current
        anchor_p, anchor_v = old.sample(t_switch)
        if current_positions is not None:
            anchor_p = np.asarray(current_positions, float).copy()
            if anchor_p.shape != (len(self.joint_names),):
                raise TrajectoryError(
                    f"current_positions has {anchor_p.size} values, expected "
                    f"{len(self.joint_names)} (one per controller joint)"
                )
        anchor_p = np.clip(anchor_p, self.lower, self.upper)
        keep = times > t_switch
        if not np.all(keep):
            warnings.append(f"dropped {int(np.sum(~keep))} point(s) already in the past")
        # Joints the message does not name hold the anchor command.
        full_p = np.repeat(anchor_p[None], int(keep.sum()), axis=0)
        full_p[:, idx] = P[keep]
        full_v = None
        if V is not None:
            full_v = np.zeros_like(full_p)
            full_v[:, idx] = V[keep]
            anchor_v = np.where(np.isin(np.arange(len(anchor_v)), idx), anchor_v, 0.0)
            full_v = np.vstack([anchor_v[None], full_v])
        spline = _Spline(
            times=np.concatenate([[t_switch], times[keep]]),
            positions=np.vstack([anchor_p[None], full_p]),
            velocities=full_v,
        )
        if t_switch <= now:
            self._current, self._pending = spline, None
        else:
            self._pending, self._switch_time = spline, t_switch
        for w in warnings:
            log.warning(w)
        return CommandResult(warnings)

    # -- validation ----------------------------------------------------------------
    def _validate_names(self, joint_names: Sequence[str]) -> np.ndarray:
        if len(joint_names) == 0:
            raise TrajectoryError("trajectory has points but no joint_names")
        if len(set(joint_names)) != len(joint_names):
            dup = sorted({n for n in joint_names if list(joint_names).count(n) > 1})
            raise TrajectoryError(f"duplicate joint names in trajectory: {dup}")
        unknown = [n for n in joint_names if n not in self._index]
        if unknown:
            raise TrajectoryError(
                f"unknown joint(s) {unknown}; this controller drives {self.joint_names}"
            )
        return np.array([self._index[n] for n in joint_names], dtype=int)

    def _validate_points(self, joint_names, idx, points, warnings):
        n = len(joint_names)
        has_vel = [p.velocities is not None and len(p.velocities) > 0 for p in points]
        if any(has_vel) and not all(has_vel):
            raise TrajectoryError(
                "velocities must be given for all points or none "
                f"(missing at points {[i for i, h in enumerate(has_vel) if not h]})"
            )
        P = np.zeros((len(points), n))
        V = np.zeros((len(points), n)) if all(has_vel) else None
        last_t = -np.inf
        for k, pt in enumerate(points):
            pos = np.asarray(pt.positions, float)
            if pos.shape != (n,):
                raise TrajectoryError(
                    f"point {k}: {pos.size} positions for {n} joint names {list(joint_names)}"
                )
            if not np.all(np.isfinite(pos)):
                raise TrajectoryError(f"point {k}: non-finite position {pos.tolist()}")
            tfs = float(pt.time_from_start)
            if not np.isfinite(tfs) or tfs < 0:
                raise TrajectoryError(f"point {k}: time_from_start {tfs} must be >= 0")
            if tfs <= last_t:
                raise TrajectoryError(
                    f"point {k}: time_from_start {tfs} s not after the previous {last_t} s"
                )
            last_t = tfs
            lo, hi = self.lower[idx], self.upper[idx]
            out = (pos < lo) | (pos > hi)
            for j in np.flatnonzero(out):
                warnings.append(
                    f"point {k}: joint '{joint_names[j]}' target {pos[j]:.4f} outside "
                    f"[{lo[j]:.4f}, {hi[j]:.4f}], clamped"
                )
            P[k] = np.clip(pos, lo, hi)
            if V is not None:
                vel = np.asarray(pt.velocities, float)
                if vel.shape != (n,) or not np.all(np.isfinite(vel)):
                    raise TrajectoryError(
                        f"point {k}: velocities must be {n} finite values, got {vel.tolist()}"
                    )
                V[k] = np.where(out, 0.0, vel)  # a clamped joint must not keep moving
        return P, V


def _hold(q: np.ndarray, t: float) -> _Spline:
    return _Spline(times=np.array([t]), positions=q[None].copy(), velocities=None)
