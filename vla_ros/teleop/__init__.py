"""Teleoperation core: devices → `TeleopCommand` (twist + gripper), leader–follower joint
mirroring. No ROS here: the teleop node publishes what these return.

Sources (all have `.poll(t) -> TeleopCommand` and `.close()`): `KeyboardTeleop` (fed key
events) / `TerminalKeyboard` (raw tty), `Gamepad` (pygame) / `EvdevGamepad`, `SpaceMouse`
(pyspacemouse), `ScriptedTeleop` (timed segments), `WaypointExpert` (closed loop on the
EE pose). `LeaderFollower` maps leader joint states onto the follower's joints.
"""

from vla_ros.teleop.command import TeleopCommand, TeleopSource, TwistShaping
from vla_ros.teleop.errors import TeleopConfigError, TeleopDeviceError, TeleopError
from vla_ros.teleop.expert import Waypoint, WaypointExpert, waypoints_from_flat
from vla_ros.teleop.gamepad import EvdevGamepad, Gamepad, GamepadMapping, gamepad_command
from vla_ros.teleop.keyboard import (
    KEY_AXES,
    KeyboardTeleop,
    TerminalKeyboard,
    TerminalKeyReader,
    key_twist_axes,
)
from vla_ros.teleop.leader import (
    JointMapping,
    LeaderFollower,
    gripper_fraction,
    urdf_joint_limits,
)
from vla_ros.teleop.scripted import DEFAULT_SCRIPT, ScriptedTeleop, Segment, load_script
from vla_ros.teleop.spacemouse import SpaceMouse, spacemouse_command

__all__ = [
    "DEFAULT_SCRIPT",
    "KEY_AXES",
    "EvdevGamepad",
    "Gamepad",
    "GamepadMapping",
    "JointMapping",
    "KeyboardTeleop",
    "LeaderFollower",
    "ScriptedTeleop",
    "Segment",
    "SpaceMouse",
    "TeleopCommand",
    "TeleopConfigError",
    "TeleopDeviceError",
    "TeleopError",
    "TeleopSource",
    "TerminalKeyReader",
    "TerminalKeyboard",
    "TwistShaping",
    "Waypoint",
    "WaypointExpert",
    "gamepad_command",
    "gripper_fraction",
    "key_twist_axes",
    "load_script",
    "spacemouse_command",
    "urdf_joint_limits",
    "waypoints_from_flat",
]
