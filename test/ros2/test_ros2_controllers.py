"""config/controllers/<robot>_controllers.yaml against the robot's URDF, for every
hardware choice: the joints exist and expose the interfaces the controllers claim."""

from __future__ import annotations

from functools import cache

import pytest
import yaml

from vla_ros.assets import PACKAGE_ROOT
from vla_ros.description import check_controllers, expand_xacro, parse_urdf

ROBOTS = ("panda", "so101")


@cache
def urdf(robot: str, hardware: str, gripper: str = "true") -> str:
    path = PACKAGE_ROOT / "urdf" / f"{robot}.urdf.xacro"
    return expand_xacro(path, hardware=hardware, gripper=gripper)


def controllers_file(robot: str):
    return PACKAGE_ROOT / "config" / "controllers" / f"{robot}_controllers.yaml"


@pytest.mark.parametrize("hardware", ("mock", "gazebo", "real"))
@pytest.mark.parametrize("robot", ROBOTS)
def test_controllers_match_the_urdf(robot, hardware):
    assert check_controllers(urdf(robot, hardware), controllers_file(robot), source=robot) == []


@pytest.mark.parametrize("robot", ROBOTS)
def test_controller_joints_are_urdf_joints_with_matching_interfaces(robot):
    data = yaml.safe_load(controllers_file(robot).read_text())
    manager = data["controller_manager"]["ros__parameters"]
    assert manager["update_rate"] > 0
    assert manager["joint_state_broadcaster"]["type"] == (
        "joint_state_broadcaster/JointStateBroadcaster"
    )
    info = parse_urdf(urdf(robot, "mock"))
    hardware = info.ros2_control_joints()
    commanded: list[str] = []
    for controller in ("arm_controller", "gripper_controller"):
        assert manager[controller]["type"] == (
            "joint_trajectory_controller/JointTrajectoryController"
        )
        params = data[controller]["ros__parameters"]
        assert params["command_interfaces"] == ["position"]
        assert params["state_interfaces"] == ["position", "velocity"]
        assert params["state_publish_rate"] > 0 and params["action_monitor_rate"] > 0
        assert set(params["joints"]) <= set(info.joint_types)
        for joint in params["joints"]:
            assert "position" in hardware[joint].command
            assert set(params["state_interfaces"]) <= set(hardware[joint].state)
        commanded += params["joints"]
    # every commandable joint of the robot is driven by exactly one controller
    assert sorted(commanded) == sorted(j for j, i in hardware.items() if i.command)


@pytest.mark.parametrize("robot", ROBOTS)
def test_without_gripper_joint_the_gripper_controller_is_reported(robot):
    problems = check_controllers(urdf(robot, "real", "false"), controllers_file(robot))
    assert problems, "gripper_controller must not load when the gripper is not in ros2_control"
    assert all(f"{robot}_controllers.yaml: gripper_controller" in p for p in problems)
    assert all("is in no <ros2_control> system" in p for p in problems)
