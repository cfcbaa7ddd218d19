"""`--ros-args` command-line parsing and ROS 2 name validation, as rcl does them.

`ros2 run vla_ros policy_node --ros-args -p rate:=10 -r image:=/cam/image_raw` and
`vla-ros run policy_node ...` must mean the same thing, so the local backend parses the
arguments with rcl's grammar: sections start at `--ros-args` and end at `--` (or at the
end); inside, `-p/--param [node:]name:=yaml`, `-r/--remap [node:]from:=to` (plus the special
`__node:=`/`__name:=` and `__ns:=`), `--params-file FILE`, `--log-level [logger:=]LEVEL`,
`-e/--enclave X` (accepted, meaningless locally) and the logging on/off flags. Anything
else inside a section is an error, as in rcl; arguments outside are returned untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vla_ros.runtime.param_file import ParamDict, ParameterFileError, parse_param_value


class RosArgsError(ValueError):
    """A malformed `--ros-args` argument; the message quotes it."""


class TopicNameError(ValueError):
    """A topic or service name that breaks the ROS 2 naming rules."""


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_./]*")
_LOG_LEVELS = {"debug", "info", "warn", "warning", "error", "fatal", "unset"}
_VALUE_FLAGS_IGNORED = {"-e", "--enclave", "--log-config-file", "--log-file-name"}
_PLAIN_FLAGS_IGNORED = {
    "--enable-rosout-logs", "--disable-rosout-logs",
    "--enable-stdout-logs", "--disable-stdout-logs",
    "--enable-external-lib-logs", "--disable-external-lib-logs",
}


# --- names -------------------------------------------------------------------------------
def validate_topic_name(name: str) -> str:
    """Check a (not yet expanded) topic/service name by rcl's rules; returns it unchanged.

    Allowed: letters, digits, `_`, `/`, a leading `~` followed by `/`, and `{substitutions}`;
    no empty token (`//`), no trailing `/`, no token starting with a digit.
    """
    if not isinstance(name, str) or not name:
        raise TopicNameError("topic name must not be empty")
    if name.endswith("/"):
        raise TopicNameError(f"topic name '{name}' must not end with '/'")
    if "//" in name:
        raise TopicNameError(f"topic name '{name}' must not contain '//' (empty token)")
    in_braces = False
    for i, ch in enumerate(name):
        if ch == "~":
            if i != 0:
                raise TopicNameError(f"topic name '{name}': '~' is only allowed as the first "
                                     f"character (index {i})")
            if len(name) > 1 and name[1] != "/":
                raise TopicNameError(f"topic name '{name}': '~' must be followed by '/'")
        elif ch == "{":
            if in_braces:
                raise TopicNameError(f"topic name '{name}': nested '{{' at index {i}")
            in_braces = True
        elif ch == "}":
            if not in_braces:
                raise TopicNameError(f"topic name '{name}': unmatched '}}' at index {i}")
            in_braces = False
        elif ch == "/":
            if in_braces:
                raise TopicNameError(f"topic name '{name}': '/' inside a {{substitution}}")
        elif not (ch.isascii() and (ch.isalnum() or ch == "_")):
            raise TopicNameError(f"topic name '{name}' contains the character '{ch}' at index "
                                 f"{i}: use letters, digits, '_' and '/'")
    if in_braces:
        raise TopicNameError(f"topic name '{name}': unmatched '{{'")
    for token in name.lstrip("~").split("/"):
        if token and token[0].isdigit():
            raise TopicNameError(f"topic name '{name}': token '{token}' must not start with a "
                                 "digit")
    return name


def validate_node_name(name: str) -> str:
    """Node names are one token: letters, digits, `_`, not starting with a digit."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise TopicNameError(f"invalid node name '{name}': use letters, digits and '_', "
                             "not starting with a digit")
    return name


def normalize_namespace(namespace: str) -> str:
    """`a/b` or `/a/b/` → `/a/b`; '' → `/`; raises for bad tokens."""
    ns = "/" + (namespace or "").strip("/")
    if ns != "/":
        if "//" in ns:
            raise TopicNameError(f"invalid namespace '{namespace}': empty token ('//')")
        for token in ns[1:].split("/"):
            if not _TOKEN.fullmatch(token):
                raise TopicNameError(f"invalid namespace '{namespace}': token '{token}' must be "
                                     "letters, digits and '_', not starting with a digit")
    return ns


