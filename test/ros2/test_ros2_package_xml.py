"""package.xml: valid format 3 for colcon/rosdep, and (once the lead has added the
bring-up dependencies) every ROS package the bring-up launch files use is an exec_depend."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from vla_ros.assets import PACKAGE_ROOT
from vla_ros.description import check_package_xml, launch_dependencies
from vla_ros.description.package_xml import run_depends

PACKAGE_XML = PACKAGE_ROOT / "package.xml"


def test_package_xml_is_valid_format_3_ament_python():
    assert check_package_xml(PACKAGE_XML) == []


def bringup_dependencies() -> set[str]:
    needed: set[str] = set()
    for name in ("robot.launch.xml", "mock.launch.xml", "gazebo.launch.xml"):
        for robot in ("panda", "so101"):
            for driver in ("usb_cam", "v4l2_camera", "realsense2_camera"):
                args = {"robot": robot, "camera_driver": driver}
                needed |= launch_dependencies(PACKAGE_ROOT / "launch" / name, args)
    return needed


def test_bringup_dependencies_are_the_documented_set():
    assert bringup_dependencies() == {
        "controller_manager", "example-robot-data", "gz_ros2_control", "hardware_interface",
        "joint_state_broadcaster", "joint_trajectory_controller", "realsense2_camera",
        "robot_state_publisher", "ros_gz_bridge", "ros_gz_sim", "usb_cam", "v4l2_camera",
        "xacro",
    }


def test_every_bringup_dependency_is_an_exec_depend():
    declared = run_depends(ET.parse(PACKAGE_XML).getroot())
    if "controller_manager" not in declared:
        pytest.skip("package.xml does not list the ROS bring-up dependencies yet "
                    "(docs/robots.md, 'Dependencies')")
    assert check_package_xml(PACKAGE_XML, exec_depends=sorted(bringup_dependencies())) == []
