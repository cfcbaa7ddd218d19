"""config/gazebo/<robot>_bridge.yaml bridges the clock and every Gazebo camera of the
robot to the topics perception_node subscribes: camera/<name>/image_raw + camera_info."""

from __future__ import annotations

import pytest
import yaml

from vla_ros.assets import PACKAGE_ROOT
from vla_ros.description import check_bridge, expand_xacro, parse_urdf

ROBOTS = ("panda", "so101")


def bridge_file(robot: str):
    return PACKAGE_ROOT / "config" / "gazebo" / f"{robot}_bridge.yaml"


def gazebo_urdf(robot: str) -> str:
    return expand_xacro(PACKAGE_ROOT / "urdf" / f"{robot}.urdf.xacro", hardware="gazebo")


def camera_names(urdf_xml: str) -> list[str]:
    return sorted(name.removesuffix("_camera") for name, *_ in parse_urdf(urdf_xml).sensors)


@pytest.mark.parametrize("robot", ROBOTS)
def test_bridge_carries_clock_and_every_camera_of_the_robot(robot):
    urdf = gazebo_urdf(robot)
    names = camera_names(urdf)
    assert names == ["scene", "wrist"]
    expected = ["/clock"] + [
        f"camera/{name}/{topic}" for name in names for topic in ("image_raw", "camera_info")
    ]
    assert check_bridge(bridge_file(robot), expected, urdf_xml=urdf) == []


@pytest.mark.parametrize("robot", ROBOTS)
def test_bridge_only_flows_from_gazebo_and_uses_perception_topic_names(robot):
    entries = yaml.safe_load(bridge_file(robot).read_text())
    assert {e["direction"] for e in entries} == {"GZ_TO_ROS"}
    images = [e["ros_topic_name"] for e in entries if e["ros_type_name"].endswith("/Image")]
    assert images and all(
        t.startswith("camera/") and t.endswith("/image_raw") and t.count("/") == 2 for t in images
    )


@pytest.mark.parametrize("robot", ROBOTS)
def test_bridged_cameras_are_the_ones_the_mujoco_sim_publishes(robot):
    """perception_node is configured for the sim's camera names; Gazebo must offer the same."""
    scene = pytest.importorskip("vla_ros.sim.scene")
    entries = yaml.safe_load(bridge_file(robot).read_text())
    bridged = {e["ros_topic_name"].split("/")[1] for e in entries
               if e["ros_topic_name"].startswith("camera/")}
    assert bridged == {scene.SCENE_CAMERA, scene.WRIST_CAMERA}
