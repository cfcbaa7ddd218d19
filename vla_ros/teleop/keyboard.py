"""Keyboard teleop in a plain terminal (no X, works over ssh): raw tty via termios.

Terminals report key presses, not releases; a key counts as held while its auto-repeat
keeps arriving, i.e. until `hold_s` after its last press. `key_twist_axes` is the pure
key → axes mapping the tests drive without a terminal.

| key | axis (base frame, REP-103: x forward, y left, z up) |
| w / s | +x / -x     | i / k | +roll / -roll (about x) |
| a / d | +y / -y     | j / l | +pitch / -pitch (about y) |
| q / e | +z / -z     | u / o | +yaw / -yaw (about z) |
space closes the gripper, enter opens it; + / - scale the speed; x stops (drops held keys).
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from vla_ros.teleop.command import TeleopCommand, TwistShaping
from vla_ros.teleop.errors import TeleopDeviceError

# key -> (index into the 6-vector [vx vy vz wx wy wz], sign)
KEY_AXES: dict[str, tuple[int, float]] = {
    "w": (0, 1.0), "s": (0, -1.0),
    "a": (1, 1.0), "d": (1, -1.0),
    "q": (2, 1.0), "e": (2, -1.0),
    "i": (3, 1.0), "k": (3, -1.0),
    "j": (4, 1.0), "l": (4, -1.0),
    "u": (5, 1.0), "o": (5, -1.0),
}
GRIPPER_KEYS = {"space": 1.0, "enter": 0.0}
SPEED_KEYS = {"+": 1.25, "=": 1.25, "-": 0.8}
STOP_KEYS = {"x", "esc"}
_NAMED = {" ": "space", "\r": "enter", "\n": "enter", "\x1b": "esc"}


def key_name(char: str) -> str:
    """A character from the terminal → the key name used in the tables (lower case)."""
    return _NAMED.get(char, char.lower())


def key_twist_axes(keys: Iterable[str]) -> np.ndarray:
    """Held keys → 6 raw axes in {-1, 0, 1} ([vx vy vz wx wy wz]); opposite keys cancel."""
    axes = np.zeros(6)
    for key in keys:
        binding = KEY_AXES.get(key_name(key))
        if binding is not None:
            axes[binding[0]] += binding[1]
    return np.clip(axes, -1.0, 1.0)


@dataclass
class KeyboardTeleop:
    """Key events in, `TeleopCommand` out. Feed keys with `press(key, t)` (from a terminal,
    a topic or a test); `poll(t)` gives the command for the keys held at `t`."""

    shaping: TwistShaping = field(default_factory=lambda: TwistShaping(deadzone=0.0))
    hold_s: float = 0.3
    speed: float = 1.0
    min_speed: float = 0.1
    max_speed: float = 2.0
    gripper: float | None = None
    _last_press: dict[str, float] = field(default_factory=dict)

    def press(self, key: str, t: float) -> None:
        name = key_name(key) if len(key) == 1 else key.lower()
        if name in KEY_AXES:
            self._last_press[name] = t
        elif name in GRIPPER_KEYS:
            self.gripper = GRIPPER_KEYS[name]
        elif name in SPEED_KEYS:
            self.speed = float(np.clip(self.speed * SPEED_KEYS[name], self.min_speed,
                                       self.max_speed))
        elif name in STOP_KEYS:
            self._last_press.clear()

    def held(self, t: float) -> list[str]:
        return [k for k, t0 in self._last_press.items() if 0.0 <= t - t0 <= self.hold_s]

    def poll(self, t: float) -> TeleopCommand:
        # speed scales the output (still clamped by max_linear / max_angular), not the
        # axes, which the shaping clips to [-1, 1]
        shaping = replace(self.shaping, linear_scale=self.shaping.linear_scale * self.speed,
                          angular_scale=self.shaping.angular_scale * self.speed)
        axes = key_twist_axes(self.held(t))
        return shaping.command(axes[:3], axes[3:], self.gripper)

    def close(self) -> None:
        pass


class TerminalKeyReader:
    """Non-blocking key reads from a terminal in cbreak mode; restores it on `close()`."""

    def __init__(self, stream=None) -> None:
        self._stream = stream if stream is not None else sys.stdin
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            fd = -1
        if fd < 0 or not os.isatty(fd):
            raise TeleopDeviceError(
                "keyboard teleop needs a terminal, but stdin is not a tty (run it in a "
                "terminal, or set keyboard_input:=topic and publish keys on teleop/keys)")
        import termios
        import tty

        self._fd = fd
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)

    def read_keys(self) -> list[str]:
        keys = []
        while select.select([self._fd], [], [], 0.0)[0]:
            data = os.read(self._fd, 32).decode(errors="ignore")
            if not data:
                break
            keys += [key_name(c) for c in data]
        return keys

    def close(self) -> None:
        import termios

        termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)


class TerminalKeyboard(KeyboardTeleop):
    """A `KeyboardTeleop` fed from the controlling terminal at each poll."""

    def __init__(self, shaping: TwistShaping | None = None, hold_s: float = 0.3) -> None:
        super().__init__(shaping or TwistShaping(deadzone=0.0), hold_s)
        self.reader = TerminalKeyReader()

    def poll(self, t: float) -> TeleopCommand:
        for key in self.reader.read_keys():
            self.press(key, t)
        return super().poll(t)

    def close(self) -> None:
        self.reader.close()
