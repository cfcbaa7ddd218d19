"""Cross-check a controller YAML against the URDF's <ros2_control> block.

The controller manager only finds these mismatches at run time on the robot (a renamed
joint, an interface the hardware does not export, two controllers commanding one joint);
here they become a list of problems, each naming the file and the item.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from vla_ros.description.urdf_info import UrdfInfo, UrdfParseError, parse_urdf

JTC = "joint_trajectory_controller/JointTrajectoryController"
JSB = "joint_state_broadcaster/JointStateBroadcaster"
FORWARD_COMMAND_TYPES = (
    "forward_command_controller/ForwardCommandController",
    "position_controllers/JointGroupPositionController",
    "velocity_controllers/JointGroupVelocityController",
    "effort_controllers/JointGroupEffortController",
)
GRIPPER_ACTION_TYPES = (
    "position_controllers/GripperActionController",
    "parallel_gripper_action_controller/GripperActionController",
)
SIMULATED_PLUGINS = ("mock_components/GenericSystem", "gz_ros2_control/GazeboSimSystem")
MOVABLE_JOINT_TYPES = ("revolute", "continuous", "prismatic")


def check_ros2_control(urdf_xml: str, source: str = "URDF") -> list[str]:
    """Problems of the <ros2_control> block itself, as the Jazzy controller manager sees them."""
    try:
        info = parse_urdf(urdf_xml)
    except UrdfParseError as exc:
        return [f"{source}: {exc}"]
    return _ros2_control_problems(info, source)


def _ros2_control_problems(info: UrdfInfo, source: str) -> list[str]:
    problems: list[str] = []
    if not info.systems:
        problems.append(f"{source}: no <ros2_control> block")
    seen: dict[str, str] = {}
    for system in info.systems:
        where = f"{source}: <ros2_control name='{system.name}'>"
        if not system.plugin:
            problems.append(f"{where}: <hardware><plugin> is missing or empty")
        for joint, interfaces in system.joints.items():
            if joint in seen:
                problems.append(f"{where}: joint '{joint}' already in system '{seen[joint]}'")
            seen[joint] = system.name
            joint_type = info.joint_types.get(joint)
            if joint_type is None:
                problems.append(f"{where}: joint '{joint}' is not a joint of robot '{info.robot}'")
            elif joint_type not in MOVABLE_JOINT_TYPES:
                problems.append(f"{where}: joint '{joint}' is {joint_type}, not movable")
            if joint in info.mimic and interfaces.command:
                problems.append(
                    f"{where}: joint '{joint}' mimics '{info.mimic[joint]}' in the URDF and "
                    f"must not have command interfaces {list(interfaces.command)}"
                )
            if not interfaces.state:
                problems.append(f"{where}: joint '{joint}' declares no state_interface")
    return problems


def check_controllers(
    urdf_xml: str,
    controllers_yaml: str | Path,
    source: str = "URDF",
    controllers: Iterable[str] | None = None,
) -> list[str]:
    """Problems between a controller YAML (ros__parameters format) and the URDF.

    Checks: controller_manager has update_rate and typed controllers; every controller
    section has a declared type; every joint a controller names exists in the URDF, is in
    a <ros2_control> system and offers the command and state interfaces the controller
    claims; no joint interface is commanded by two controllers. `controllers` limits the
    joint checks to the controllers actually loaded (e.g. a spawner's list).
    """
    path = Path(controllers_yaml)
    name = path.name
    try:
        info = parse_urdf(urdf_xml)
    except UrdfParseError as exc:
        return [f"{source}: {exc}"]
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return [f"{name}: cannot read controller YAML: {exc}"]
    if not isinstance(data, dict):
        return [f"{name}: expected a mapping of node names at the top level"]

    problems = _ros2_control_problems(info, source)
    manager = _ros_parameters(data, "controller_manager")
    if manager is None:
        return problems + [f"{name}: no controller_manager.ros__parameters section"]
    rate = manager.get("update_rate")
    if not isinstance(rate, int) or rate <= 0:
        problems.append(f"{name}: controller_manager.update_rate must be a positive integer")

    types = {
        key: value["type"]
        for key, value in manager.items()
        if isinstance(value, dict) and "type" in value
    }
    if not types:
        problems.append(f"{name}: controller_manager declares no controller (name: {{type: ...}})")
    for key in data:
        if key != "controller_manager" and key not in types:
            problems.append(
                f"{name}: section '{key}' has no type under controller_manager.ros__parameters"
            )

    loaded = list(types) if controllers is None else list(controllers)
    for controller in loaded:
        if controller not in types:
            problems.append(f"{name}: controller '{controller}' is not declared under "
                            "controller_manager.ros__parameters")
    claimed: dict[tuple[str, str], str] = {}
    for controller, controller_type in types.items():
        if controller not in loaded:
            continue
        params = _ros_parameters(data, controller) or {}
        where = f"{name}: {controller}"
        if not isinstance(controller_type, str) or "/" not in controller_type:
            problems.append(f"{where}: type '{controller_type}' is not 'package/Class'")
            continue
        problems += _check_controller(info, where, controller, controller_type, params, claimed)
    return problems


def _check_controller(
    info: UrdfInfo,
    where: str,
    controller: str,
    controller_type: str,
    params: dict[str, Any],
    claimed: dict[tuple[str, str], str],
) -> list[str]:
    if controller_type == JSB:
        joints = params.get("joints") or []
        return _check_joints(info, where, joints, (), params.get("interfaces") or [])
    if controller_type == JTC:
        return _check_trajectory_controller(info, where, controller, params, claimed)
    if controller_type in FORWARD_COMMAND_TYPES:
        joints = params.get("joints") or []
        command = _forward_command_interfaces(controller_type, params)
        problems = _check_joints(info, where, joints, command, [])
        return problems + _claim(where, controller, joints, command, claimed)
    if controller_type in GRIPPER_ACTION_TYPES:
        joint = params.get("joint")
        if not isinstance(joint, str):
            return [f"{where}: a gripper action controller needs a 'joint' parameter"]
        problems = _check_joints(info, where, [joint], ["position"], ["position"])
        return problems + _claim(where, controller, [joint], ["position"], claimed)
    return []  # a controller type we have no rules for: nothing to cross-check


def _forward_command_interfaces(controller_type: str, params: dict[str, Any]) -> list[str]:
    if "interface_name" in params:
        return [str(params["interface_name"])]
    prefix = controller_type.split("/")[0]  # position_controllers -> position
    return [prefix.removesuffix("_controllers")] if prefix.endswith("_controllers") else []


def _check_trajectory_controller(
    info: UrdfInfo,
    where: str,
    controller: str,
    params: dict[str, Any],
    claimed: dict[tuple[str, str], str],
) -> list[str]:
    joints = params.get("joints")
    if not isinstance(joints, list) or not joints:
        return [f"{where}.joints: must be a non-empty list of joint names"]
    command = params.get("command_interfaces") or []
    state = params.get("state_interfaces") or []
    problems: list[str] = []
    if not command:
        problems.append(f"{where}.command_interfaces: must list at least one interface")
    if not state:
        problems.append(f"{where}.state_interfaces: must list at least one interface")
    problems += _check_joints(info, where, joints, command, state)
    for key in ("state_publish_rate", "action_monitor_rate"):
        value = params.get(key)
        if value is not None and (not isinstance(value, int | float) or value <= 0):
            problems.append(f"{where}.{key}: must be a positive number, got {value!r}")
    constraints = params.get("constraints") or {}
    if not isinstance(constraints, dict):
        problems.append(f"{where}.constraints: must be a mapping")
        constraints = {}
    for key, value in constraints.items():
        if isinstance(value, dict) and key not in joints:
            problems.append(f"{where}.constraints.{key}: '{key}' is not one of its joints")
    return problems + _claim(where, controller, joints, command, claimed)


def _check_joints(
    info: UrdfInfo, where: str, joints: list[str], command: list[str] | tuple[str, ...],
    state: list[str] | tuple[str, ...],
) -> list[str]:
    problems: list[str] = []
    hardware = info.ros2_control_joints()
    for joint in joints:
        if joint not in info.joint_types:
            problems.append(f"{where}: joint '{joint}' is not a joint of robot '{info.robot}'")
            continue
        if joint not in hardware:
            problems.append(f"{where}: joint '{joint}' is in no <ros2_control> system")
            continue
        for interface in command:
            if interface not in hardware[joint].command:
                problems.append(
                    f"{where}: joint '{joint}' has no command_interface '{interface}' in "
                    f"<ros2_control> (has {list(hardware[joint].command)})"
                )
        for interface in state:
            if interface not in hardware[joint].state:
                problems.append(
                    f"{where}: joint '{joint}' has no state_interface '{interface}' in "
                    f"<ros2_control> (has {list(hardware[joint].state)})"
                )
    return problems


def _claim(
    where: str,
    controller: str,
    joints: list[str],
    command: list[str] | tuple[str, ...],
    claimed: dict[tuple[str, str], str],
) -> list[str]:
    problems = []
    for joint in joints:
        for interface in command:
            owner = claimed.setdefault((joint, interface), controller)
            if owner != controller:
                problems.append(f"{where}: '{joint}/{interface}' is also commanded by '{owner}'")
    return problems


def _ros_parameters(data: dict[str, Any], node: str) -> dict[str, Any] | None:
    section = data.get(node)
    if not isinstance(section, dict):
        return None
    params = section.get("ros__parameters")
    return params if isinstance(params, dict) else None
