"""Start nodes: `main()` of every node module, on the ros or the local backend.

`ros2 run vla_ros retarget_node --ros-args -p rate:=50` and
`vla-ros run retarget_node --ros-args -p rate:=50` take the same arguments. The backend is
rclpy where it imports, unless `VLA_ROS_BACKEND=local` asks for the in-process one.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vla_ros.runtime.param_file import params_for_node
from vla_ros.runtime.rosargs import RosArgs, parse_ros_args

log = logging.getLogger("vla_ros.runtime")


class NodeStartError(RuntimeError):
    """A node could not be started: unknown executable, bad arguments or parameters."""


def configure_logging(level: str = "info") -> None:
    """ROS-like console lines: `[INFO] [node]: message`."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="[%(levelname)s] [%(name)s]: %(message)s",
        stream=sys.stderr,
    )


def node_class(executable: str) -> type:
    """The Node subclass behind one of this package's executables (console scripts)."""
    try:
        module = importlib.import_module(f"vla_ros.nodes.{executable}")
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith("vla_ros.nodes"):
            raise NodeStartError(f"vla_ros has no node executable '{executable}'") from None
        raise
    cls = getattr(module, "NODE_CLASS", None)
    if cls is None:
        raise NodeStartError(f"vla_ros.nodes.{executable} defines no NODE_CLASS")
    return cls


def create_local_node(
    cls: type,
    context: Any,
    *,
    name: str | None = None,
    namespace: str = "/",
    parameters: Sequence[Path | str | dict] = (),
    remappings: Sequence[tuple[str, str]] = (),
    ros_args: RosArgs | None = None,
) -> Any:
    """Instantiate a node class on a local context with launch/CLI parameters and remaps."""
    sources: list[Any] = list(parameters)
    remaps = list(remappings)
    name = name or getattr(cls, "DEFAULT_NAME", None)
    if ros_args is not None:
        sources += [Path(f) for f in ros_args.param_files]
        sources.append(ros_args.params_for(name))
        remaps += ros_args.remaps_for(name)
        namespace = ros_args.namespace_for(name) or namespace
        name = ros_args.name_for(name) or name
    node_name = name
    if node_name is None:
        raise NodeStartError(f"{cls.__name__} has no DEFAULT_NAME and no name was given")
    values, where = params_for_node(sources, node_name, namespace)
    return cls(context=context, name=node_name, namespace=namespace,
               parameter_overrides=values, param_sources=where, remappings=remaps)


def run_local(cls: type, argv: Sequence[str], *, sim_time: bool | None = None,
              bag: str | None = None) -> int:
    """Run one node on a fresh local context until Ctrl-C."""
    from vla_ros.runtime.local import LocalContext

    args = parse_ros_args(list(argv))
    configure_logging(args.log_level or "info")
    wants_sim = bool(args.params.get("use_sim_time", False)) if sim_time is None else sim_time
    context = LocalContext(sim_time=wants_sim, bag_path=bag,
                           real_time_factor=1.0 if wants_sim else None)
    try:
        create_local_node(cls, context, ros_args=args)
        context.spin()
    finally:
        context.shutdown()
    return 0


def run_ros(cls: type, argv: Sequence[str]) -> int:
    from vla_ros.runtime.ros import RosContext

    context = RosContext(args=list(argv))
    try:
        cls(context=context)
        context.spin()
    finally:
        context.shutdown()
    return 0


def node_main(cls: type) -> Callable[[Sequence[str] | None], int]:
    """Make the console-script `main` for a node class."""

    def main(argv: Sequence[str] | None = None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        backend = os.environ.get("VLA_ROS_BACKEND")
        if backend is None:
            from vla_ros.runtime import ros

            backend = "ros" if ros.available() else "local"
        if backend == "ros":
            return run_ros(cls, argv)
        return run_local(cls, argv)

    main.node_class = cls  # type: ignore[attr-defined]
    return main
