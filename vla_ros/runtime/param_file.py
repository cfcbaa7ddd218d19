"""ROS 2 parameter YAML files, read the way rcl reads them, for both backends.

A file maps node keys to `ros__parameters`:

    /**:                      # every node
      ros__parameters: {use_sim_time: true}
    /arm/retarget:            # one node; nested keys `arm: {retarget: ...}` mean the same
      ros__parameters:
        ik: {damping: 1.0e-3} # nested dicts flatten to `ik.damping`

Node keys match a node's fully qualified name like rclcpp does: a key is made absolute
(`name` → `/name`, so it matches only a node in the root namespace), `/**` stands for any
number of namespace tokens, `*` for one token or part of one. Values must be ROS parameter
types: bool, int, float, str, or a list of one of these — rcl refuses `null` and mixed
lists, and so do we, with the file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from vla_ros.runtime.parameters import ParameterError, ParameterTypeError, infer_type

PARAMS_KEY = "ros__parameters"


class ParameterFileError(ParameterError):
    """A parameter file that cannot be read: syntax, layout or a non-ROS value (file:line)."""


class ParamDict(dict):
    """Parameters for one node with where each came from (`sources[name]` = "file:line").

    The launch interpreter and `--ros-args -p` hand these to `params_for_node`, so a type
    error names the launch file line or "command line -p" rather than an anonymous dict.
    """

    def __init__(self, values: Mapping[str, Any] | None = None, source: str = "",
                 sources: Mapping[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.source = source or "parameter dict"
        self.sources: dict[str, str] = dict(sources or {})

    def where(self, name: str) -> str:
        """Source of `name`, or of the nearest enclosing nested `<param>`, or the dict's."""
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            found = self.sources.get(".".join(parts[:end]))
            if found:
                return found
        return self.source


class _Loader(yaml.SafeLoader):
    """SafeLoader typed like rcl: `1e3` and `.5` are floats (strtod), dates stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def display_path(path: str | Path) -> str:
    """A path as people wrote it: relative to the working directory when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


# --- reading one file --------------------------------------------------------------------
def load_param_file(path: str | Path) -> dict[str, dict[str, object]]:
    """Node key → flattened parameters of a ROS 2 parameter file."""
    values, _ = _load_with_sources(str(path))
    return {key: dict(params) for key, params in values.items()}


def load_param_file_with_sources(
        path: str | Path) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, str]]]:
    """Like `load_param_file`, plus "file:line" of every parameter (same nesting)."""
    values, sources = _load_with_sources(str(path))
    return ({k: dict(v) for k, v in values.items()}, {k: dict(v) for k, v in sources.items()})