# --- parsed arguments --------------------------------------------------------------------
@dataclass
class RosArgs:
    """What `--ros-args` said. Node-targeted rules (`node:rule`) are kept with their node."""

    params: ParamDict = field(default_factory=lambda: ParamDict(source="command line -p"))
    param_files: list[str] = field(default_factory=list)
    remaps: list[tuple[str, str]] = field(default_factory=list)
    node_name: str | None = None
    namespace: str | None = None
    log_level: str | None = None
    remaining: list[str] = field(default_factory=list)
    node_params: dict[str, ParamDict] = field(default_factory=dict)
    node_remaps: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    node_names: dict[str, str] = field(default_factory=dict)
    node_namespaces: dict[str, str] = field(default_factory=dict)
    logger_levels: dict[str, str] = field(default_factory=dict)
    # every remap rule in command-line order: (node or None, from, to); rcl's first match wins
    remap_rules: list[tuple[str | None, str, str]] = field(default_factory=list)

    def remaps_for(self, node_name: str | None) -> list[tuple[str, str]]:
        """The remap rules that apply to `node_name`, in the order they were given."""
        return [(src, dst) for node, src, dst in self.remap_rules
                if node is None or node == node_name]

    def params_for(self, node_name: str | None) -> ParamDict:
        """`-p` values for `node_name`: the global ones, then `node:name:=` ones on top."""
        out = ParamDict(self.params, source=self.params.source, sources=self.params.sources)
        targeted = self.node_params.get(node_name or "")
        if targeted:
            out.update(targeted)
            out.sources.update(targeted.sources)
        return out

    def name_for(self, node_name: str | None) -> str | None:
        """The node's name after `__node:=` (node-targeted first), or None if unchanged."""
        return self.node_names.get(node_name or "", self.node_name)

    def namespace_for(self, node_name: str | None) -> str | None:
        return self.node_namespaces.get(node_name or "", self.namespace)


def parse_ros_args(argv: list[str]) -> RosArgs:
    """Split `argv` into ROS arguments and the rest (`.remaining`, order kept)."""
    out = RosArgs()
    inside = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--ros-args":
            inside = True
            continue
        if not inside:
            out.remaining.append(arg)
            continue
        if arg == "--":
            inside = False
            continue
        if arg in _PLAIN_FLAGS_IGNORED:
            continue
        flag_takes_value = arg in ("-p", "--param", "-r", "--remap", "--params-file",
                                   "--log-level") or arg in _VALUE_FLAGS_IGNORED
        if not flag_takes_value:
            raise RosArgsError(f"unknown ROS argument '{arg}' after --ros-args (known: -p/--param, "
                               "-r/--remap, --params-file, --log-level, -e/--enclave; end the "
                               "ROS arguments with '--')")
        if i >= len(argv) or argv[i] in ("--", "--ros-args"):
            raise RosArgsError(f"ROS argument '{arg}' needs a value")
        value = argv[i]
        i += 1
        if arg in ("-p", "--param"):
            _param_rule(out, arg, value)
        elif arg in ("-r", "--remap"):
            _remap_rule(out, arg, value)
        elif arg == "--params-file":
            out.param_files.append(value)
        elif arg == "--log-level":
            _log_level(out, value)
    return out


def _split_rule(flag: str, rule: str, what: str) -> tuple[str | None, str, str]:
    lhs, sep, rhs = rule.partition(":=")
    if not sep:
        raise RosArgsError(f"'{flag} {rule}': expected {what}")
    node = None
    if ":" in lhs:
        node, _, lhs = lhs.partition(":")
        try:
            validate_node_name(node)
        except TopicNameError as err:
            raise RosArgsError(f"'{flag} {rule}': {err}") from None
    if not lhs:
        raise RosArgsError(f"'{flag} {rule}': the name before ':=' is empty ({what})")
    return node, lhs, rhs


def _param_rule(out: RosArgs, flag: str, rule: str) -> None:
    node, name, text = _split_rule(flag, rule, "name:=value")
    if not _PARAM_NAME.fullmatch(name):
        raise RosArgsError(f"'{flag} {rule}': invalid parameter name '{name}'")
    try:
        value = parse_param_value(text)
    except ParameterFileError as err:
        raise RosArgsError(f"'{flag} {rule}': {err}") from None
    target = out.params if node is None else out.node_params.setdefault(
        node, ParamDict(source=f"command line -p {node}:"))
    target[name] = value
    target.sources[name] = f"command line {flag} {rule}"


def _remap_rule(out: RosArgs, flag: str, rule: str) -> None:
    node, src, dst = _split_rule(flag, rule, "from:=to")
    try:
        if src in ("__node", "__name"):
            name = validate_node_name(dst)
            if node is None:
                out.node_name = name
            else:
                out.node_names[node] = name
            return
        if src == "__ns":
            ns = normalize_namespace(dst)
            if node is None:
                out.namespace = ns
            else:
                out.node_namespaces[node] = ns
            return
        if not dst:
            raise RosArgsError(f"'{flag} {rule}': the name after ':=' is empty")
        validate_topic_name(src)
        validate_topic_name(dst)
    except TopicNameError as err:
        raise RosArgsError(f"'{flag} {rule}': {err}") from None
    out.remap_rules.append((node, src, dst))
    if node is None:
        out.remaps.append((src, dst))
    else:
        out.node_remaps.setdefault(node, []).append((src, dst))


def _log_level(out: RosArgs, value: str) -> None:
    logger, sep, level = value.rpartition(":=")
    if level.lower() not in _LOG_LEVELS or (sep and not logger):
        raise RosArgsError(f"'--log-level {value}': expected LEVEL or logger:=LEVEL with LEVEL "
                           f"one of {', '.join(sorted(_LOG_LEVELS))}")
    if sep:
        out.logger_levels[logger] = level.lower()
    else:
        out.log_level = level.lower()
