"""The `ros` backend: the same `Node` API mapped onto real rclpy.

Imported only where rclpy imports (a ROS 2 Jazzy machine, Gazebo, the robot computer).
The `Node` class of `runtime/node.py` asks its context for each entity; `RosContext` owns
one rclpy node per vla_ros node and translates message types by name, so node files are
the same on both backends. Names, remaps, QoS, parameters and sim time are rcl's own.
"""

from __future__ import annotations

import array
import contextlib
import importlib
from functools import cache
from typing import Any

import numpy as np

from vla_ros.runtime import msgs
from vla_ros.runtime.clock import Time
from vla_ros.runtime.parameters import (
    Parameter,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from vla_ros.runtime.qos import Durability, History, QoSProfile, Reliability, as_qos

_TYPECODES = {
    np.dtype(np.float64): "d", np.dtype(np.float32): "f", np.dtype(np.int8): "b",
    np.dtype(np.uint8): "B", np.dtype(np.int16): "h", np.dtype(np.uint16): "H",
    np.dtype(np.int32): "i", np.dtype(np.uint32): "I", np.dtype(np.int64): "q",
    np.dtype(np.uint64): "Q",
}


def available() -> bool:
    try:
        importlib.import_module("rclpy")
    except ImportError:
        return False
    return True


@cache
def ros_class(type_name: str) -> Any:
    """`sensor_msgs/msg/JointState` → sensor_msgs.msg.JointState; `_Request` → srv classes."""
    package, kind, name = type_name.split("/")
    module = importlib.import_module(f"{package}.{kind}")
    for suffix in ("_Request", "_Response"):
        if kind == "srv" and name.endswith(suffix):
            return getattr(getattr(module, name[: -len(suffix)]), suffix[1:])
    return getattr(module, name)


def _ros_value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.ndim == 1 and value.dtype in _TYPECODES:
            return array.array(_TYPECODES[value.dtype], value.tobytes())
        return value.tolist()
    return value


def build_ros_message(type_name: str, fields: dict[str, Any]) -> Any:
    """Build an rclpy message; numpy arrays become array.array as rclpy expects."""
    cls = ros_class(type_name)
    return cls(**{k: _ros_value(v) for k, v in fields.items()})


def ros_qos(qos: QoSProfile | int) -> Any:
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy
    from rclpy.qos import QoSProfile as RclQoS

    qos = as_qos(qos)
    return RclQoS(
        depth=qos.depth,
        history=HistoryPolicy.KEEP_LAST if qos.history is History.KEEP_LAST
        else HistoryPolicy.KEEP_ALL,
        reliability=ReliabilityPolicy.RELIABLE if qos.reliability is Reliability.RELIABLE
        else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL
        if qos.durability is Durability.TRANSIENT_LOCAL else DurabilityPolicy.VOLATILE,
    )


class RosClock:
    """rclpy clock seen through vla_ros's Time (integer nanoseconds)."""

    def __init__(self, rcl_clock: Any) -> None:
        self._clock = rcl_clock

    @property
    def is_sim(self) -> bool:
        return bool(getattr(self._clock, "ros_time_is_active", False))

    def now(self) -> Time:
        return Time(self._clock.now().nanoseconds)

    def now_ns(self) -> int:
        return self._clock.now().nanoseconds


class RosParameters:
    """The ParameterStore surface backed by the rclpy node's own parameters."""

    def __init__(self, rcl_node: Any) -> None:
        self._node = rcl_node
        self._callbacks: dict[Any, Any] = {}

    def declare(self, name, value=None, descriptor: ParameterDescriptor | None = None,
                ignore_override: bool = False):
        from rcl_interfaces.msg import ParameterDescriptor as RclDescriptor

        if self._node.has_parameter(name):
            return self._node.get_parameter(name)
        rcl_descriptor = RclDescriptor()
        if descriptor is not None:
            rcl_descriptor.description = descriptor.description
            rcl_descriptor.read_only = descriptor.read_only
            rcl_descriptor.dynamic_typing = descriptor.dynamic_typing
        if isinstance(value, ParameterType):  # a typed declaration without a value
            from rclpy.parameter import Parameter as RclParameter

            value = RclParameter.Type(int(value))
        return self._node.declare_parameter(name, value, rcl_descriptor, ignore_override)

    def declare_many(self, namespace, parameters):
        return [self.declare(f"{namespace}.{p[0]}" if namespace else p[0], *p[1:])
                for p in parameters]

    def has(self, name: str) -> bool:
        return self._node.has_parameter(name)

    def get(self, name: str):
        return self._node.get_parameter(name)

    def set(self, parameters: list[Parameter]) -> list[SetParametersResult]:
        from rclpy.parameter import Parameter as RclParameter

        results = self._node.set_parameters([RclParameter(p.name, value=p.value)
                                             for p in parameters])
        return [SetParametersResult(r.successful, r.reason) for r in results]

    def add_on_set_callback(self, callback) -> None:
        from rcl_interfaces.msg import SetParametersResult as RclResult

        def adapter(params):
            result = callback([Parameter(p.name, value=p.value) for p in params])
            return RclResult(successful=result.successful, reason=result.reason)

        self._callbacks[callback] = adapter
        self._node.add_on_set_parameters_callback(adapter)

    def remove_on_set_callback(self, callback) -> None:
        adapter = self._callbacks.pop(callback, None)
        if adapter is not None:
            self._node.remove_on_set_parameters_callback(adapter)

    def unused_overrides(self) -> list[str]:
        return []


class RosContext:
    """Owns rclpy's init/shutdown and one executor for all vla_ros nodes of this process."""

    backend = "ros"
    use_sim_time = False  # per node in ROS: the use_sim_time parameter decides

    def __init__(self, args: list[str] | None = None) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self._rclpy = rclpy
        if not rclpy.ok():
            rclpy.init(args=args)
        self._args = args
        self.executor = SingleThreadedExecutor()
        self.nodes: list[Any] = []
        self._rcl: dict[int, Any] = {}
        msgs.use_foreign_builder(build_ros_message)

    def attach(self, node: Any, name: str, namespace: str, overrides: dict[str, Any]) -> None:
        from rclpy.node import Node as RclNode
        from rclpy.parameter import Parameter as RclParameter

        rcl_node = RclNode(
            name, namespace=namespace, cli_args=self._args,
            parameter_overrides=[RclParameter(k, value=v) for k, v in overrides.items()],
        )
        self._rcl[id(node)] = rcl_node
        self.executor.add_node(rcl_node)

    def rcl_node(self, node: Any) -> Any:
        return self._rcl[id(node)]

    @property
    def clock(self) -> RosClock:
        # Only used before a node exists; nodes use node_clock().
        from rclpy.clock import Clock as RclClock

        return RosClock(RclClock())

    def node_clock(self, node: Any) -> RosClock:
        return RosClock(self.rcl_node(node).get_clock())

    def parameter_store(self, node, overrides, sources) -> RosParameters:
        return RosParameters(self.rcl_node(node))

    # Names are passed through unresolved: rcl applies namespaces and remaps itself.
    def create_publisher(self, msg_type, name, qos, node):
        return self.rcl_node(node).create_publisher(ros_class(msg_type.name), name,
                                                    ros_qos(qos))

    def create_subscription(self, msg_type, name, callback, qos, node):
        return self.rcl_node(node).create_subscription(ros_class(msg_type.name), name,
                                                       callback, ros_qos(qos))

    def create_timer(self, period_sec, callback, node):
        return self.rcl_node(node).create_timer(period_sec, callback)

    def create_service(self, srv_type, name, callback, node):
        return self.rcl_node(node).create_service(_srv_class(srv_type.name), name, callback)

    def create_client(self, srv_type, name, node):
        return self.rcl_node(node).create_client(_srv_class(srv_type.name), name)

    def spin(self) -> None:
        with contextlib.suppress(KeyboardInterrupt):
            self.executor.spin()

    def spin_for(self, seconds: float) -> None:
        import time

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, end - time.monotonic())))

    def shutdown(self) -> None:
        for node in list(self.nodes):
            node.destroy_node()
        for rcl_node in self._rcl.values():
            rcl_node.destroy_node()
        self._rcl.clear()
        msgs.use_foreign_builder(None)
        if self._rclpy.ok():
            self._rclpy.shutdown()


def _srv_class(name: str) -> Any:
    package, _, srv = name.split("/")
    return getattr(importlib.import_module(f"{package}.srv"), srv)
