"""Static check of the ROS-only bring-up launch files (robot, mock, Gazebo).

The local launch interpreter (`vla_ros.runtime.launch`) refuses what only a ROS machine can
run: `$(command 'xacro ...')`, `$(find-exec)`, Python launch includes. Those are exactly
what a bring-up needs, so this walker follows the XML with the given arguments and checks
what it references instead of refusing it:
  - every `<node pkg exec>` names a known executable (vla_ros console scripts, or the
    table of external packages below);
  - every vla_ros file it names (includes, param files, configs) exists;
  - `$(command 'xacro FILE k:=v ...')` expands, and its <ros2_control> block and meshes
    are sound; the controller YAML handed to ros2_control_node / spawner matches that
    URDF; the ros_gz_bridge config bridges the camera topics the URDF's sensors publish.
It also collects every ROS package the bring-up uses, for the package.xml check.
"""

from __future__ import annotations

import ast
import os
import shlex
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

from vla_ros.assets import PACKAGE_ROOT, AssetError, share_dir
from vla_ros.description.bridge import check_bridge
from vla_ros.description.controllers import check_controllers, check_ros2_control
from vla_ros.description.meshes import check_meshes
from vla_ros.description.xacro_expand import XacroError, expand_xacro
from vla_ros.runtime import launch_subst

OWN_PACKAGE = "vla_ros"

# Executables of the external packages our bring-up files start (ROS 2 Jazzy).
KNOWN_EXECUTABLES: dict[str, frozenset[str]] = {
    "robot_state_publisher": frozenset({"robot_state_publisher"}),
    "controller_manager": frozenset(
        {"ros2_control_node", "spawner", "unspawner", "hardware_spawner"}
    ),
    "ros_gz_sim": frozenset({"create", "gzserver"}),
    "ros_gz_bridge": frozenset({"parameter_bridge", "bridge_node"}),
    "usb_cam": frozenset({"usb_cam_node_exe"}),
    "v4l2_camera": frozenset({"v4l2_camera_node"}),
    "realsense2_camera": frozenset({"realsense2_camera_node"}),
    "franka_gripper": frozenset({"franka_gripper_node"}),
    "rviz2": frozenset({"rviz2"}),
}
# Python launch files of external packages that XML files may include.
KNOWN_LAUNCH_FILES: dict[str, frozenset[str]] = {
    "ros_gz_sim": frozenset({"launch/gz_sim.launch.py", "launch/gz_server.launch.py"}),
}
# ros2_control hardware plugins -> the package that provides them.
PLUGIN_PACKAGES = {
    "mock_components": "hardware_interface",
    "gz_ros2_control": "gz_ros2_control",
}
NON_PACKAGE_SUBSTITUTIONS = ("var", "env", "optenv", "dirname", "filename", "command", "eval")


@dataclass
class LaunchReport:
    """What walking a launch file found."""

    problems: list[str] = field(default_factory=list)
    packages: set[str] = field(default_factory=set)
    """ROS packages needed at run time: nodes, includes, find-pkg-*, xacro, plugins"""
    robot_descriptions: list[str] = field(default_factory=list)
    """URDF texts produced by the xacro commands, in launch order"""


def check_launch_file(path: str | Path, args: dict[str, str] | None = None) -> list[str]:
    """Problems of a bring-up launch file run with launch arguments `args`."""
    return walk_launch_file(path, args).problems


def launch_dependencies(path: str | Path, args: dict[str, str] | None = None) -> set[str]:
    """ROS packages (other than vla_ros) the launch file needs with arguments `args`."""
    return walk_launch_file(path, args).packages - {OWN_PACKAGE}


def walk_launch_file(path: str | Path, args: dict[str, str] | None = None) -> LaunchReport:
    report = LaunchReport()
    _Walker(report).file(Path(path), dict(args or {}), chain=())
    return report


