"""Where robot descriptions and package resources live, with or without ROS.

example-robot-data is installed from PyPI as a cmeel wheel: its robots sit under
`<site-packages>/cmeel.prefix/share/example-robot-data/robots`. On a ROS machine the same
data may come from the `example-robot-data` ROS package. URDFs refer to meshes as
`package://<pkg>/...`; `resolve_package_uri` maps those to files.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
"""Source checkout (or install prefix) holding launch/, config/, urdf/."""


class AssetError(FileNotFoundError):
    """A robot description or package resource could not be found."""


@cache
def robot_data_dir() -> Path:
    """Folder holding example-robot-data's `robots/` tree."""
    candidates: list[Path] = []
    if env := os.environ.get("EXAMPLE_ROBOT_DATA_DIR"):
        candidates.append(Path(env))
    for entry in sys.path:
        candidates.append(Path(entry) / "cmeel.prefix" / "share" / "example-robot-data" / "robots")
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / "example-robot-data" / "robots")
    for path in candidates:
        if path.is_dir():
            return path
    raise AssetError(
        "example-robot-data not found: install it with `pip install example-robot-data` "
        "or set EXAMPLE_ROBOT_DATA_DIR to its robots/ folder"
    )


def share_dir(package: str = "vla_ros") -> Path:
    """`$(find-pkg-share package)`: the source tree for vla_ros, ament index otherwise."""
    if package == "vla_ros":
        if (PACKAGE_ROOT / "package.xml").is_file():
            return PACKAGE_ROOT
        installed = Path(sys.prefix) / "share" / "vla_ros"
        if installed.is_dir():
            return installed
    if package in ("example-robot-data", "example_robot_data"):
        return robot_data_dir().parent
    # example-robot-data's robot packages (panda_description, ...) live under robots/.
    try:
        candidate = robot_data_dir() / package
        if candidate.is_dir():
            return candidate
    except AssetError:
        pass
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "share" / package
        if prefix and candidate.is_dir():
            return candidate
    raise AssetError(f"package '{package}' not found (no share directory)")


def resolve_package_uri(uri: str, base: Path | None = None) -> Path:
    """Turn `package://pkg/rel`, `file://abs` or a relative path into a file path."""
    if uri.startswith("package://"):
        package, _, rel = uri[len("package://") :].partition("/")
        return share_dir(package) / rel
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    path = Path(uri)
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def example_robot_urdf(relative: str) -> Path:
    """A URDF inside example-robot-data, e.g. `panda_description/urdf/panda.urdf`."""
    path = robot_data_dir() / relative
    if not path.is_file():
        raise AssetError(f"no URDF '{relative}' in example-robot-data at {robot_data_dir()}")
    return path
