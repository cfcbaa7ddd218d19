"""3Dconnexion SpaceMouse teleop through pyspacemouse (lazy import: it is optional).

A SpaceMouse gives all six axes at once, in [-1, 1]; `spacemouse_command` maps its state
onto the base frame (push forward = +x, left = +y, lift = +z) — check the signs for your
device and flip them with `signs` if needed. Left button closes, right button opens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vla_ros.teleop.command import TeleopCommand, TwistShaping
from vla_ros.teleop.errors import TeleopDeviceError

# pyspacemouse state fields feeding [vx vy vz wx wy wz], with their default signs
STATE_FIELDS = ("y", "x", "z", "roll", "pitch", "yaw")
DEFAULT_SIGNS = (1.0, -1.0, 1.0, 1.0, 1.0, -1.0)


def spacemouse_command(state, shaping: TwistShaping,
                       signs: Sequence[float] = DEFAULT_SIGNS,
                       gripper: float | None = None) -> TeleopCommand:
    """A pyspacemouse state (fields x y z roll pitch yaw buttons) → command."""
    raw = np.array([float(getattr(state, f, 0.0)) for f in STATE_FIELDS]) * np.asarray(signs)
    buttons = list(getattr(state, "buttons", []) or [])
    if buttons and buttons[0]:
        gripper = 1.0
    elif len(buttons) > 1 and buttons[1]:
        gripper = 0.0
    return shaping.command(raw[:3], raw[3:], gripper)


class SpaceMouse:
    def __init__(self, shaping: TwistShaping | None = None,
                 signs: Sequence[float] = DEFAULT_SIGNS) -> None:
        try:
            import pyspacemouse
        except ImportError:
            raise TeleopDeviceError(
                "spacemouse teleop needs pyspacemouse, which is not installed "
                "(pip install pyspacemouse; it also needs the hidapi system library)") from None
        try:
            opened = pyspacemouse.open()
        except Exception as err:  # hid errors differ per platform
            raise TeleopDeviceError(f"cannot open a SpaceMouse: {err}") from None
        if not opened:
            raise TeleopDeviceError("no SpaceMouse found (plugged in? udev permission on "
                                    "/dev/hidraw*?)")
        self._lib = pyspacemouse
        self.shaping = shaping or TwistShaping(deadzone=0.05)
        self.signs = tuple(signs)
        self.gripper: float | None = None

    def poll(self, t: float) -> TeleopCommand:
        command = spacemouse_command(self._lib.read(), self.shaping, self.signs, self.gripper)
        self.gripper = command.gripper
        return command

    def close(self) -> None:
        self._lib.close()
