"""ROS 2 XML launch files → a plan of nodes the local backend can start.

The same `launch/*.launch.xml` runs under `ros2 launch vla_ros X.launch.xml` and under
`vla-ros launch X.launch.xml`; this module reads it the way launch/launch_ros do (document
order, scoped groups and includes, launch configurations, ROS namespace/remap/parameter
stacks) and returns `NodeSpec`s instead of processes. Anything it cannot reproduce
locally is refused with the file, line and tag rather than silently ignored. See
docs/launch.md for the supported subset.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vla_ros.assets import AssetError, share_dir
from vla_ros.runtime import launch_subst
from vla_ros.runtime.launch_subst import SubstitutionError
from vla_ros.runtime.param_file import (
    ParamDict,
    ParameterFileError,
    display_path,
    parse_param_value,
)
from vla_ros.runtime.rosargs import (
    RosArgsError,
    TopicNameError,
    normalize_namespace,
    parse_ros_args,
    validate_node_name,
    validate_topic_name,
)

OWN_PACKAGE = "vla_ros"

# (package, executable) of another package → what plays its part locally (filled by the
# runtime's launcher, e.g. ("controller_manager", "ros2_control_node") → "mujoco_sim").
LOCAL_STANDINS: dict[tuple[str, str], str] = {}

NAMESPACE_TAGS = ("push_ros_namespace", "push-ros-namespace")
UNSUPPORTED_TAGS = {
    "executable": "runs an arbitrary process",
    "node_container": "starts a C++ component container",
    "composable_node_container": "starts a C++ component container",
    "load_composable_nodes": "loads C++ components",
    "composable_node": "is a C++ component",
    "timer": "delays actions in real time",
    "set_parameters_from_file": "is not implemented by the local interpreter",
    "unset_env": "is not implemented by the local interpreter",
    "shutdown": "is not implemented by the local interpreter",
}
OUTPUTS = {"screen", "log", "both", "own_log", "full"}
MAX_INCLUDE_DEPTH = 32
COMMAND_TIMEOUT_S = 120.0
UNRESOLVED_PREFIX = "/__package_not_installed__/"
"""`$(find-pkg-share pkg)` of a package missing here, when external references are allowed."""


class LaunchError(ValueError):
    """A launch file that cannot be interpreted; the message starts with `file:line`."""


@dataclass
class NodeSpec:
    """One `<node>` after substitutions, namespaces, scoped remaps and parameters."""

    package: str
    executable: str
    name: str | None
    namespace: str
    parameters: list[Path | dict] = field(default_factory=list)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    ros_arguments: list[str] = field(default_factory=list)
    respawn: bool = False
    respawn_delay: float = 0.0
    output: str = "log"
    env: dict[str, str] = field(default_factory=dict)
    source: str = ""
    external: bool = False
    """Another package's node with no local stand-in: the local runner refuses it."""
    standin: str | None = None
    launch_prefix: str | None = None
    on_exit: str | None = None


@dataclass
class LaunchArgument:
    """An `<arg>` a launch file declares (what `ros2 launch --show-args` lists)."""

    name: str
    default: str | None
    description: str = ""
    choices: list[str] | None = None
    source: str = ""


@dataclass
class LaunchPlan:
    nodes: list[NodeSpec]
    arguments: dict[str, str]
    files: list[Path]
    declared: dict[str, LaunchArgument] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    """Text of `<log message>` actions, in order."""
    external_includes: list[ExternalInclude] = field(default_factory=list)
    """Includes of other packages' or non-XML launch files (only with allow_external)."""
    external_packages: dict[str, str] = field(default_factory=dict)
    """Packages referenced by $(find-pkg-share/prefix) but not installed here → first use."""


@dataclass
class ExternalInclude:
    """An `<include>` the local interpreter does not descend into."""

    path: str
    package: str | None
    arguments: dict[str, str]
    source: str


# --- XML with line numbers ---------------------------------------------------------------
@dataclass
class Element:
    tag: str
    attrib: dict[str, str]
    line: int
    file: Path
    children: list[Element] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{display_path(self.file)}:{self.line}"


