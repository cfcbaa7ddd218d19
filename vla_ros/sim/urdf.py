"""Turn an example-robot-data URDF into something MuJoCo compiles.

MuJoCo reads URDF directly but (a) cannot load the .dae visual meshes, (b) cannot resolve
`package://` URIs and (c) by default fuses fixed links away, which would delete frames
such as `panda_hand` that the pinocchio model keeps. We therefore drop `<visual>` (the
collision .stl meshes are drawn instead), rewrite mesh paths to absolute files and add a
`<mujoco><compiler .../></mujoco>` extension element that keeps every link as a body.
Joint limits are read from the URDF here too, because MuJoCo keeps no effort or velocity
limits and the trajectory controller needs them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from vla_ros.assets import AssetError, resolve_package_uri, robot_data_dir


class UrdfError(ValueError):
    """A URDF the simulator cannot use; the message names the file and element."""


@dataclass(frozen=True)
class JointLimits:
    """Limits of one URDF joint (continuous joints get +-inf position limits)."""

    name: str
    kind: str  # "revolute" | "prismatic" | "continuous"
    lower: float
    upper: float
    effort: float
    velocity: float


def _resolve_mesh(uri: str, urdf_path: Path) -> Path:
    """example-robot-data URDFs say `package://example-robot-data/robots/<pkg>/...`."""
    prefix = "package://example-robot-data/robots/"
    if uri.startswith(prefix):
        return robot_data_dir() / uri[len(prefix) :]
    try:
        return resolve_package_uri(uri, base=urdf_path.parent)
    except AssetError as exc:
        raise UrdfError(f"{urdf_path}: cannot resolve mesh '{uri}': {exc}") from exc


def parse_joint_limits(urdf_path: Path) -> dict[str, JointLimits]:
    """Limits of every movable joint, in file order."""
    root = _parse(urdf_path)
    limits: dict[str, JointLimits] = {}
    for joint in root.iter("joint"):
        kind = joint.get("type", "")
        if kind not in ("revolute", "prismatic", "continuous"):
            continue
        name = joint.get("name", "")
        limit = joint.find("limit")
        if limit is None and kind != "continuous":
            raise UrdfError(f"{urdf_path}: joint '{name}' ({kind}) has no <limit>")
        attrs = limit.attrib if limit is not None else {}

        def get(key: str, default: float, attrs=attrs) -> float:
            return float(attrs.get(key, default))

        if kind == "continuous":
            lower, upper = -float("inf"), float("inf")
        else:
            lower, upper = get("lower", 0.0), get("upper", 0.0)
        limits[name] = JointLimits(
            name=name,
            kind=kind,
            lower=lower,
            upper=upper,
            effort=get("effort", 0.0),
            velocity=get("velocity", 0.0),
        )
    return limits


def _parse(urdf_path: Path) -> ET.Element:
    try:
        return ET.parse(urdf_path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise UrdfError(f"cannot read URDF {urdf_path}: {exc}") from exc


def mujoco_urdf_xml(urdf_path: Path) -> str:
    """URDF text MuJoCo's importer accepts: no visuals, absolute mesh paths, no fusing."""
    root = _parse(urdf_path)
    if root.tag != "robot":
        raise UrdfError(f"{urdf_path}: root element is <{root.tag}>, expected <robot>")
    for link in root.iter("link"):
        for visual in link.findall("visual"):
            link.remove(visual)
    for mesh in root.iter("mesh"):
        filename = mesh.get("filename")
        if not filename:
            raise UrdfError(f"{urdf_path}: <mesh> without filename")
        path = _resolve_mesh(filename, urdf_path)
        if not path.is_file():
            raise UrdfError(f"{urdf_path}: mesh file {path} does not exist")
        if path.suffix.lower() not in (".stl", ".obj", ".msh"):
            raise UrdfError(f"{urdf_path}: collision mesh {path} is not .stl/.obj (MuJoCo)")
        mesh.set("filename", str(path))
    # Drop ROS-only elements MuJoCo would warn about or misread.
    for tag in ("transmission", "gazebo"):
        for element in root.findall(tag):
            root.remove(element)
    extension = ET.SubElement(root, "mujoco")
    ET.SubElement(
        extension,
        "compiler",
        {"fusestatic": "false", "discardvisual": "false", "strippath": "false",
         "balanceinertia": "true", "angle": "radian"},
    )
    return ET.tostring(root, encoding="unicode")
