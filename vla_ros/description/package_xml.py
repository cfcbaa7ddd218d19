"""Check package.xml the way colcon/rosdep/bloom need it: format 3, the required tags,
ament_python build type, and (optionally) the dependencies a bring-up uses."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

REQUIRED_TAGS = ("name", "version", "description", "maintainer", "license")
RUN_DEPEND_TAGS = ("exec_depend", "depend")
PACKAGE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def check_package_xml(path: str | Path, exec_depends: Iterable[str] = ()) -> list[str]:
    """Problems of a package.xml; `exec_depends` lists packages that must be run dependencies
    (<exec_depend> or <depend>), e.g. everything the launch files start."""
    path = Path(path)
    name = path.name
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        return [f"{name}: cannot parse: {exc}"]
    if root.tag != "package":
        return [f"{name}: root element is <{root.tag}>, expected <package>"]
    problems: list[str] = []
    if root.get("format") != "3":
        problems.append(f"{name}: <package format='{root.get('format')}'>, expected format='3'")
    for tag in REQUIRED_TAGS:
        element = root.find(tag)
        if element is None or not (element.text or "").strip():
            problems.append(f"{name}: required <{tag}> is missing or empty")
    for maintainer in root.findall("maintainer"):
        if not maintainer.get("email"):
            problems.append(f"{name}: <maintainer> '{maintainer.text}' has no email attribute")
    package = (root.findtext("name") or "").strip()
    if package and not PACKAGE_NAME.match(package):
        problems.append(f"{name}: <name> '{package}' is not a valid ROS package name")
    version = (root.findtext("version") or "").strip()
    if version and not VERSION.match(version):
        problems.append(f"{name}: <version> '{version}' is not MAJOR.MINOR.PATCH")
    build_type = (root.findtext("export/build_type") or "").strip()
    if build_type != "ament_python":
        problems.append(f"{name}: <export><build_type> is '{build_type}', expected ament_python")
    declared = run_depends(root)
    for dependency in exec_depends:
        if dependency not in declared:
            problems.append(f"{name}: <exec_depend>{dependency}</exec_depend> is missing")
    return problems


def run_depends(root: ET.Element) -> set[str]:
    """Package names declared as run dependencies."""
    return {
        (element.text or "").strip() for tag in RUN_DEPEND_TAGS for element in root.findall(tag)
    }