def parse_xml(path: Path) -> Element:
    """The file as a tree of `Element`s that remember their line (ElementTree forgets it)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise LaunchError(f"{display_path(path)}: cannot read launch file: "
                          f"{err.strerror or err}") from None
    parser = xml.parsers.expat.ParserCreate()
    stack: list[Element] = []
    roots: list[Element] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        element = Element(tag, dict(attrib), parser.CurrentLineNumber, path)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: stack.pop()
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as err:
        raise LaunchError(f"{display_path(path)}:{err.lineno}: XML syntax error: "
                          f"{xml.parsers.expat.ErrorString(err.code)}") from None
    return roots[0]


# --- interpretation state ----------------------------------------------------------------
@dataclass
class _Scope:
    """What launch keeps in (scoped) launch configurations and the environment."""

    configs: dict[str, str]
    ros_namespace: str | None = None
    remaps: list[tuple[str, str]] = field(default_factory=list)
    global_params: list[tuple[str, Any, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def child(self) -> _Scope:
        return _Scope(dict(self.configs), self.ros_namespace, list(self.remaps),
                      list(self.global_params), dict(self.env))


@dataclass
class _File:
    path: Path
    declared: dict[str, LaunchArgument] = field(default_factory=dict)


class _Interpreter:
    def __init__(self, allow_external: bool = False) -> None:
        self.plan = LaunchPlan(nodes=[], arguments={}, files=[])
        self.allow_external = allow_external
        self.current: Element | None = None
        self.files: list[_File] = []
        self.include_chain: list[str] = []

    # --- errors and attributes ---
    def error(self, el: Element, message: str, attr: str | None = None) -> LaunchError:
        what = f"<{el.tag}>" if attr is None else f"<{el.tag} {attr}=\"{el.attrib.get(attr, '')}\">"
        chain = "".join(f"\n  included from {w}" for w in reversed(self.include_chain))
        return LaunchError(f"{el.where}: {what}: {message}{chain}")

    def check_attrs(self, el: Element, allowed: set[str], required: set[str] = frozenset()
                    ) -> None:
        unknown = set(el.attrib) - allowed - required - {"if", "unless"}
        if unknown:
            raise self.error(el, f"unknown attribute(s) {', '.join(sorted(unknown))}; "
                                 f"<{el.tag}> takes {', '.join(sorted(allowed | required))}")
        for name in sorted(required):
            if name not in el.attrib:
                raise self.error(el, f"missing required attribute '{name}'")

    def sub(self, el: Element, attr: str, scope: _Scope, default: str | None = None
            ) -> str | None:
        raw = el.attrib.get(attr)
        if raw is None:
            return default
        self.current = el
        try:
            return launch_subst.substitute(raw, lambda n, a: self.resolve(n, a, scope))
        except SubstitutionError as err:
            raise self.error(el, str(err), attr) from None

    def resolve(self, name: str, args: list[str], scope: _Scope) -> str:
        """Meaning of each substitution name."""
        current = self.files[-1].path

        def arity(low: int, high: int) -> None:
            if not low <= len(args) <= high:
                want = str(low) if low == high else f"{low} to {high}"
                raise SubstitutionError(f"$({name}) takes {want} argument(s), got {len(args)}")

        if name == "var":
            arity(1, 1)
            if args[0] not in scope.configs:
                known = ", ".join(sorted(scope.configs)) or "none"
                raise SubstitutionError(f"launch configuration '{args[0]}' is not set "
                                        f"(declare it with <arg> or <let>; set: {known})")
            return scope.configs[args[0]]
        if name in ("env", "optenv"):
            arity(1, 2)
            value = scope.env.get(args[0], os.environ.get(args[0]))
            if value is not None:
                return value
            if len(args) == 2:
                return args[1]
            if name == "optenv":
                return ""
            raise SubstitutionError(f"environment variable '{args[0]}' is not set "
                                    f"(give a default: $(env {args[0]} default))")
        if name in ("find-pkg-share", "find-pkg-prefix"):
            arity(1, 1)
            return self.package_path(args[0], prefix=name == "find-pkg-prefix")
        if name == "find-exec":
            arity(1, 1)
            return find_executable(args[0])
        if name == "command":
            arity(1, 2)
            return run_command(args[0], args[1] if len(args) == 2 else "fail")
        if name == "dirname":
            arity(0, 0)
            return str(current.resolve().parent)
        if name == "filename":
            arity(0, 0)
            return str(current.resolve())
        if name == "eval":
            if not args:
                raise SubstitutionError("$(eval) needs an expression")
            return launch_subst.safe_eval(" ".join(args))
        if name in ("exec-in-pkg", "anon"):
            raise SubstitutionError(f"$({name}) is not supported by the local launch "
                                    "interpreter")
        raise SubstitutionError(
            f"unknown substitution $({name}); supported: var, env, optenv, find-pkg-share, "
            "find-pkg-prefix, find-exec, command, dirname, filename, eval"
        )

    def package_path(self, package: str, prefix: bool) -> str:
        try:
            share = share_dir(package)
        except AssetError as err:
            if not self.allow_external:
                raise SubstitutionError(str(err)) from None
            where = self.current.where if self.current is not None else ""
            self.plan.external_packages.setdefault(package, where)
            return UNRESOLVED_PREFIX + package
        if not prefix:
            return str(share)
        # <prefix>/share/<package> → <prefix>; a source checkout is its own prefix
        return str(share.parent.parent if share.parent.name == "share" else share)

    def condition(self, el: Element, scope: _Scope) -> bool:
        if "if" in el.attrib and "unless" in el.attrib:
            raise self.error(el, "use either 'if' or 'unless', not both")
        for attr, wanted in (("if", True), ("unless", False)):
            if attr in el.attrib:
                value = self.sub(el, attr, scope).strip().lower()
                if value in ("true", "1"):
                    return wanted
                if value in ("false", "0"):
                    return not wanted
                raise self.error(el, f"condition must be true, false, 1 or 0, got '{value}'",
                                 attr)
        return True

    def flag(self, el: Element, attr: str, scope: _Scope, default: bool) -> bool:
        value = self.sub(el, attr, scope)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise self.error(el, f"expected true or false, got '{value}'", attr)

    def path(self, el: Element, attr: str, scope: _Scope) -> Path:
        text = self.sub(el, attr, scope)
        if not text:
            raise self.error(el, "empty path", attr)
        path = Path(text).expanduser()
        if not path.is_absolute() and not text.startswith(UNRESOLVED_PREFIX):
            self.plan.warnings.append(
                f"{el.where}: <{el.tag} {attr}=\"{text}\">: relative path, resolved against "
                "the working directory as ros2 launch does; prefer "
                "$(find-pkg-share vla_ros)/... or $(dirname)/..."
            )
        return path

    # --- files ---
    def run_file(self, path: Path, scope: _Scope) -> _File:
        if len(self.files) >= MAX_INCLUDE_DEPTH or any(
                f.path.resolve() == path.resolve() for f in self.files):
            raise LaunchError(f"{display_path(path)}: include cycle: "
                              + " → ".join(display_path(f.path) for f in self.files))
        root = parse_xml(path)
        if root.tag != "launch":
            raise LaunchError(f"{root.where}: root element must be <launch>, found <{root.tag}>")
        self.check_attrs(root, {"version"})
        state = _File(path)
        self.files.append(state)
        if path.resolve() not in self.plan.files:
            self.plan.files.append(path.resolve())
        try:
            self.body(root, scope)
        finally:
            self.files.pop()
        return state

    def body(self, parent: Element, scope: _Scope) -> None:
        for el in parent.children:
            if not self.condition(el, scope):
                continue
            tag = "push_ros_namespace" if el.tag in NAMESPACE_TAGS else el.tag
            handler = self.handlers().get(tag)
            if handler is not None:
                handler(el, scope)
            elif el.tag in UNSUPPORTED_TAGS:
                raise self.error(el, f"not supported locally: <{el.tag}> "
                                     f"{UNSUPPORTED_TAGS[el.tag]}; run this file with "
                                     "`ros2 launch` on a ROS 2 machine")
            else:
                raise self.error(el, f"unknown tag <{el.tag}> (supported: "
                                     f"{', '.join(sorted(self.handlers()))})")

    def handlers(self) -> dict[str, Any]:
        return {
            "arg": self.arg, "let": self.let, "group": self.group, "include": self.include,
            "node": self.node, "push_ros_namespace": self.push_namespace,
            "set_parameter": self.set_parameter, "set_remap": self.set_remap,
            "set_env": self.set_env, "log": self.log,
        }

    # --- tags ---
    def arg(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, {"default", "description", "choices", "choices-sep"}, {"name"})
        name = el.attrib["name"]
        default = self.sub(el, "default", scope)
        choices = None
        if "choices" in el.attrib:
            sep = el.attrib.get("choices-sep", ",")
            choices = [c.strip() for c in self.sub(el, "choices", scope).split(sep)]
        declared = LaunchArgument(name, el.attrib.get("default"),
                                  el.attrib.get("description", ""), choices, el.where)
        self.files[-1].declared[name] = declared
        if name not in scope.configs:
            if default is None:
                raise self.error(el, f"required launch argument '{name}' was not given "
                                     f"(pass {name}:=VALUE"
                                     + (" or an <arg> in the <include>" if self.include_chain
                                        else "") + ")")
            scope.configs[name] = default
        if choices is not None and scope.configs[name] not in choices:
            raise self.error(el, f"launch argument '{name}' is '{scope.configs[name]}', "
                                 f"expected one of: {', '.join(choices)}")
        if len(self.files) == 1:
            self.plan.declared[name] = declared
            self.plan.arguments[name] = scope.configs[name]

    def let(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, set(), {"name", "value"})
        scope.configs[el.attrib["name"]] = self.sub(el, "value", scope)

    def group(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, {"scoped", "forwarding"})
        if not self.flag(el, "forwarding", scope, True):
            raise self.error(el, "not supported locally: forwarding=\"false\"", "forwarding")
        self.body(el, scope.child() if self.flag(el, "scoped", scope, True) else scope)

    def push_namespace(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, set(), {"namespace"})
        pushed = self.sub(el, "namespace", scope)
        try:
            scope.ros_namespace = normalize_namespace(prefix_namespace(scope.ros_namespace,
                                                                       pushed))
        except TopicNameError as err:
            raise self.error(el, str(err), "namespace") from None

    def set_parameter(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, set(), {"name", "value"})
        value = self.typed_value(el, scope)
        scope.global_params.append((el.attrib["name"], value, el.where))

    def set_remap(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, set(), {"from", "to"})
        scope.remaps.append(self.remap_rule(el, scope))

    def set_env(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, set(), {"name", "value"})
        scope.env[self.sub(el, "name", scope)] = self.sub(el, "value", scope)

    def log(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, {"level"}, {"message"})
        self.plan.messages.append(self.sub(el, "message", scope))

    def include(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, set(), {"file"})
        path = self.path(el, "file", scope)
        external = str(path).startswith(UNRESOLVED_PREFIX) or not path.name.endswith(".xml")
        if external and self.allow_external:
            self.external_include(el, scope, path)
            return
        if not path.is_file():
            raise self.error(el, f"included file '{path}' does not exist", "file")
        if external:
            raise self.error(el, "not supported locally: only XML launch files can be "
                                 f"included (got {path.name}); run this file with "
                                 "`ros2 launch` on a ROS 2 machine", "file")
        inner = scope.child()
        given: dict[str, Element] = {}
        for child in el.children:
            if not self.condition(child, scope):
                continue
            if child.tag != "arg":
                raise self.error(child, "only <arg name value> may appear inside <include>")
            self.check_attrs(child, set(), {"name", "value"})
            given[child.attrib["name"]] = child
            inner.configs[child.attrib["name"]] = self.sub(child, "value", scope)
        self.include_chain.append(el.where)
        try:
            included = self.run_file(path, inner)
        finally:
            self.include_chain.pop()
        for name, child in given.items():
            if name not in included.declared:
                self.plan.warnings.append(
                    f"{child.where}: <arg name=\"{name}\">: {display_path(path)} declares no "
                    f"argument '{name}' (it declares: "
                    f"{', '.join(sorted(included.declared)) or 'none'})"
                )

    def external_include(self, el: Element, scope: _Scope, path: Path) -> None:
        text = str(path)
        package = None
        if text.startswith(UNRESOLVED_PREFIX):
            package = text[len(UNRESOLVED_PREFIX):].split("/", 1)[0]
        arguments = {}
        for child in el.children:
            if self.condition(child, scope):
                if child.tag != "arg":
                    raise self.error(child, "only <arg name value> may appear inside <include>")
                self.check_attrs(child, set(), {"name", "value"})
                arguments[child.attrib["name"]] = self.sub(child, "value", scope)
        self.plan.external_includes.append(ExternalInclude(text, package, arguments, el.where))

    def node(self, el: Element, scope: _Scope) -> None:
        self.check_attrs(el, {"name", "namespace", "args", "ros_args", "respawn",
                              "respawn_delay", "output", "launch-prefix", "exec_name",
                              "emulate_tty", "sigterm_timeout", "sigkill_timeout", "cwd",
                              "on_exit"}, {"pkg", "exec"})
        package = self.sub(el, "pkg", scope)
        executable = self.sub(el, "exec", scope)
        name = self.sub(el, "name", scope)
        if name is not None:
            try:
                validate_node_name(name)
            except TopicNameError as err:
                raise self.error(el, str(err), "name") from None
        try:
            namespace = normalize_namespace(prefix_namespace(scope.ros_namespace,
                                                             self.sub(el, "namespace", scope)))
        except TopicNameError as err:
            raise self.error(el, str(err), "namespace") from None
        arguments = self.split(el, "args", scope)
        ros_arguments = self.split(el, "ros_args", scope)
        if ros_arguments:
            try:
                parse_ros_args(["--ros-args", *ros_arguments])
            except RosArgsError as err:
                raise self.error(el, str(err), "ros_args") from None
        delay_text = self.sub(el, "respawn_delay", scope, "0")
        try:
            respawn_delay = float(delay_text)
        except ValueError:
            raise self.error(el, f"expected seconds, got '{delay_text}'",
                             "respawn_delay") from None
        output = self.sub(el, "output", scope, "log")
        if output not in OUTPUTS:
            raise self.error(el, f"output must be one of {', '.join(sorted(OUTPUTS))}",
                             "output")
        on_exit = self.sub(el, "on_exit", scope)
        if on_exit not in (None, "shutdown"):
            raise self.error(el, "not supported locally: only on_exit=\"shutdown\"", "on_exit")
        spec = NodeSpec(
            package=package, executable=executable, name=name, namespace=namespace,
            remappings=list(scope.remaps), arguments=arguments, ros_arguments=ros_arguments,
            respawn=self.flag(el, "respawn", scope, False), respawn_delay=respawn_delay,
            output=output, env=dict(scope.env), source=el.where,
            launch_prefix=self.sub(el, "launch-prefix", scope), on_exit=on_exit,
        )
        if scope.global_params:
            spec.parameters.append(ParamDict(
                {n: v for n, v, _ in scope.global_params}, source="<set_parameter>",
                sources={n: w for n, _, w in scope.global_params}))
        self.node_children(el, scope, spec)
        if package != OWN_PACKAGE:
            spec.standin = LOCAL_STANDINS.get((package, executable))
            spec.external = spec.standin is None
        self.plan.nodes.append(spec)

    def node_children(self, el: Element, scope: _Scope, spec: NodeSpec) -> None:
        for child in el.children:
            if not self.condition(child, scope):
                continue
            if child.tag == "param":
                self.param(child, scope, spec, "")
            elif child.tag == "remap":
                self.check_attrs(child, set(), {"from", "to"})
                spec.remappings.append(self.remap_rule(child, scope))
            elif child.tag == "env":
                self.check_attrs(child, set(), {"name", "value"})
                spec.env[self.sub(child, "name", scope)] = self.sub(child, "value", scope)
            else:
                raise self.error(child, "unknown tag inside <node> (supported: param, remap, "
                                        "env)")

    def param(self, el: Element, scope: _Scope, spec: NodeSpec, prefix: str) -> None:
        if "from" in el.attrib:
            if prefix:
                raise self.error(el, "a nested <param> cannot load a file", "from")
            self.check_attrs(el, set(), {"from"})
            spec.parameters.append(self.path(el, "from", scope))
            return
        self.check_attrs(el, {"value", "type", "value-sep"}, {"name"})
        name = prefix + self.sub(el, "name", scope)
        nested = [c for c in el.children if self.condition(c, scope)]
        if nested:
            if "value" in el.attrib:
                raise self.error(el, "a <param> has either a value or nested <param>s, "
                                     "not both", "value")
            for child in nested:
                if child.tag != "param":
                    raise self.error(child, "only <param> may appear inside <param>")
                self.param(child, scope, spec, name + ".")
            return
        if "value" not in el.attrib:
            raise self.error(el, "missing 'value' (or nested <param>s, or 'from')")
        if not spec.parameters or not isinstance(spec.parameters[-1], ParamDict) or \
                spec.parameters[-1].source == "<set_parameter>":
            spec.parameters.append(ParamDict(source=el.where))
        target = spec.parameters[-1]
        target[name] = self.typed_value(el, scope)
        target.sources[name] = el.where

    def typed_value(self, el: Element, scope: _Scope) -> Any:
        """`value` typed by `type` (str, int, float, bool, list[...]) or else by YAML."""
        text = self.sub(el, "value", scope)
        sep = el.attrib.get("value-sep")
        type_id = (el.attrib.get("type") or "").strip()
        element_type, is_list = type_id, sep is not None
        if type_id.startswith("list[") and type_id.endswith("]"):
            element_type, is_list = type_id[5:-1], True
        if is_list and sep is None:
            try:
                parsed = parse_param_value(text)
            except ParameterFileError as err:
                raise self.error(el, str(err), "value") from None
            items = parsed if isinstance(parsed, list) else [text]
            return [self.convert(el, str(i) if not isinstance(i, str) else i, element_type)
                    for i in items]
        if is_list:
            return [self.convert(el, item.strip(), element_type) for item in text.split(sep)]
        return self.convert(el, text, element_type)

    def convert(self, el: Element, text: str, type_id: str) -> Any:
        try:
            if type_id in ("", "yaml"):
                return parse_param_value(text)
            if type_id in ("str", "string"):
                return text
            if type_id in ("int", "integer"):
                return int(text)
            if type_id in ("float", "double"):
                return float(text)
            if type_id in ("bool", "boolean"):
                lowered = text.strip().lower()
                if lowered not in ("true", "false"):
                    raise ValueError(f"'{text}' is not true or false")
                return lowered == "true"
        except (ValueError, ParameterFileError) as err:
            raise self.error(el, f"value does not fit type '{type_id}': {err}",
                             "value") from None
        raise self.error(el, f"unknown type '{type_id}' (use str, int, float, bool or "
                             "list[...] of these)", "type")

    def remap_rule(self, el: Element, scope: _Scope) -> tuple[str, str]:
        rule = []
        for attr in ("from", "to"):
            name = self.sub(el, attr, scope)
            try:
                rule.append(validate_topic_name(name))
            except TopicNameError as err:
                raise self.error(el, str(err), attr) from None
        return rule[0], rule[1]

    def split(self, el: Element, attr: str, scope: _Scope) -> list[str]:
        text = self.sub(el, attr, scope)
        if not text:
            return []
        try:
            return shlex.split(text)
        except ValueError as err:
            raise self.error(el, f"cannot split into arguments: {err}", attr) from None


def prefix_namespace(base: str | None, namespace: str | None) -> str:
    """launch_ros's rule: an absolute namespace replaces the base, a relative one extends it."""
    if not namespace:
        return base or "/"
    if namespace.startswith("/") or not base:
        return namespace
    return base.rstrip("/") + "/" + namespace


