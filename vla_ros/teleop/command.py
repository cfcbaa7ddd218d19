"""What every teleop device produces: a `TeleopCommand` (twist + gripper), and the shaping
(dead zone, scale, clamp) that turns raw stick/key values into a safe twist.

Devices differ (keys are on/off, sticks drift around zero, a SpaceMouse is very
sensitive); the shaping is the same for all, so the node and the retarget side see one
well-bounded signal: linear m/s and angular rad/s in the robot's base frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vla_ros.teleop.errors import TeleopConfigError


@dataclass
class TeleopCommand:
    """One operator command: twist (base frame, m/s and rad/s) and gripper (0 open … 1
    closed; None = leave the gripper alone)."""

    linear: np.ndarray = field(default_factory=lambda: np.zeros(3))
    angular: np.ndarray = field(default_factory=lambda: np.zeros(3))
    gripper: float | None = None

    @property
    def is_zero(self) -> bool:
        return not (np.any(self.linear) or np.any(self.angular))


class TeleopSource(Protocol):
    """Anything that can stand in for the operator: a device, a script, an expert."""

    def poll(self, t: float) -> TeleopCommand: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TwistShaping:
    """Raw axes in [-1, 1] → twist: dead zone (rescaled so speed starts at 0 at its edge),
    scale to m/s and rad/s, then clamp the vector norms to the maxima."""

    linear_scale: float = 0.1    # m/s at full deflection
    angular_scale: float = 0.5   # rad/s at full deflection
    deadzone: float = 0.1        # fraction of full deflection ignored around zero
    max_linear: float = 0.25     # m/s, norm of the linear part
    max_angular: float = 1.0     # rad/s, norm of the angular part

    def __post_init__(self) -> None:
        if not 0.0 <= self.deadzone < 1.0:
            raise TeleopConfigError(f"deadzone must be in [0, 1), got {self.deadzone}")
        for name in ("linear_scale", "angular_scale", "max_linear", "max_angular"):
            if getattr(self, name) < 0:
                raise TeleopConfigError(f"{name} must be >= 0, got {getattr(self, name)}")

    def apply_deadzone(self, axes: np.ndarray) -> np.ndarray:
        axes = np.clip(np.nan_to_num(np.asarray(axes, dtype=np.float64)), -1.0, 1.0)
        magnitude = np.maximum(np.abs(axes) - self.deadzone, 0.0) / (1.0 - self.deadzone)
        return np.sign(axes) * magnitude

    def shape(self, linear_axes, angular_axes) -> tuple[np.ndarray, np.ndarray]:
        linear = _clamp_norm(self.apply_deadzone(linear_axes) * self.linear_scale,
                             self.max_linear)
        angular = _clamp_norm(self.apply_deadzone(angular_axes) * self.angular_scale,
                              self.max_angular)
        return linear, angular

    def command(self, linear_axes, angular_axes, gripper: float | None = None
                ) -> TeleopCommand:
        linear, angular = self.shape(linear_axes, angular_axes)
        return TeleopCommand(linear, angular,
                             None if gripper is None else float(np.clip(gripper, 0.0, 1.0)))


def _clamp_norm(v: np.ndarray, limit: float) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v * (limit / norm) if norm > limit else v
