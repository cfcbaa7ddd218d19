"""`vla-ros` subcommands: each module has `register(subparsers)` and sets `func`."""

from __future__ import annotations

import json


def json_object_option(flag: str, text: str, *, empty_ok: bool = False) -> dict:
    """The JSON object a command-line option holds ('--policy-args', '--model', …), or a
    PolicyConfigError (a ValueError) naming the option; '' means {} when `empty_ok`."""
    from vla_ros.policy.errors import PolicyConfigError

    if empty_ok and not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(f"{flag} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PolicyConfigError(f"{flag} must be a JSON object, got {text!r}")
    return value
