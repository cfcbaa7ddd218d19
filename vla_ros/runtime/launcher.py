"""Run a ROS 2 XML launch file on the local backend (`vla-ros launch`).

`runtime/launch.py` turns the file into a plan of `NodeSpec`s; this module starts them on
one `LocalContext`. Nodes of other packages cannot run here: a documented stand-in from
`LOCAL_STANDINS` replaces them (the MuJoCo sim node stands in for ros2_control hardware +
controllers) or the launch is refused with a clear message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vla_ros.runtime.entry import create_local_node, node_class
from vla_ros.runtime.launch import (
    LOCAL_STANDINS,
    LaunchError,
    LaunchPlan,
    NodeSpec,
    load_launch,
)
from vla_ros.runtime.rosargs import parse_ros_args


def resolve_executable(spec: NodeSpec) -> str:
    if spec.package == "vla_ros":
        return spec.executable
    standin = spec.standin or LOCAL_STANDINS.get((spec.package, spec.executable))
    if standin is None:
        raise LaunchError(
            f"{spec.source}: node {spec.package}/{spec.executable} belongs to another ROS "
            f"package and cannot run on the local backend (no stand-in registered; stand-ins: "
            f"{sorted(f'{p}/{e}' for p, e in LOCAL_STANDINS) or 'none'}). "
            "Run this launch file with `ros2 launch` on a ROS 2 machine."
        )
    return standin


def start_node(spec: NodeSpec, executable: str, context: Any) -> Any:
    cls = node_class(executable)
    ros_args = parse_ros_args(["--ros-args", *spec.ros_arguments]) if spec.ros_arguments \
        else None
    try:
        return create_local_node(
            cls, context, name=spec.name, namespace=spec.namespace or "/",
            parameters=spec.parameters, remappings=spec.remappings, ros_args=ros_args,
        )
    except Exception as err:
        raise LaunchError(f"{spec.source}: starting {spec.executable} failed: {err}") from err


def start_plan(plan: LaunchPlan, context: Any) -> list[Any]:
    """Instantiate every node of the plan on `context`; returns the nodes in launch order.

    Nodes launched with `respawn="true"` are started again `respawn_delay` seconds after
    they crash (with `context.isolate_crashes`) or are killed (`context.kill_node`).
    """
    executables = [resolve_executable(spec) for spec in plan.nodes]  # refuse before starting
    nodes = [start_node(spec, exe, context)
             for spec, exe in zip(plan.nodes, executables, strict=True)]
    respawning = {node.get_fully_qualified_name(): (spec, exe) for node, spec, exe
                  in zip(nodes, plan.nodes, executables, strict=True) if spec.respawn}
    if respawning and hasattr(context, "crash_hooks"):
        context.crash_hooks.append(Respawner(context, respawning))
    return nodes


class Respawner:
    """ros2 launch's `respawn`: restart a node of the plan when its 'process' ends."""

    def __init__(self, context: Any, specs: dict[str, tuple[NodeSpec, str]]) -> None:
        self.context, self.specs = context, specs
        self.respawned: list[Any] = []  # the new node objects, in order

    def __call__(self, node: Any, exc: BaseException) -> None:
        entry = self.specs.get(node.get_fully_qualified_name())
        if entry is None or not self.context.ok():
            return
        spec, executable = entry

        def restart() -> None:
            timer.cancel()
            self.respawned.append(start_node(spec, executable, self.context))

        timer = self.context.create_timer(max(spec.respawn_delay, 1e-3), restart)


def launch_local(path: str | Path, arguments: dict[str, str] | None, context: Any) -> list[Any]:
    return start_plan(load_launch(Path(path), arguments or {}), context)
