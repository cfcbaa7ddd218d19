"""ROS 2 name expansion and remapping (rcl's rules), shared by both backends."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InvalidNameError(ValueError):
    """An invalid topic, service or node name, or a malformed remap rule."""


def validate_node_name(name: str) -> str:
    if not _TOKEN.match(name or ""):
        raise InvalidNameError(
            f"invalid node name '{name}': use letters, digits and '_', not starting with a digit"
        )
    return name


def normalize_namespace(namespace: str | None) -> str:
    """'' or None → '/', 'a/b' → '/a/b', '/a/' → '/a'."""
    if not namespace:
        return "/"
    ns = "/" + namespace.strip("/")
    if ns != "/":
        for token in ns[1:].split("/"):
            if not _TOKEN.match(token):
                raise InvalidNameError(f"invalid namespace '{namespace}': bad token '{token}'")
    return ns


def expand_name(name: str, node_name: str, namespace: str) -> str:
    """Fully qualified name: `/abs` stays, `rel` → `/ns/rel`, `~/p` → `/ns/node/p`."""
    if not name:
        raise InvalidNameError("empty topic or service name")
    ns = normalize_namespace(namespace)
    if name == "~":
        expanded = _join(ns, node_name)
    elif name.startswith("~/"):
        expanded = _join(_join(ns, node_name), name[2:])
    elif name.startswith("/"):
        expanded = name
    elif name.startswith("~"):
        raise InvalidNameError(f"invalid name '{name}': '~' must be followed by '/'")
    else:
        expanded = _join(ns, name)
    validate_expanded(expanded)
    return expanded


def validate_expanded(name: str) -> None:
    if name == "/" or name.endswith("/") or "//" in name:
        raise InvalidNameError(f"invalid name '{name}': empty token, repeated or trailing '/'")
    for token in name[1:].split("/"):
        if not _TOKEN.match(token):
            raise InvalidNameError(
                f"invalid name '{name}': token '{token}' must be letters, digits and '_', "
                "not starting with a digit"
            )


def _join(ns: str, rest: str) -> str:
    return ns + rest if ns.endswith("/") else ns + "/" + rest


class Remapper:
    """Topic/service remap rules of one node, matched on fully expanded names (like rcl)."""

    def __init__(self, rules: list[tuple[str, str]], node_name: str, namespace: str) -> None:
        self._map: dict[str, str] = {}
        for source, target in rules:
            if not source or not target:
                raise InvalidNameError(
                    f"malformed remap '{source}:={target}': both sides are needed"
                )
            try:
                src = expand_name(source, node_name, namespace)
                dst = expand_name(target, node_name, namespace)
            except InvalidNameError as err:
                raise InvalidNameError(f"malformed remap '{source}:={target}': {err}") from None
            self._map.setdefault(src, dst)  # the first matching rule wins in rcl

    def resolve(self, name: str, node_name: str, namespace: str) -> str:
        expanded = expand_name(name, node_name, namespace)
        return self._map.get(expanded, expanded)