@cache
def own_executables() -> frozenset[str]:
    """vla_ros console scripts: setup.py's NODES list, else the installed entry points."""
    setup = PACKAGE_ROOT / "setup.py"
    if setup.is_file():
        for node in ast.walk(ast.parse(setup.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "NODES" for target in node.targets
            ):
                return frozenset(ast.literal_eval(node.value))
    return frozenset(
        entry.name
        for entry in metadata.entry_points(group="console_scripts")
        if entry.dist is not None and entry.dist.name.replace("-", "_") == OWN_PACKAGE
    )


class _UnresolvedError(Exception):
    """A substitution this walker cannot evaluate (message says which)."""


class _Walker:
    def __init__(self, report: LaunchReport) -> None:
        self.report = report
        self.description: str | None = None

    def problem(self, where: str, message: str) -> None:
        self.report.problems.append(f"{where}: {message}")

    # --- files and elements ------------------------------------------------------------
    def file(self, path: Path, configs: dict[str, str], chain: tuple[str, ...]) -> None:
        name = _display(path)
        if len(chain) > 16:
            self.problem(name, f"include depth over 16 ({' -> '.join(chain)})")
            return
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            self.problem(name, f"cannot parse launch XML: {exc}")
            return
        if root.tag != "launch":
            self.problem(name, f"root element is <{root.tag}>, expected <launch>")
            return
        self.children(root, path, configs, (*chain, name))

    def children(
        self, parent: ET.Element, path: Path, configs: dict[str, str], chain: tuple[str, ...]
    ) -> None:
        for element in parent:
            if not isinstance(element.tag, str) or not self.enabled(element, path, configs):
                continue
            handler = getattr(self, "tag_" + element.tag.replace("-", "_"), None)
            if handler is not None:
                handler(element, path, configs, chain)

    def enabled(self, element: ET.Element, path: Path, configs: dict[str, str]) -> bool:
        for attribute, wanted in (("if", True), ("unless", False)):
            if attribute in element.attrib:
                value = self.sub(element.attrib[attribute], path, configs, element.tag)
                if value is None:
                    return False
                if value.lower() not in ("true", "false", "1", "0"):
                    self.problem(_display(path), f"<{element.tag} {attribute}='{value}'>: "
                                 "condition must be true or false")
                    return False
                if (value.lower() in ("true", "1")) != wanted:
                    return False
        return True

    def tag_arg(self, element: ET.Element, path: Path, configs: dict[str, str], _chain) -> None:
        name = element.get("name", "")
        if name not in configs and "default" in element.attrib:
            value = self.sub(element.attrib["default"], path, configs, f"arg {name}")
            if value is not None:
                configs[name] = value

    def tag_let(self, element: ET.Element, path: Path, configs: dict[str, str], _chain) -> None:
        name = element.get("name", "")
        value = self.sub(element.get("value", ""), path, configs, f"let {name}")
        if value is not None:
            configs[name] = value

    def tag_group(self, element: ET.Element, path: Path, configs: dict[str, str], chain) -> None:
        scoped = element.get("scoped", "true").lower() != "false"
        self.children(element, path, dict(configs) if scoped else configs, chain)

    def tag_set_env(self, element: ET.Element, path: Path, configs: dict[str, str], _c) -> None:
        self.sub(element.get("value", ""), path, configs, f"set_env {element.get('name')}")

    def tag_include(self, element: ET.Element, path: Path, configs: dict[str, str], chain) -> None:
        target = self.sub(element.get("file", ""), path, configs, "include")
        if target is None:
            return
        given = dict(configs)
        for arg in element.findall("arg"):
            value = self.sub(arg.get("value", ""), path, configs, f"include arg {arg.get('name')}")
            if value is not None:
                given[arg.get("name", "")] = value
        external = _external_package_file(target)
        if external is not None:
            package, relative = external
            known = KNOWN_LAUNCH_FILES.get(package, frozenset())
            if relative not in known:
                self.problem(_display(path), f"<include file='{target}'>: not a launch file "
                             f"this checker knows in package '{package}'")
            return
        included = Path(target)
        if not included.is_file():
            self.problem(_display(path), f"<include>: file '{_display(included)}' does not exist")
            return
        if included.suffix != ".xml":
            self.problem(_display(path), f"<include>: '{_display(included)}' is not XML")
            return
        self.file(included, given, chain)

    def tag_node(self, element: ET.Element, path: Path, configs: dict[str, str], _chain) -> None:
        package = self.sub(element.get("pkg", ""), path, configs, "node pkg") or "?"
        executable = self.sub(element.get("exec", ""), path, configs, "node exec") or "?"
        where = f"{_display(path)}: <node pkg='{package}' exec='{executable}'>"
        self.report.packages.add(package)
        executables = (
            own_executables() if package == OWN_PACKAGE else KNOWN_EXECUTABLES.get(package)
        )
        if executables is None:
            self.report.problems.append(f"{where}: package '{package}' is not known to "
                                        "vla_ros.description (KNOWN_EXECUTABLES)")
        elif executable not in executables:
            self.report.problems.append(f"{where}: package '{package}' has no executable "
                                        f"'{executable}' (has: {', '.join(sorted(executables))})")
        params: dict[str, str] = {}
        for param in element.findall("param"):
            if "from" in param.attrib:
                source = self.sub(param.attrib["from"], path, configs, "param from")
                if source is not None:
                    self.param_file(where, source)
            elif "name" in param.attrib:
                label = f"param {param.get('name')}"
                value = self.sub(param.get("value", ""), path, configs, label)
                if value is not None:
                    params[param.attrib["name"]] = value
        if package == "ros_gz_bridge" and "config_file" in params:
            self.bridge(where, params["config_file"])
        arguments = self.sub(element.get("args", ""), path, configs, "node args") or ""
        if (package, executable) == ("controller_manager", "spawner"):
            tokens = arguments.split()
            for flag in ("--param-file", "-p"):
                if flag in tokens and tokens.index(flag) + 1 < len(tokens):
                    source = tokens[tokens.index(flag) + 1]
                    self.param_file(where, source)
                    self.controllers(where, source, spawned=_spawned(tokens))

    # --- referenced files --------------------------------------------------------------
    def param_file(self, where: str, source: str) -> None:
        if _external_package_file(source) is None and not Path(source).is_file():
            self.report.problems.append(f"{where}: parameter file '{_display(Path(source))}' "
                                        "does not exist")

    def controllers(self, where: str, source: str, spawned: list[str] | None = None) -> None:
        if self.description is None or not Path(source).is_file():
            return
        problems = check_controllers(
            self.description, source, source="robot_description", controllers=spawned
        )
        for problem in problems:
            self.report.problems.append(f"{where}: {problem}")
        for package in _controller_packages(source, spawned):
            self.report.packages.add(package)

    def bridge(self, where: str, source: str) -> None:
        if not Path(source).is_file():
            self.report.problems.append(f"{where}: bridge config '{_display(Path(source))}' "
                                        "does not exist")
            return
        for problem in check_bridge(source, urdf_xml=self.description):
            self.report.problems.append(f"{where}: {problem}")

    def xacro(self, where: str, command: str) -> str:
        tokens = shlex.split(command)
        if not tokens or os.path.basename(tokens[0]) != "xacro":
            raise _UnresolvedError(f"$(command '{command}') is not a xacro call this checker runs")
        self.report.packages.add("xacro")
        files = [t for t in tokens[1:] if ":=" not in t and not t.startswith("-")]
        mappings = dict(t.split(":=", 1) for t in tokens[1:] if ":=" in t)
        if len(files) != 1:
            raise _UnresolvedError(f"$(command '{command}') must name exactly one xacro file")
        source = _display(Path(files[0]))
        try:
            urdf = expand_xacro(files[0], **mappings)
        except XacroError as exc:
            raise _UnresolvedError(str(exc)) from exc
        for problem in check_ros2_control(urdf, source=source) + check_meshes(urdf, source=source):
            self.report.problems.append(f"{where}: {problem}")
        for plugin_prefix in _plugins(urdf):
            if plugin_prefix in PLUGIN_PACKAGES:  # real drivers are installed by the user
                self.report.packages.add(PLUGIN_PACKAGES[plugin_prefix])
        self.report.packages.add("example-robot-data")
        self.description = urdf
        self.report.robot_descriptions.append(urdf)
        return urdf

    # --- substitutions -----------------------------------------------------------------
    def sub(self, text: str, path: Path, configs: dict[str, str], what: str) -> str | None:
        """`text` with substitutions done; None (and a problem) when it cannot be evaluated."""
        if "$(" not in text:
            return text
        where = f"{_display(path)}: <{what}>"
        try:
            fragments = launch_subst.parse(text)
            return launch_subst.evaluate(
                fragments, lambda name, args: self.resolve(name, args, path, configs, where)
            )
        except (_UnresolvedError, launch_subst.SubstitutionError) as exc:
            self.report.problems.append(f"{where}: {exc}")
            return None

    def resolve(
        self, name: str, args: list[str], path: Path, configs: dict[str, str], where: str
    ) -> str:
        if name not in NON_PACKAGE_SUBSTITUTIONS and args:
            self.report.packages.add(args[0])
        if name == "var":
            if args[0] not in configs:
                raise _UnresolvedError(f"$(var {args[0]}) has no value (no default, not given)")
            return configs[args[0]]
        if name in ("env", "optenv"):
            fallback = args[1] if len(args) > 1 else ("" if name == "optenv" else None)
            value = os.environ.get(args[0], fallback)
            if value is None:
                raise _UnresolvedError(f"$(env {args[0]}) is not set and has no default")
            return value
        if name == "find-pkg-share":
            return _share(args[0])
        if name == "find-pkg-prefix":
            return str(Path(_share(args[0])).parent.parent)
        if name == "find-exec":
            return args[0]
        if name == "dirname":
            return str(path.resolve().parent)
        if name == "command":
            return self.xacro(where, " ".join(args))
        raise _UnresolvedError(f"$({name}) is not evaluated by vla_ros.description")


def _share(package: str) -> str:
    """Real share folder for vla_ros and example-robot-data, a placeholder for the rest."""
    if package == OWN_PACKAGE:
        return str(share_dir(OWN_PACKAGE))
    try:
        return str(share_dir(package))
    except AssetError:
        return f"<share:{package}>"


def _external_package_file(path: str) -> tuple[str, str] | None:
    """(package, relative path) for a path under an unresolved `<share:pkg>` placeholder."""
    if path.startswith("<share:") and ">" in path:
        package, _, rest = path[len("<share:") :].partition(">")
        return package, rest.lstrip("/")
    return None


def _spawned(tokens: list[str]) -> list[str]:
    names: list[str] = []
    skip = False
    for token in tokens:
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token not in ("--load-only", "--inactive", "--activate-as-group", "-u",
                                 "--unload-on-kill")
        else:
            names.append(token)
    return names


def _controller_packages(source: str, spawned: list[str] | None) -> set[str]:
    import yaml

    data = yaml.safe_load(Path(source).read_text()) or {}
    manager = (data.get("controller_manager") or {}).get("ros__parameters") or {}
    return {
        str(value["type"]).split("/")[0]
        for key, value in manager.items()
        if isinstance(value, dict) and "type" in value and (spawned is None or key in spawned)
    }


def _plugins(urdf: str) -> set[str]:
    root = ET.fromstring(urdf)
    return {
        (plugin.text or "").strip().split("/")[0]
        for plugin in root.findall("ros2_control/hardware/plugin")
    } | {
        (plugin.get("filename") or "").removesuffix("-system").removeprefix("lib")
        for plugin in root.findall("gazebo/plugin")
    }


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PACKAGE_ROOT))
    except ValueError:
        return str(path)
