"""What the bring-up checks need to know about a URDF: joints, links, ros2_control systems.

Plain ElementTree rather than urdfdom: the `<ros2_control>` block is not part of the URDF
model that urdfdom/pinocchio expose, and the checks must name the exact XML items.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class UrdfParseError(ValueError):
    """The URDF text is not XML with a <robot> root."""


@dataclass(frozen=True)
class JointInterfaces:
    """The interfaces one joint exposes inside a <ros2_control> system."""

    command: tuple[str, ...]
    state: tuple[str, ...]


@dataclass(frozen=True)
class Ros2ControlSystem:
    name: str
    plugin: str
    joints: dict[str, JointInterfaces]


@dataclass(frozen=True)
class UrdfInfo:
    robot: str
    joint_types: dict[str, str]
    mimic: dict[str, str]
    """mimic joint -> the joint it follows"""
    links: frozenset[str]
    systems: tuple[Ros2ControlSystem, ...]
    meshes: tuple[tuple[str, str], ...] = field(default=())
    """(link name, mesh filename) for every visual and collision mesh"""
    sensors: tuple[tuple[str, str, str, str], ...] = field(default=())
    """(sensor name, sensor type, gz topic, camera_info topic or '') of every Gazebo <sensor>"""

    def ros2_control_joints(self) -> dict[str, JointInterfaces]:
        joints: dict[str, JointInterfaces] = {}
        for system in self.systems:
            joints.update(system.joints)
        return joints


def parse_urdf(urdf_xml: str) -> UrdfInfo:
    """Read joints, links, meshes, Gazebo sensors and <ros2_control> systems from URDF text."""
    try:
        root = ET.fromstring(urdf_xml)
    except ET.ParseError as exc:
        raise UrdfParseError(f"URDF is not well-formed XML: {exc}") from exc
    if root.tag != "robot":
        raise UrdfParseError(f"URDF root element is <{root.tag}>, expected <robot>")
    joint_types: dict[str, str] = {}
    mimic: dict[str, str] = {}
    for joint in root.findall("joint"):
        name = joint.get("name", "")
        joint_types[name] = joint.get("type", "")
        mimic_elt = joint.find("mimic")
        if mimic_elt is not None:
            mimic[name] = mimic_elt.get("joint", "")
    links = frozenset(link.get("name", "") for link in root.findall("link"))
    meshes = tuple(
        (link.get("name", ""), mesh.get("filename", ""))
        for link in root.findall("link")
        for kind in ("visual", "collision")
        for element in link.findall(kind)
        for mesh in element.findall("geometry/mesh")
    )
    sensors = tuple(
        (
            sensor.get("name", ""),
            sensor.get("type", ""),
            (sensor.findtext("topic") or "").strip(),
            (sensor.findtext("camera/camera_info_topic") or "").strip(),
        )
        for sensor in root.iter("sensor")
    )
    systems = tuple(_parse_system(elt) for elt in root.findall("ros2_control"))
    return UrdfInfo(
        robot=root.get("name", ""),
        joint_types=joint_types,
        mimic=mimic,
        links=links,
        systems=systems,
        meshes=meshes,
        sensors=sensors,
    )


def _parse_system(elt: ET.Element) -> Ros2ControlSystem:
    joints = {
        joint.get("name", ""): JointInterfaces(
            command=tuple(i.get("name", "") for i in joint.findall("command_interface")),
            state=tuple(i.get("name", "") for i in joint.findall("state_interface")),
        )
        for joint in elt.findall("joint")
    }
    plugin = (elt.findtext("hardware/plugin") or "").strip()
    return Ros2ControlSystem(name=elt.get("name", ""), plugin=plugin, joints=joints)
