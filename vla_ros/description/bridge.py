"""Check a ros_gz_bridge YAML config: well-formed entries, matching ROS/Gazebo message
types, and every ROS topic our nodes expect actually bridged."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from vla_ros.description.urdf_info import UrdfParseError, parse_urdf

# ROS type -> Gazebo type, for the messages a vla_ros bring-up bridges.
ROS_TO_GZ_TYPES = {
    "rosgraph_msgs/msg/Clock": "gz.msgs.Clock",
    "sensor_msgs/msg/Image": "gz.msgs.Image",
    "sensor_msgs/msg/CameraInfo": "gz.msgs.CameraInfo",
    "sensor_msgs/msg/JointState": "gz.msgs.Model",
    "sensor_msgs/msg/PointCloud2": "gz.msgs.PointCloudPacked",
    "geometry_msgs/msg/Twist": "gz.msgs.Twist",
    "tf2_msgs/msg/TFMessage": "gz.msgs.Pose_V",
}
DIRECTIONS = ("BIDIRECTIONAL", "GZ_TO_ROS", "ROS_TO_GZ")


def check_bridge(
    bridge_yaml: str | Path, expected_topics: Iterable[str] = (), urdf_xml: str | None = None
) -> list[str]:
    """Problems of a parameter_bridge `config_file`.

    expected_topics: ROS topic names (as written in the file, e.g. `camera/scene/image_raw`)
    that must be bridged. urdf_xml: when given, every Gazebo topic bridged to a ROS image or
    camera_info must be published by a camera sensor of that URDF.
    """
    path = Path(bridge_yaml)
    name = path.name
    try:
        entries = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return [f"{name}: cannot read bridge YAML: {exc}"]
    if not isinstance(entries, list) or not entries:
        return [f"{name}: expected a non-empty YAML list of bridge entries"]

    problems: list[str] = []
    ros_topics: dict[str, int] = {}
    gz_image_topics: list[tuple[int, str]] = []
    for index, entry in enumerate(entries):
        where = f"{name}: entry {index}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        ros_topic = entry.get("ros_topic_name", entry.get("topic_name"))
        gz_topic = entry.get("gz_topic_name", entry.get("topic_name"))
        where = f"{name}: entry {index} ({ros_topic or gz_topic or '?'})"
        if not ros_topic or not gz_topic:
            problems.append(f"{where}: needs topic_name or ros_topic_name + gz_topic_name")
        ros_type = entry.get("ros_type_name")
        gz_type = entry.get("gz_type_name")
        if not ros_type or not gz_type:
            problems.append(f"{where}: needs ros_type_name and gz_type_name")
        elif ros_type in ROS_TO_GZ_TYPES and ROS_TO_GZ_TYPES[ros_type] != gz_type:
            problems.append(
                f"{where}: {ros_type} bridges to {ROS_TO_GZ_TYPES[ros_type]}, not {gz_type}"
            )
        direction = entry.get("direction", "BIDIRECTIONAL")
        if direction not in DIRECTIONS:
            problems.append(f"{where}: direction '{direction}' is not one of {DIRECTIONS}")
        if ros_topic:
            if ros_topic in ros_topics:
                problems.append(f"{where}: ROS topic also bridged by entry {ros_topics[ros_topic]}")
            ros_topics.setdefault(ros_topic, index)
        if gz_topic and ros_type in ("sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo"):
            gz_image_topics.append((index, gz_topic))

    for topic in expected_topics:
        if topic not in ros_topics:
            problems.append(f"{name}: ROS topic '{topic}' is not bridged")

    if urdf_xml is not None:
        problems += _check_sensor_topics(name, gz_image_topics, urdf_xml)
    return problems


def _check_sensor_topics(
    name: str, gz_topics: list[tuple[int, str]], urdf_xml: str
) -> list[str]:
    try:
        info = parse_urdf(urdf_xml)
    except UrdfParseError as exc:
        return [f"{name}: URDF to compare with: {exc}"]
    published: set[str] = set()
    for _, sensor_type, topic, info_topic in info.sensors:
        if sensor_type in ("camera", "rgbd_camera", "depth_camera") and topic:
            published.add(topic)
            published.add(info_topic or camera_info_topic(topic))
    return [
        f"{name}: entry {index}: Gazebo topic '{topic}' is published by no camera sensor of "
        f"robot '{info.robot}' (sensors publish {sorted(published)})"
        for index, topic in gz_topics
        if topic not in published
    ]


def camera_info_topic(image_topic: str) -> str:
    """gz-sensors' default camera_info topic: the image topic's last element -> camera_info."""
    parent = image_topic.rsplit("/", 1)[0] if "/" in image_topic else ""
    return f"{parent}/camera_info"
