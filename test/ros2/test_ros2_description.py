"""The robot xacro files expand for every hardware choice into URDFs that keep
example-robot-data's kinematics, load in pinocchio and MuJoCo, and carry a sound
<ros2_control> block (and, for Gazebo, the gz_ros2_control plugin and two cameras)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache

import numpy as np
import pinocchio as pin
import pytest

from vla_ros.assets import PACKAGE_ROOT, example_robot_urdf, resolve_package_uri
from vla_ros.description import (
    XacroError,
    check_meshes,
    check_ros2_control,
    expand_xacro,
    parse_urdf,
)

ROBOTS = {
    "panda": "panda_description/urdf/panda.urdf",
    "so101": "so_arm_description/urdf/so101.urdf",
}
HARDWARE = ("mock", "gazebo", "real")
SIM_PLUGINS = {"mock": "mock_components/GenericSystem", "gazebo": "gz_ros2_control/GazeboSimSystem"}
REAL_PLUGINS = {
    "panda": "franka_hardware/FrankaHardwareInterface",
    "so101": "feetech_ros2_driver/FeetechHardwareInterface",
}


@cache
def urdf(robot: str, hardware: str, **args: str) -> str:
    return expand_xacro(PACKAGE_ROOT / "urdf" / f"{robot}.urdf.xacro", hardware=hardware, **args)


@pytest.mark.parametrize("hardware", HARDWARE)
@pytest.mark.parametrize("robot", ROBOTS)
def test_xacro_expands_with_the_hardware_plugin_asked_for(robot, hardware):
    info = parse_urdf(urdf(robot, hardware))
    assert len(info.systems) == 1
    expected = SIM_PLUGINS.get(hardware, REAL_PLUGINS[robot])
    assert info.systems[0].plugin == expected
    assert check_ros2_control(urdf(robot, hardware), source=robot) == []
    assert check_meshes(urdf(robot, hardware), source=robot) == []


@pytest.mark.parametrize("robot", ROBOTS)
def test_real_hardware_plugin_is_an_argument(robot):
    text = urdf(robot, "real", hardware_plugin="my_driver/MyArmSystem")
    assert parse_urdf(text).systems[0].plugin == "my_driver/MyArmSystem"


@pytest.mark.parametrize("robot", ROBOTS)
def test_unknown_hardware_is_refused_with_its_value(robot):
    with pytest.raises(XacroError, match="hardware must be mock, gazebo or real, got: fake"):
        expand_xacro(PACKAGE_ROOT / "urdf" / f"{robot}.urdf.xacro", hardware="fake")


@pytest.mark.parametrize("hardware", HARDWARE)
@pytest.mark.parametrize("robot", ROBOTS)
def test_every_commanded_joint_is_position_with_position_and_velocity_state(robot, hardware):
    info = parse_urdf(urdf(robot, hardware))
    joints = info.ros2_control_joints()
    movable = {j for j, t in info.joint_types.items() if t != "fixed"}
    assert set(joints) == movable  # gripper:=true puts every moving joint under control
    for name, interfaces in joints.items():
        assert interfaces.state == ("position", "velocity"), name
        assert interfaces.command == (() if name in info.mimic else ("position",)), name


def test_real_panda_without_gripper_leaves_the_hand_to_franka_gripper():
    joints = parse_urdf(urdf("panda", "real", gripper="false")).ros2_control_joints()
    assert sorted(joints) == [f"panda_joint{i}" for i in range(1, 8)]


def test_so101_real_driver_gets_servo_ids_and_port():
    root = ET.fromstring(urdf("so101", "real", usb_port="/dev/ttyUSB3"))
    assert root.findtext("ros2_control/hardware/param[@name='usb_port']") == "/dev/ttyUSB3"
    ids = [int(j.findtext("param[@name='id']")) for j in root.findall("ros2_control/joint")]
    assert ids == [1, 2, 3, 4, 5, 6]
    mock = ET.fromstring(urdf("so101", "mock"))
    assert mock.find("ros2_control/joint/param[@name='id']") is None


@pytest.mark.parametrize("hardware", HARDWARE)
@pytest.mark.parametrize("robot", ROBOTS)
def test_pinocchio_model_matches_example_robot_data(robot, hardware):
    ours = pin.buildModelFromXML(urdf(robot, hardware))
    reference = pin.buildModelFromUrdf(str(example_robot_urdf(ROBOTS[robot])))
    assert list(ours.names) == list(reference.names)
    assert ours.nq == reference.nq
    np.testing.assert_allclose(ours.lowerPositionLimit, reference.lowerPositionLimit)
    np.testing.assert_allclose(ours.upperPositionLimit, reference.upperPositionLimit)
    # Same kinematics: the tool link lands at the same place for a random configuration.
    q = pin.randomConfiguration(reference)
    tool = {"panda": "panda_hand_tcp", "so101": "gripper_frame_link"}[robot]
    poses = []
    for model in (ours, reference):
        data = model.createData()
        pin.framesForwardKinematics(model, data, q)
        poses.append(data.oMf[model.getFrameId(tool)].homogeneous)
    np.testing.assert_allclose(poses[0], poses[1], atol=1e-9)


@pytest.mark.parametrize("robot", ROBOTS)
def test_initial_values_are_inside_joint_limits(robot):
    text = urdf(robot, "mock")
    model = pin.buildModelFromXML(text)
    root = ET.fromstring(text)
    for joint in root.findall("ros2_control/joint"):
        value = float(joint.findtext("state_interface[@name='position']/param"))
        index = model.joints[model.getJointId(joint.get("name"))].idx_q
        assert model.lowerPositionLimit[index] <= value <= model.upperPositionLimit[index]


@pytest.mark.parametrize("robot", ROBOTS)
def test_mujoco_loads_the_collision_model(robot):
    mujoco = pytest.importorskip("mujoco")
    root = ET.fromstring(urdf(robot, "gazebo"))
    for link in root.findall("link"):
        for visual in link.findall("visual"):  # .dae visuals: not a MuJoCo mesh format
            link.remove(visual)
    for mesh in root.iter("mesh"):
        mesh.set("filename", str(resolve_package_uri(mesh.get("filename"))))
    compiler = ET.SubElement(ET.SubElement(root, "mujoco"), "compiler")
    compiler.set("strippath", "false")
    model = mujoco.MjModel.from_xml_string(ET.tostring(root, encoding="unicode"))
    names = [model.joint(i).name for i in range(model.njnt)]
    expected = [n for n in pin.buildModelFromXML(urdf(robot, "mock")).names if n != "universe"]
    assert names == expected
    assert model.nmesh > 0


@pytest.mark.parametrize("robot", ROBOTS)
def test_gazebo_description_loads_gz_ros2_control_with_our_controllers(robot):
    root = ET.fromstring(urdf(robot, "gazebo"))
    plugins = root.findall("gazebo/plugin")
    assert [p.get("filename") for p in plugins] == ["gz_ros2_control-system"]
    assert plugins[0].get("name") == "gz_ros2_control::GazeboSimROS2ControlPlugin"
    parameters = plugins[0].findtext("parameters")
    expected = PACKAGE_ROOT / "config" / "controllers" / f"{robot}_controllers.yaml"
    assert parameters == str(expected) and expected.is_file()
    for hardware in ("mock", "real"):
        assert ET.fromstring(urdf(robot, hardware)).find("gazebo") is None


@pytest.mark.parametrize("robot", ROBOTS)
def test_gazebo_cameras_publish_the_topics_the_bridge_expects(robot):
    info = parse_urdf(urdf(robot, "gazebo"))
    cameras = {name: (kind, topic, info_topic) for name, kind, topic, info_topic in info.sensors}
    assert cameras == {
        "scene_camera": ("camera", "/vla/scene/image", "/vla/scene/camera_info"),
        "wrist_camera": ("camera", "/vla/wrist/image", "/vla/wrist/camera_info"),
    }
    assert parse_urdf(urdf(robot, "gazebo", cameras="false")).sensors == ()


def _frame(model, data, name):
    return data.oMf[model.getFrameId(name)]


def sim_spec(robot: str):
    robots = pytest.importorskip("vla_ros.sim.robots")
    return {"panda": robots.PANDA, "so101": robots.SO101}[robot]


@pytest.mark.parametrize("robot", ROBOTS)
def test_start_pose_is_the_simulators_home(robot):
    spec = sim_spec(robot)
    root = ET.fromstring(urdf(robot, "mock"))
    initial = {
        joint.get("name"): float(joint.findtext("state_interface[@name='position']/param"))
        for joint in root.findall("ros2_control/joint")
    }
    assert initial == pytest.approx({name: spec.home.get(name, 0.0) for name in initial})


@pytest.mark.parametrize("robot", ROBOTS)
def test_gazebo_cameras_sit_where_the_mujoco_scene_puts_them(robot):
    spec = sim_spec(robot)
    model = pin.buildModelFromXML(urdf(robot, "gazebo"))
    data = model.createData()
    pin.framesForwardKinematics(model, data, pin.neutral(model))
    # Scene camera: looks at the workspace centre on the table top.
    scene = _frame(model, data, "scene_camera_link")
    target = np.array([spec.workspace_center[0] + 0.05, spec.workspace_center[1],
                       spec.table_top_z])
    to_target = (target - scene.translation) / np.linalg.norm(target - scene.translation)
    view = scene.rotation[:, 0]  # gz cameras look along +x of their link
    assert np.dot(view, to_target) > np.cos(np.radians(1.0))
    optical = _frame(model, data, "scene_camera_optical_frame")
    np.testing.assert_allclose(optical.rotation[:, 2], view, atol=1e-9)  # ROS optical: z ahead
    # Wrist camera: the spec's mounting point, look and up directions in its body's frame.
    body = _frame(model, data, spec.wrist_camera_body)
    wrist = body.actInv(_frame(model, data, "wrist_camera_link"))
    np.testing.assert_allclose(wrist.translation, spec.wrist_camera_pos, atol=1e-9)
    forward = np.asarray(spec.wrist_camera_forward) / np.linalg.norm(spec.wrist_camera_forward)
    np.testing.assert_allclose(wrist.rotation[:, 0], forward, atol=1e-6)
    np.testing.assert_allclose(wrist.rotation[:, 2], spec.wrist_camera_up, atol=1e-6)
