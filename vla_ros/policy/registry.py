"""`make_policy(type, **options)`: policy backends by name, imported only when asked for.

The node and the CLI choose a backend with a string parameter. Backends pull in heavy or
optional dependencies (torch, websockets, lerobot), so the registry maps names to
"module:function" strings and imports a module only when its policy is made. Each factory
takes keyword options and returns a `Policy`.

Adding a backend: `register_policy("mine", "my_pkg.module:make_policy")`, or add a line to
`_FACTORIES` below for backends that ship with vla_ros.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.interface import Policy

Factory = Callable[..., Policy]

_FACTORIES: dict[str, str | Factory] = {
    "builtin": "vla_ros.policy.vla:make_policy",
    "remote": "vla_ros.policy.remote:make_policy",
    "lerobot": "vla_ros.policy.lerobot:make_policy",
}


def register_policy(name: str, factory: str | Factory, *, replace: bool = False) -> None:
    """Make `factory` ("module:function" or a callable) available as policy type `name`."""
    if not name or not isinstance(name, str):
        raise PolicyConfigError(f"policy type name must be a non-empty string, got {name!r}")
    if name in _FACTORIES and not replace:
        raise PolicyConfigError(f"policy type {name!r} is already registered")
    _FACTORIES[name] = factory


def policy_types() -> list[str]:
    return sorted(_FACTORIES)


def resolve_factory(name: str) -> Factory:
    entry = _FACTORIES.get(name)
    if entry is None:
        raise PolicyConfigError(f"unknown policy type {name!r}; known types: {policy_types()}")
    if callable(entry):
        return entry
    module_name, _, attr = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise PolicyConfigError(
            f"policy type {name!r} needs module {exc.name!r}, which is not installed"
        ) from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise PolicyConfigError(f"policy type {name!r}: {module_name} has no function {attr}()")
    return factory


def make_policy(name: str, **options: Any) -> Policy:
    """Build the policy backend `name` ('builtin', 'remote', 'lerobot', ...) from options."""
    policy = resolve_factory(name)(**options)
    if not isinstance(policy, Policy):
        raise PolicyConfigError(
            f"policy type {name!r} returned {type(policy).__name__}, not a Policy"
        )
    return policy