def _load_with_sources(path: str):
    try:
        stat = os.stat(path)
    except OSError as err:
        raise ParameterFileError(f"{display_path(path)}: cannot read parameter file: "
                                 f"{err.strerror or err}") from None
    return _load_cached(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _load_cached(path: str, _mtime: int, _size: int):
    """Parsed once per file version; launch files point many nodes at the same YAML."""
    label = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ParameterFileError(f"{label}: cannot read parameter file: {err}") from None
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ParameterFileError(
            f"{label}{line}: YAML syntax error: {err.problem or err}"
        ) from None
    except yaml.YAMLError as err:
        raise ParameterFileError(f"{label}: YAML error: {err}") from None
    finally:
        loader.dispose()
    values: dict[str, dict[str, object]] = {}
    sources: dict[str, dict[str, str]] = {}
    if root is None:
        return values, sources
    reader = _Reader(loader, label)
    if not isinstance(root, yaml.MappingNode):
        raise ParameterFileError(
            f"{reader.at(root)}: a parameter file maps node names to "
            f"'{PARAMS_KEY}', found {_kind(root)}"
        )
    reader.nodes(root, [], values, sources)
    return values, sources


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"the value '{node.value}'"


class _Reader:
    """Walks the composed YAML so every value keeps its line for error messages."""

    def __init__(self, loader: _Loader, label: str) -> None:
        self.loader = loader
        self.label = label

    def at(self, node: yaml.Node) -> str:
        return f"{self.label}:{node.start_mark.line + 1}"

    def key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise ParameterFileError(f"{self.at(node)}: keys must be plain names, "
                                     f"found {_kind(node)}")
        return str(node.value)

    def nodes(self, mapping: yaml.MappingNode, path: list[str],
              values: dict[str, dict[str, object]], sources: dict[str, dict[str, str]]) -> None:
        for key_node, value_node in mapping.value:
            key = self.key(key_node)
            if key == PARAMS_KEY:
                if not path:
                    raise ParameterFileError(
                        f"{self.at(key_node)}: '{PARAMS_KEY}' must sit under a node name "
                        "(e.g. '/**:' or 'my_node:')"
                    )
                node_key = "/".join(path)
                if not isinstance(value_node, yaml.MappingNode):
                    raise ParameterFileError(
                        f"{self.at(value_node)}: '{PARAMS_KEY}' of '{node_key}' must be a "
                        f"mapping of parameter names to values, found {_kind(value_node)}"
                    )
                self.params(value_node, "", values.setdefault(node_key, {}),
                            sources.setdefault(node_key, {}), node_key)
            elif isinstance(value_node, yaml.MappingNode):
                self.nodes(value_node, [*path, key], values, sources)
            else:
                where = "/".join([*path, key])
                raise ParameterFileError(
                    f"{self.at(key_node)}: '{where}' has no '{PARAMS_KEY}': a parameter file "
                    f"looks like `{where}: {{{PARAMS_KEY}: {{name: value}}}}`"
                )

    def params(self, mapping: yaml.MappingNode, prefix: str, out: dict[str, object],
               where: dict[str, str], node_key: str) -> None:
        for key_node, value_node in mapping.value:
            name = prefix + self.key(key_node)
            if isinstance(value_node, yaml.MappingNode):
                self.params(value_node, name + ".", out, where, node_key)
                continue
            out[name] = self.value(value_node, name, node_key)
            where[name] = self.at(value_node)

    def value(self, node: yaml.Node, name: str, node_key: str) -> object:
        if isinstance(node, yaml.SequenceNode):
            items = []
            for item in node.value:
                if not isinstance(item, yaml.ScalarNode):
                    raise ParameterFileError(
                        f"{self.at(item)}: parameter '{name}' of '{node_key}': list items must "
                        f"be plain values, found {_kind(item)}"
                    )
                items.append(self.scalar(item, name, node_key))
            if items:
                try:
                    infer_type(items)
                except ParameterTypeError as err:
                    raise ParameterFileError(
                        f"{self.at(node)}: parameter '{name}' of '{node_key}': {err}"
                    ) from None
            return items
        return self.scalar(node, name, node_key)

    def scalar(self, node: yaml.Node, name: str, node_key: str) -> object:
        value = self.loader.construct_object(node, deep=True)
        if value is None:
            raise ParameterFileError(
                f"{self.at(node)}: parameter '{name}' of '{node_key}' has no value (null); "
                "ROS parameters cannot be null: give a value or remove the line"
            )
        if isinstance(value, (bool, int, float, str)):
            return value
        raise ParameterFileError(
            f"{self.at(node)}: parameter '{name}' of '{node_key}': {type(value).__name__} "
            f"'{node.value}' is not a ROS parameter type (quote it to make it a string)"
        )


# --- node key matching -------------------------------------------------------------------
@lru_cache(maxsize=256)
def node_key_pattern(key: str) -> re.Pattern[str]:
    """Regex for a node key: absolute, `**` = any tokens, `*` = one token or part of one."""
    absolute = key if key.startswith("/") else "/" + key
    parts = []
    for token in absolute.strip("/").split("/") if absolute != "/" else []:
        if token == "**":
            parts.append(r"(?:/[A-Za-z0-9_]+)*")
        else:
            pieces = [re.escape(p) for p in token.split("*")]
            parts.append("/" + "[A-Za-z0-9_]*".join(pieces))
    return re.compile("".join(parts) or "/")


def node_key_matches(key: str, node_name: str, namespace: str) -> bool:
    """Does parameter-file node key `key` apply to node `namespace/node_name`?"""
    return node_key_pattern(key).fullmatch(fully_qualified(node_name, namespace)) is not None


def fully_qualified(node_name: str, namespace: str) -> str:
    ns = "/" + (namespace or "").strip("/")
    return (ns.rstrip("/") + "/" + node_name) if node_name else ns


# --- all sources of one node -------------------------------------------------------------
def params_for_node(
    sources: Iterable[str | Path | Mapping[str, Any]], node_name: str, namespace: str
) -> tuple[dict[str, object], dict[str, str]]:
    """Parameter values of one node from files and dicts, later sources winning.

    A path is a parameter file (its matching node keys apply, in file order); a dict holds
    the node's own parameters (nested dicts flatten with '.'). Returns the values and, for
    each, where it came from ("config/x.yaml:12", "command line -p", ...).
    """
    values: dict[str, object] = {}
    where: dict[str, str] = {}
    for index, source in enumerate(sources):
        if isinstance(source, Mapping):
            for name, value in _flatten(source, "").items():
                origin = (source.where(name) if isinstance(source, ParamDict)
                          else f"parameter dict #{index + 1}")
                _check_value(value, name, origin)
                values[name] = value
                where[name] = origin
            continue
        file_values, file_sources = _load_with_sources(str(source))
        for key, params in file_values.items():
            if node_key_matches(key, node_name, namespace):
                values.update(params)
                where.update(file_sources[key])
    return values, where


def _flatten(mapping: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _check_value(value: Any, name: str, origin: str) -> None:
    if isinstance(value, (list, tuple)) and not value:
        return
    try:
        infer_type(value)
    except ParameterTypeError as err:
        raise ParameterFileError(f"{origin}: parameter '{name}': {err}") from None
    if value is None:
        raise ParameterFileError(f"{origin}: parameter '{name}' has no value (None)")


# --- `-p name:=value` --------------------------------------------------------------------
def parse_param_value(text: str) -> object:
    """Type a command-line or launch value as ROS does, by YAML rules.

    `1` → int, `1.0`/`1e3` → float, `true` → bool, `[1, 2]` → list, `'quoted'` → its content,
    anything else (text that is not valid YAML, `null`, mappings, multi-line text such as a
    URDF) → the string itself, unchanged.
    """
    try:
        value = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError:
        if text.lstrip().startswith("["):
            raise ParameterFileError(f"value '{text}' starts a list but is not valid YAML "
                                     "(write e.g. [1.0, 2.0])") from None
        return text
    if isinstance(value, str):
        # a plain YAML scalar folds newlines (a URDF would lose its lines): keep the text
        return value if text.lstrip()[:1] in ("'", '"') else text
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, list):
        if not all(isinstance(v, (bool, int, float, str)) for v in value):
            raise ParameterFileError(f"value '{text}': list items must be plain values")
        if value:
            try:
                infer_type(value)
            except ParameterTypeError as err:
                raise ParameterFileError(f"value '{text}': {err}") from None
        return value
    return text
