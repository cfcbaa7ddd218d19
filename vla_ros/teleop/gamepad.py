"""Gamepad teleop through pygame's joystick module or python-evdev (lazy imports: both are
optional).

`gamepad_command` is the pure axes/buttons → command mapping; `Gamepad` (pygame) and
`EvdevGamepad` (Linux input events) read a real pad.
The default mapping is the common Xbox / SDL layout: left stick x/y, triggers for z,
right stick yaw/pitch, bumpers roll, A closes and B opens the gripper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vla_ros.teleop.command import TeleopCommand, TwistShaping
from vla_ros.teleop.errors import TeleopConfigError, TeleopDeviceError

TWIST_AXES = ("vx", "vy", "vz", "wx", "wy", "wz")


@dataclass(frozen=True)
class GamepadMapping:
    """Twist axis → (pad axis index, sign); axes held by a pair of buttons → (plus, minus).

    SDL reports stick *down* and *right* as positive, hence the minus signs: stick up moves
    the hand forward (+x), stick left moves it left (+y).
    """

    axes: dict[str, tuple[int, float]] = field(default_factory=lambda: {
        "vx": (1, -1.0), "vy": (0, -1.0), "wy": (4, -1.0), "wz": (3, -1.0)})
    # triggers rest at -1 and go to +1: (axis, sign) pairs mapped to [0, 1] and summed
    trigger_axes: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=lambda: {
        "vz": ((5, 1.0), (2, -1.0))})
    button_axes: dict[str, tuple[int, int]] = field(default_factory=lambda: {"wx": (5, 4)})
    close_button: int = 0
    open_button: int = 1

    def __post_init__(self) -> None:
        for name in (*self.axes, *self.trigger_axes, *self.button_axes):
            if name not in TWIST_AXES:
                raise TeleopConfigError(f"gamepad mapping names unknown axis '{name}'; "
                                        f"use {TWIST_AXES}")


def gamepad_command(axes: Sequence[float], buttons: Sequence[int], mapping: GamepadMapping,
                    shaping: TwistShaping, gripper: float | None = None) -> TeleopCommand:
    """Pad state → command. Axes or buttons the pad lacks read as 0 / not pressed."""
    def axis(i: int) -> float:
        return float(axes[i]) if 0 <= i < len(axes) else 0.0

    def button(i: int) -> bool:
        return bool(buttons[i]) if 0 <= i < len(buttons) else False

    raw = np.zeros(6)
    for name, (index, sign) in mapping.axes.items():
        raw[TWIST_AXES.index(name)] += sign * axis(index)
    for name, pairs in mapping.trigger_axes.items():
        for index, sign in pairs:
            if 0 <= index < len(axes):
                raw[TWIST_AXES.index(name)] += sign * (axis(index) + 1.0) / 2.0
    for name, (plus, minus) in mapping.button_axes.items():
        raw[TWIST_AXES.index(name)] += float(button(plus)) - float(button(minus))
    if button(mapping.close_button):
        gripper = 1.0
    elif button(mapping.open_button):
        gripper = 0.0
    return shaping.command(raw[:3], raw[3:], gripper)


class Gamepad:
    """The first (or `index`-th) joystick pygame finds; headless (no window needed)."""

    def __init__(self, index: int = 0, mapping: GamepadMapping | None = None,
                 shaping: TwistShaping | None = None) -> None:
        try:
            import os

            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
            import pygame
        except ImportError:
            raise TeleopDeviceError(
                "gamepad teleop needs pygame, which is not installed "
                "(pip install pygame)") from None
        pygame.init()
        pygame.joystick.init()
        count = pygame.joystick.get_count()
        if index >= count:
            raise TeleopDeviceError(
                f"no gamepad at index {index}: pygame sees {count} joystick(s)")
        self._pygame = pygame
        self.joystick = pygame.joystick.Joystick(index)
        self.joystick.init()
        self.mapping = mapping or GamepadMapping()
        self.shaping = shaping or TwistShaping()
        self.gripper: float | None = None

    def poll(self, t: float) -> TeleopCommand:
        self._pygame.event.pump()
        js = self.joystick
        axes = [js.get_axis(i) for i in range(js.get_numaxes())]
        buttons = [js.get_button(i) for i in range(js.get_numbuttons())]
        command = gamepad_command(axes, buttons, self.mapping, self.shaping, self.gripper)
        self.gripper = command.gripper
        return command

    def close(self) -> None:
        self._pygame.joystick.quit()


# evdev codes in SDL's Xbox order, so one GamepadMapping serves both backends
EVDEV_AXES = ("ABS_X", "ABS_Y", "ABS_Z", "ABS_RX", "ABS_RY", "ABS_RZ")
EVDEV_BUTTONS = ("BTN_SOUTH", "BTN_EAST", "BTN_NORTH", "BTN_WEST", "BTN_TL", "BTN_TR")


class EvdevGamepad:
    """A gamepad read straight from /dev/input/event* with python-evdev (Linux, no SDL).

    Axes are normalised to [-1, 1] with the device's own absinfo ranges and reordered to
    SDL's layout (see EVDEV_AXES / EVDEV_BUTTONS), so `GamepadMapping` applies unchanged.
    """

    def __init__(self, path: str = "", mapping: GamepadMapping | None = None,
                 shaping: TwistShaping | None = None) -> None:
        try:
            import evdev
        except ImportError:
            raise TeleopDeviceError(
                "gamepad teleop with the evdev backend needs python-evdev, which is not "
                "installed (pip install evdev)") from None
        self._ecodes = evdev.ecodes
        if path:
            try:
                self.device = evdev.InputDevice(path)
            except OSError as err:
                raise TeleopDeviceError(f"cannot open gamepad {path}: {err}") from None
        else:
            self.device = _find_evdev_gamepad(evdev)
        caps = self.device.capabilities(absinfo=True)
        absinfo = dict(caps.get(evdev.ecodes.EV_ABS, []))
        self._axis_codes = [getattr(evdev.ecodes, n) for n in EVDEV_AXES]
        self._button_codes = [getattr(evdev.ecodes, n) for n in EVDEV_BUTTONS]
        self._ranges = {c: (absinfo[c].min, absinfo[c].max) for c in self._axis_codes
                        if c in absinfo}
        # triggers rest at -1 (SDL convention); sticks at 0
        self.axes = [0.0, 0.0, -1.0, 0.0, 0.0, -1.0]
        self.buttons = [0] * len(self._button_codes)
        self.mapping = mapping or GamepadMapping()
        self.shaping = shaping or TwistShaping()
        self.gripper: float | None = None

    def _drain(self) -> None:
        ecodes = self._ecodes
        try:
            events = list(self.device.read())
        except BlockingIOError:  # nothing new since the last poll
            return
        for event in events:
            if event.type == ecodes.EV_ABS and event.code in self._ranges:
                lo, hi = self._ranges[event.code]
                value = 2.0 * (event.value - lo) / (hi - lo) - 1.0 if hi > lo else 0.0
                self.axes[self._axis_codes.index(event.code)] = value
            elif event.type == ecodes.EV_KEY and event.code in self._button_codes:
                self.buttons[self._button_codes.index(event.code)] = int(event.value != 0)

    def poll(self, t: float) -> TeleopCommand:
        self._drain()
        command = gamepad_command(self.axes, self.buttons, self.mapping, self.shaping,
                                  self.gripper)
        self.gripper = command.gripper
        return command

    def close(self) -> None:
        self.device.close()


def _find_evdev_gamepad(evdev):
    """The first input device with sticks and a gamepad button."""
    paths = list(evdev.list_devices())
    for path in paths:
        device = evdev.InputDevice(path)
        caps = device.capabilities()
        keys = caps.get(evdev.ecodes.EV_KEY, [])
        if evdev.ecodes.EV_ABS in caps and evdev.ecodes.BTN_SOUTH in keys:
            return device
        device.close()
    raise TeleopDeviceError(
        f"no gamepad among {len(paths)} input device(s) readable by evdev "
        "(plugged in? permission on /dev/input/event*?)")
