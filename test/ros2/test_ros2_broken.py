"""Deliberately broken copies of the bring-up files: each validator must fail with a
message that names the file and the broken item."""

from __future__ import annotations

import re

import pytest

from vla_ros.assets import PACKAGE_ROOT
from vla_ros.description import (
    check_bridge,
    check_controllers,
    check_launch_file,
    check_meshes,
    check_package_xml,
    check_ros2_control,
    expand_xacro,
)
from vla_ros.description.launch_refs import KNOWN_EXECUTABLES

CONTROLLERS = PACKAGE_ROOT / "config" / "controllers" / "panda_controllers.yaml"


def panda(hardware: str = "mock") -> str:
    return expand_xacro(PACKAGE_ROOT / "urdf" / "panda.urdf.xacro", hardware=hardware)


def broken_copy(source, tmp_path, old: str, new: str, count: int = 1):
    text = source.read_text()
    assert old in text, f"fixture text {old!r} not in {source.name}"
    target = tmp_path / source.name
    target.write_text(text.replace(old, new, count))
    return target


def test_renamed_joint_in_controller_yaml(tmp_path):
    broken = broken_copy(CONTROLLERS, tmp_path, "      - panda_joint4\n", "      - panda_joint44\n")
    problems = check_controllers(panda(), broken)
    assert any(
        p.startswith("panda_controllers.yaml: arm_controller")
        and "'panda_joint44' is not a joint of robot 'panda'" in p
        for p in problems
    ), problems


def test_interface_the_hardware_does_not_export(tmp_path):
    broken = broken_copy(CONTROLLERS, tmp_path, "    command_interfaces:\n      - position",
                         "    command_interfaces:\n      - effort")
    problems = check_controllers(panda(), broken)
    assert len(problems) == 7  # the seven arm joints, each named
    assert all("no command_interface 'effort'" in p for p in problems)
    assert {re.search(r"joint '(\w+)'", p).group(1) for p in problems} == {
        f"panda_joint{i}" for i in range(1, 8)
    }


def test_joint_commanded_by_two_controllers(tmp_path):
    broken = broken_copy(CONTROLLERS, tmp_path, "      - panda_finger_joint1\n",
                         "      - panda_joint7\n")
    problems = check_controllers(panda(), broken)
    assert any("gripper_controller: 'panda_joint7/position' is also commanded by "
               "'arm_controller'" in p for p in problems), problems


def test_controller_without_declared_type(tmp_path):
    broken = broken_copy(CONTROLLERS, tmp_path, "    gripper_controller:\n      type:",
                         "    unused:\n      type:")
    problems = check_controllers(panda(), broken)
    assert "panda_controllers.yaml: section 'gripper_controller' has no type under " \
           "controller_manager.ros__parameters" in problems


def test_missing_mesh(tmp_path):
    urdf = panda().replace("meshes/collision/link3.stl", "meshes/collision/link3_missing.stl")
    problems = check_meshes(urdf, source="panda.urdf.xacro")
    assert len(problems) == 1
    assert problems[0].startswith("panda.urdf.xacro: link 'panda_link3' mesh ")
    assert "link3_missing.stl" in problems[0] and "no file at" in problems[0]


def test_mimic_joint_with_a_command_interface():
    urdf = panda().replace(
        '<joint name="panda_finger_joint2">',
        '<joint name="panda_finger_joint2">\n<command_interface name="position"/>',
    )
    problems = check_ros2_control(urdf, source="panda.urdf.xacro")
    assert problems == [
        "panda.urdf.xacro: <ros2_control name='PandaSystem'>: joint 'panda_finger_joint2' "
        "mimics 'panda_finger_joint1' in the URDF and must not have command interfaces "
        "['position']"
    ]


