"""`vla-ros`: one command for running, launching, recording, training and evaluating.

Each subcommand lives in `vla_ros/commands/<name>.py` with `register(subparsers)`; this file
only collects them, so adding a command never touches the others.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import vla_ros.commands

# Listed first in `--help`; every other module in vla_ros/commands follows alphabetically.
FIRST = ["run", "launch", "topics", "demo"]


def command_modules() -> list[str]:
    """Names of the modules in vla_ros/commands that define `register(subparsers)`."""
    found = sorted(m.name for m in pkgutil.iter_modules(vla_ros.commands.__path__)
                   if not m.name.startswith("_"))
    return [n for n in FIRST if n in found] + [n for n in found if n not in FIRST]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vla-ros",
        description="Vision-language-action policies on ROS 2 robots — with or without ROS.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in command_modules():
        module = importlib.import_module(f"vla_ros.commands.{name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError, RuntimeError) as err:
        # Library errors carry a message that says what and where; no traceback for users.
        print(f"vla-ros {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