def find_executable(name: str) -> str:
    """`$(find-exec name)`: PATH, then the running interpreter's bin/ (a venv off PATH)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise SubstitutionError(f"executable '{name}' not found on PATH")
    return found


_COMMAND_CACHE: dict[tuple[str, str], str] = {}


def run_command(command: str, on_stderr: str = "fail") -> str:
    """`$(command 'cmd' [fail|ignore|warn|capture])`: stdout of `cmd`, as launch runs it.

    Results are cached per process: validation interprets the same xacro call many times.
    """
    if on_stderr not in ("fail", "ignore", "warn", "capture"):
        raise SubstitutionError(f"$(command): on_stderr must be fail, ignore, warn or capture, "
                                f"got '{on_stderr}'")
    key = (command, on_stderr)
    if key in _COMMAND_CACHE:
        return _COMMAND_CACHE[key]
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise SubstitutionError(f"$(command): cannot split '{command}': {err}") from None
    if not argv:
        raise SubstitutionError("$(command) needs a command")
    if Path(argv[0]).name == "xacro" and (urdf := _xacro_in_process(argv[1:])) is not None:
        _COMMAND_CACHE[key] = urdf
        return urdf
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SubstitutionError(f"$(command '{command}') failed: {err}") from None
    stderr = done.stderr.strip()
    if done.returncode != 0:
        raise SubstitutionError(f"$(command '{command}') exited with {done.returncode}: "
                                f"{stderr[-800:] or '(no stderr)'}")
    if stderr and on_stderr == "fail":
        raise SubstitutionError(f"$(command '{command}') wrote to stderr: {stderr[-800:]}")
    output = done.stdout + (done.stderr if on_stderr == "capture" else "")
    _COMMAND_CACHE[key] = output
    return output


def _xacro_in_process(args: list[str]) -> str | None:
    """`xacro FILE k:=v ...` without a subprocess and without ament: `$(find pkg)` inside
    the xacro resolves through `vla_ros.assets.share_dir` (see description.xacro_expand).
    None when the call uses options this shortcut does not model (then xacro is run)."""
    files = [a for a in args if ":=" not in a]
    if len(files) != 1 or files[0].startswith("-"):
        return None
    mappings = dict(a.split(":=", 1) for a in args if ":=" in a)
    from vla_ros.description.xacro_expand import XacroError, expand_xacro

    try:
        return expand_xacro(files[0], **mappings)
    except XacroError as err:
        raise SubstitutionError(f"$(command 'xacro ...'): {err}") from None


# --- public API ----------------------------------------------------------------------------
def load_launch(path: str | Path, launch_arguments: dict[str, str] | None = None, *,
                allow_external: bool = False) -> LaunchPlan:
    """Interpret an XML launch file with `name:=value` launch arguments into a plan.

    `allow_external=True` (used by validation) records what only a ROS machine can
    resolve — `$(find-pkg-share)` of a package not installed here, includes of other
    packages' or Python launch files — in `plan.external_*` instead of failing.
    """
    path = Path(path)
    if not path.is_file():
        raise LaunchError(f"{display_path(path)}: launch file does not exist")
    interpreter = _Interpreter(allow_external)
    scope = _Scope(configs={k: str(v) for k, v in (launch_arguments or {}).items()})
    interpreter.run_file(path, scope)
    plan = interpreter.plan
    for name in launch_arguments or {}:
        if name not in plan.declared:
            plan.warnings.append(f"{display_path(path)}: launch argument '{name}' is not "
                                 f"declared by the file (declared: "
                                 f"{', '.join(sorted(plan.declared)) or 'none'})")
    return plan


def list_launch_arguments(path: str | Path) -> list[LaunchArgument]:
    """The `<arg>`s a file declares outside includes (what `--show-args` prints)."""
    path = Path(path)
    root = parse_xml(path)
    found: list[LaunchArgument] = []

    def walk(el: Element) -> None:
        for child in el.children:
            if child.tag == "arg" and "name" in child.attrib:
                choices = child.attrib.get("choices")
                sep = child.attrib.get("choices-sep", ",")
                found.append(LaunchArgument(
                    child.attrib["name"], child.attrib.get("default"),
                    child.attrib.get("description", ""),
                    [c.strip() for c in choices.split(sep)] if choices is not None else None,
                    child.where))
            elif child.tag == "group":
                walk(child)

    walk(root)
    unique: dict[str, LaunchArgument] = {}
    for argument in found:
        unique.setdefault(argument.name, argument)
    return list(unique.values())


def validate_launch_file(path: str | Path,
                         known_executables: dict[str, set[str]] | None = None) -> list[str]:
    """Problems of a launch file (empty = fine); see `launch_validate`."""
    from vla_ros.runtime.launch_validate import validate_launch_file as validate

    return validate(path, known_executables)