def test_bridge_missing_a_camera_and_with_a_wrong_type(tmp_path):
    source = PACKAGE_ROOT / "config" / "gazebo" / "panda_bridge.yaml"
    broken = broken_copy(source, tmp_path, "camera/wrist/image_raw", "camera/wrist/image")
    broken.write_text(broken.read_text().replace("gz_type_name: gz.msgs.CameraInfo",
                                                 "gz_type_name: gz.msgs.Image", 1))
    problems = check_bridge(broken, ["camera/wrist/image_raw"], urdf_xml=panda("gazebo"))
    assert "panda_bridge.yaml: ROS topic 'camera/wrist/image_raw' is not bridged" in problems
    assert any(p.startswith("panda_bridge.yaml: entry 2 (camera/scene/camera_info)")
               and "bridges to gz.msgs.CameraInfo, not gz.msgs.Image" in p for p in problems)


def test_bridge_topic_no_sensor_publishes(tmp_path):
    source = PACKAGE_ROOT / "config" / "gazebo" / "so101_bridge.yaml"
    broken = broken_copy(source, tmp_path, "/vla/scene/image", "/vla/front/image")
    urdf = expand_xacro(PACKAGE_ROOT / "urdf" / "so101.urdf.xacro", hardware="gazebo")
    problems = check_bridge(broken, urdf_xml=urdf)
    assert len(problems) == 1
    assert problems[0].startswith("so101_bridge.yaml: entry 1: Gazebo topic '/vla/front/image'")


@pytest.mark.parametrize(
    ("source", "old", "new", "item"),
    [
        ("include/vla_nodes.launch.xml", 'exec="policy_node"', 'exec="policy_nodee"',
         "package 'vla_ros' has no executable 'policy_nodee'"),
        ("include/camera_usb_cam.launch.xml", 'exec="usb_cam_node_exe"', 'exec="usb_cam_node"',
         "package 'usb_cam' has no executable 'usb_cam_node'"),
    ],
)
def test_launch_file_naming_an_unknown_executable(tmp_path, source, old, new, item):
    broken = broken_copy(PACKAGE_ROOT / "launch" / source, tmp_path, old, new)
    problems = check_launch_file(broken)
    assert any(broken.name in p and item in p for p in problems), problems
    try:
        from vla_ros.runtime.launch_validate import validate_launch_file
    except ImportError:
        return
    known = {package: set(names) for package, names in KNOWN_EXECUTABLES.items()}
    local = validate_launch_file(broken, known)
    assert any(broken.name in p and new.split('"')[1] in p for p in local), local


def test_launch_file_including_a_missing_file(tmp_path):
    broken = broken_copy(PACKAGE_ROOT / "launch" / "gazebo.launch.xml", tmp_path,
                         "include/controllers.launch.xml", "include/controller.launch.xml")
    problems = check_launch_file(broken)
    assert any("gazebo.launch.xml: <include>: file 'launch/include/controller.launch.xml' "
               "does not exist" in p for p in problems), problems


def test_launch_xacro_with_a_bad_hardware_value(tmp_path):
    broken = broken_copy(PACKAGE_ROOT / "launch" / "mock.launch.xml", tmp_path,
                         'name="hardware" value="mock"', 'name="hardware" value="fake"')
    problems = check_launch_file(broken)
    assert any("description.launch.xml" in p and "panda.urdf.xacro" in p
               and "got: fake" in p for p in problems), problems


@pytest.mark.parametrize(
    ("old", "new", "item"),
    [
        ('format="3"', 'format="2"', "<package format='2'>, expected format='3'"),
        ("<license>Apache-2.0</license>", "", "required <license> is missing or empty"),
        ("<build_type>ament_python</build_type>", "<build_type>ament_cmake</build_type>",
         "<export><build_type> is 'ament_cmake', expected ament_python"),
    ],
)
def test_broken_package_xml(tmp_path, old, new, item):
    broken = broken_copy(PACKAGE_ROOT / "package.xml", tmp_path, old, new)
    assert check_package_xml(broken) == [f"package.xml: {item}"]


def test_package_xml_missing_an_exec_depend():
    problems = check_package_xml(PACKAGE_ROOT / "package.xml", exec_depends=["no_such_pkg"])
    assert problems == ["package.xml: <exec_depend>no_such_pkg</exec_depend> is missing"]
