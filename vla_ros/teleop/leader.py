"""Leader–follower teleop (SO-100/101 style): the operator moves a passive leader arm; its
joint positions are mirrored, in joint space, onto the follower.

follower[j] = clamp(scale[j] * leader[map(j)] + offset[j], lower[j], upper[j]), then at
most `max_velocity * dt` away from the previous command: a leader that is started in a
different pose, or a joint whose encoder glitches, must not make the follower jump.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vla_ros.teleop.errors import TeleopConfigError


def _per_joint(name: str, values: Sequence[float] | float, count: int, default: float
               ) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values if values is not None else [], dtype=np.float64))
    if array.size == 0:
        return np.full(count, default)
    if array.size == 1:
        return np.full(count, float(array[0]))
    if array.size != count:
        raise TeleopConfigError(f"leader-follower '{name}' has {array.size} values for "
                                f"{count} follower joints")
    return array


@dataclass(frozen=True)
class JointMapping:
    """Leader joint names → follower joint names (same order) with per-joint scale, offset
    (rad, added after scaling) and follower limits."""

    leader_joints: tuple[str, ...]
    follower_joints: tuple[str, ...]
    scale: np.ndarray
    offset: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    max_velocity: float = np.inf  # rad/s per joint; inf = no rate limit

    @classmethod
    def build(cls, leader_joints: Sequence[str], follower_joints: Sequence[str] = (),
              scale: Sequence[float] | float = (), offset: Sequence[float] | float = (),
              lower: Sequence[float] | float = (), upper: Sequence[float] | float = (),
              max_velocity: float = np.inf) -> JointMapping:
        """Check and broadcast a mapping; empty follower names reuse the leader's, a single
        scale/offset/limit applies to all joints, empty limits mean unlimited."""
        leader = tuple(leader_joints)
        follower = tuple(follower_joints) or leader
        if not leader:
            raise TeleopConfigError("leader-follower needs at least one leader joint")
        if len(follower) != len(leader):
            raise TeleopConfigError(f"{len(leader)} leader joints {list(leader)} but "
                                    f"{len(follower)} follower joints {list(follower)}")
        for label, names in (("leader", leader), ("follower", follower)):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise TeleopConfigError(f"{label} joints listed twice: {dupes}")
        n = len(follower)
        lo = _per_joint("lower", lower, n, -np.inf)
        hi = _per_joint("upper", upper, n, np.inf)
        bad = [follower[i] for i in range(n) if not lo[i] <= hi[i]]
        if bad:
            raise TeleopConfigError(f"follower joints {bad} have lower limit > upper limit")
        if not max_velocity > 0:
            raise TeleopConfigError(f"max_velocity must be > 0, got {max_velocity}")
        return cls(leader, follower, _per_joint("scale", scale, n, 1.0),
                   _per_joint("offset", offset, n, 0.0), lo, hi, float(max_velocity))


    def within(self, lower: Sequence[float], upper: Sequence[float]) -> JointMapping:
        """This mapping with its limits narrowed to [lower, upper] (e.g. the URDF's), so a
        configured range can only tighten the robot's own."""
        n = len(self.follower_joints)
        lo = np.maximum(self.lower, _per_joint("lower", lower, n, -np.inf))
        hi = np.minimum(self.upper, _per_joint("upper", upper, n, np.inf))
        bad = [self.follower_joints[i] for i in range(n) if not lo[i] <= hi[i]]
        if bad:
            raise TeleopConfigError(f"follower joints {bad}: configured limits do not overlap "
                                    "the robot's")
        return replace(self, lower=lo, upper=hi)


class LeaderFollower:
    """Maps leader joint states to follower position commands."""

    def __init__(self, mapping: JointMapping) -> None:
        self.mapping = mapping
        self.last: np.ndarray | None = None
        self.clamped = np.zeros(len(mapping.follower_joints), dtype=bool)

    def map(self, names: Sequence[str], positions: Sequence[float]) -> np.ndarray:
        """Leader (names, positions) → clamped follower positions (follower joint order)."""
        positions = np.asarray(positions, dtype=np.float64)
        if len(names) != positions.size:
            raise TeleopConfigError(f"leader joint_states has {len(names)} names but "
                                    f"{positions.size} positions")
        index = {n: i for i, n in enumerate(names)}
        missing = [n for n in self.mapping.leader_joints if n not in index]
        if missing:
            raise TeleopConfigError(f"leader joint_states lacks joints {missing}")
        leader = positions[[index[n] for n in self.mapping.leader_joints]]
        if not np.all(np.isfinite(leader)):
            bad = [n for n, v in zip(self.mapping.leader_joints, leader, strict=True)
                   if not np.isfinite(v)]
            raise TeleopConfigError(f"leader joints {bad} report NaN or infinite positions")
        raw = self.mapping.scale * leader + self.mapping.offset
        out = np.clip(raw, self.mapping.lower, self.mapping.upper)
        self.clamped = out != raw
        return out

    def step(self, names: Sequence[str], positions: Sequence[float], dt: float) -> np.ndarray:
        """`map`, then rate-limited against the previous command (or the follower state given
        to `reset`); without either, the first command passes as is."""
        target = self.map(names, positions)
        if self.last is not None and np.isfinite(self.mapping.max_velocity):
            limit = self.mapping.max_velocity * max(dt, 0.0)
            target = self.last + np.clip(target - self.last, -limit, limit)
        self.last = target
        return target

    def reset(self, follower: Sequence[float] | None = None) -> None:
        """Forget the previous command; with the follower's measured positions, the next
        command is rate-limited from where the follower actually is (no first-step jump)."""
        if follower is None:
            self.last = None
            return
        follower = np.asarray(follower, dtype=np.float64)
        if follower.shape != (len(self.mapping.follower_joints),):
            raise TeleopConfigError(f"follower state has {follower.size} positions for "
                                    f"{len(self.mapping.follower_joints)} joints")
        self.last = follower.copy()


def gripper_fraction(value: float, open_value: float, closed_value: float) -> float:
    """A leader gripper joint position → 0 (open) … 1 (closed), clamped."""
    if open_value == closed_value:
        raise TeleopConfigError("gripper open and closed positions are equal")
    return float(np.clip((value - open_value) / (closed_value - open_value), 0.0, 1.0))


def urdf_joint_limits(urdf: str | Path, joints: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Position limits of `joints` from a URDF (via pinocchio), for follower clamping."""
    import pinocchio as pin

    path = Path(urdf)
    if not path.is_file():
        raise TeleopConfigError(f"URDF {path} does not exist")
    model = pin.buildModelFromUrdf(str(path))
    lower, upper = [], []
    for name in joints:
        if not model.existJointName(name):
            raise TeleopConfigError(f"joint '{name}' is not in URDF {path}")
        joint = model.joints[model.getJointId(name)]
        if joint.nq != 1:
            raise TeleopConfigError(f"joint '{name}' in {path} is not a 1-DoF joint")
        lower.append(model.lowerPositionLimit[joint.idx_q])
        upper.append(model.upperPositionLimit[joint.idx_q])
    return np.array(lower), np.array(upper)
