"""A closed-loop scripted expert for the twist interface: visits end-effector waypoints.

Unlike `ScriptedTeleop` (open-loop timed twists), this expert watches the end-effector pose
(`observe`) and steers towards each waypoint with a proportional twist, so it reaches the
same places whatever the servo's lag — the operator stand-in for recording demonstrations
through the teleop path. Orientation is held at the pose of the first observation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vla_ros.teleop.command import TeleopCommand
from vla_ros.teleop.errors import TeleopConfigError


@dataclass(frozen=True)
class Waypoint:
    """An EE position (m, base frame; relative to the start pose when the expert is
    relative), the gripper command once there (None = unchanged) and a dwell time."""

    position: tuple[float, float, float]
    gripper: float | None = None
    hold_s: float = 0.0


def waypoints_from_flat(values: Sequence[float], hold_s: float = 0.0) -> list[Waypoint]:
    """[x, y, z, g, x, y, z, g, ...] (g < 0: gripper unchanged) → waypoints; the shape a
    ROS double-array parameter can hold."""
    values = [float(v) for v in values]
    if not values or len(values) % 4:
        raise TeleopConfigError(f"waypoints need 4 values each (x y z gripper), got "
                                f"{len(values)} values")
    return [Waypoint((values[i], values[i + 1], values[i + 2]),
                     None if values[i + 3] < 0 else min(values[i + 3], 1.0), hold_s)
            for i in range(0, len(values), 4)]


class WaypointExpert:
    """Proportional EE servo over waypoints; `done` once the last one is reached (it keeps
    steering to hold it). A waypoint counts as reached within `tolerance` (m) and
    `rotation_tolerance` (rad) of the start orientation."""

    def __init__(self, waypoints: Sequence[Waypoint], relative: bool = True, gain: float = 2.0,
                 max_speed: float = 0.1, tolerance: float = 0.005,
                 rotation_gain: float = 1.0, max_angular: float = 0.5,
                 rotation_tolerance: float = 0.02) -> None:
        if not waypoints:
            raise TeleopConfigError("a waypoint expert needs at least one waypoint")
        if gain <= 0 or max_speed <= 0 or tolerance <= 0:
            raise TeleopConfigError("gain, max_speed and tolerance must be > 0")
        self.waypoints = list(waypoints)
        self.relative = relative
        self.gain, self.max_speed, self.tolerance = gain, max_speed, tolerance
        self.rotation_gain, self.max_angular = rotation_gain, max_angular
        self.rotation_tolerance = rotation_tolerance
        self.index = 0
        self.pose: np.ndarray | None = None
        self._origin: np.ndarray | None = None
        self._arrived_at: float | None = None
        self._gripper: float | None = None

    @property
    def done(self) -> bool:
        return self.index >= len(self.waypoints)

    def observe(self, T_ee: np.ndarray) -> None:
        """The measured end-effector pose (4x4, base frame)."""
        self.pose = np.asarray(T_ee, dtype=np.float64)
        if self._origin is None:
            self._origin = self.pose.copy()

    def target(self, index: int) -> np.ndarray:
        position = np.asarray(self.waypoints[index].position, dtype=np.float64)
        return self._origin[:3, 3] + position if self.relative else position

    def poll(self, t: float) -> TeleopCommand:
        import pinocchio as pin  # lazy: only experts need it

        if self.pose is None:
            return TeleopCommand()
        index = min(self.index, len(self.waypoints) - 1)  # when done: hold the last one
        error = self.target(index) - self.pose[:3, 3]
        # base-frame rotation taking the current orientation back to the start one
        rotation = pin.log3(self._origin[:3, :3] @ self.pose[:3, :3].T)
        arrived = (np.linalg.norm(error) <= self.tolerance
                   and np.linalg.norm(rotation) <= self.rotation_tolerance)
        if not self.done and arrived:
            waypoint = self.waypoints[index]
            if waypoint.gripper is not None:
                self._gripper = waypoint.gripper
            if self._arrived_at is None:
                self._arrived_at = t
            if t - self._arrived_at >= waypoint.hold_s:
                self.index += 1
                self._arrived_at = None
        linear = _clamp(self.gain * error, self.max_speed)
        angular = _clamp(self.rotation_gain * rotation, self.max_angular)
        return TeleopCommand(linear, angular, self._gripper)

    def close(self) -> None:
        pass


def _clamp(v: np.ndarray, limit: float) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v * (limit / norm) if norm > limit else v
