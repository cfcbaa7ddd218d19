"""Every mesh a URDF names must resolve to a file, or RViz, Gazebo and MuJoCo show holes."""

from __future__ import annotations

from pathlib import Path

from vla_ros.assets import AssetError, resolve_package_uri
from vla_ros.description.urdf_info import UrdfParseError, parse_urdf


def check_meshes(urdf_xml: str, source: str = "URDF", base_dir: Path | None = None) -> list[str]:
    """Problems for mesh filenames (package://, file:// or relative to `base_dir`) that do not
    resolve to an existing file; each names the URDF, the link and the mesh."""
    try:
        info = parse_urdf(urdf_xml)
    except UrdfParseError as exc:
        return [f"{source}: {exc}"]
    problems: list[str] = []
    for link, filename in info.meshes:
        where = f"{source}: link '{link}' mesh '{filename}'"
        if not filename:
            problems.append(f"{where}: empty filename")
            continue
        try:
            path = resolve_package_uri(filename, base=base_dir)
        except AssetError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not path.is_file():
            problems.append(f"{where}: no file at {path}")
    return problems
