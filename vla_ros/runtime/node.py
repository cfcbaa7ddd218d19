"""`Node`: the rclpy-shaped class every vla_ros node subclasses, on either backend.

Node code calls `self.create_publisher(msgs.JointState, "joint_states", 10)`,
`self.declare_parameter("rate", 30.0)`, `self.get_clock().now()` … exactly as with rclpy.
The context chosen when the node is made decides where that goes: a `LocalContext` (this
file) or the rclpy backend (`runtime/ros.py`, which maps the same calls onto rclpy).
"""

from __future__ import annotations

import contextlib
import logging
import time as _time
from collections.abc import Callable, Iterable
from typing import Any

from vla_ros.runtime import msgs
from vla_ros.runtime.clock import Clock, Time
from vla_ros.runtime.names import Remapper, normalize_namespace, validate_node_name
from vla_ros.runtime.parameters import Parameter, ParameterDescriptor, SetParametersResult
from vla_ros.runtime.qos import QoSProfile

_default_context: Any = None


def init(context: Any = None, **kwargs: Any) -> Any:
    """Set the process-wide default context (a new LocalContext unless one is given)."""
    global _default_context
    if context is None:
        from vla_ros.runtime.local import LocalContext

        context = LocalContext(**kwargs)
    _default_context = context
    return context


def default_context() -> Any:
    if _default_context is None:
        init()
    return _default_context


def shutdown() -> None:
    global _default_context
    if _default_context is not None:
        _default_context.shutdown()
        _default_context = None


class NodeLogger:
    """rclpy's logger surface (`info`, `warn`, `once=`, `throttle_duration_sec=`)."""

    def __init__(self, name: str, clock: Clock) -> None:
        self._log = logging.getLogger("vla_ros." + name.strip("/").replace("/", "."))
        self._clock = clock
        self._once: set[str] = set()
        self._last: dict[str, int] = {}

    def _emit(self, level: int, message: str, once: bool = False,
              throttle_duration_sec: float | None = None, **_: Any) -> bool:
        if once:
            if message in self._once:
                return False
            self._once.add(message)
        if throttle_duration_sec:
            now = self._clock.now_ns()
            last = self._last.get(message)
            if last is not None and now - last < throttle_duration_sec * 1e9:
                return False
            self._last[message] = now
        self._log.log(level, message)
        return True

    def debug(self, message: str, **kw: Any) -> bool:
        return self._emit(logging.DEBUG, message, **kw)

    def info(self, message: str, **kw: Any) -> bool:
        return self._emit(logging.INFO, message, **kw)

    def warning(self, message: str, **kw: Any) -> bool:
        return self._emit(logging.WARNING, message, **kw)

    warn = warning

    def error(self, message: str, **kw: Any) -> bool:
        return self._emit(logging.ERROR, message, **kw)

    def fatal(self, message: str, **kw: Any) -> bool:
        return self._emit(logging.CRITICAL, message, **kw)

    def set_level(self, level: int | str) -> None:
        self._log.setLevel(level if isinstance(level, int) else level.upper())


class Node:
    """A ROS 2 node on the local backend (rclpy's `Node` API subset).

    Args mirror rclpy: `namespace`, `parameter_overrides` (dict or list of `Parameter`),
    plus `remappings` [(from, to)] and `param_sources` {name: "file:line"} that the launch
    interpreter and `--ros-args` parsing supply.
    """

    def __init__(
        self,
        node_name: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        context: Any = None,
        parameter_overrides: dict[str, Any] | Iterable[Parameter] | None = None,
        remappings: Iterable[tuple[str, str]] = (),
        param_sources: dict[str, str] | None = None,
        automatically_declare_parameters_from_overrides: bool = False,
    ) -> None:
        self._context = context if context is not None else default_context()
        self._name = validate_node_name(name or node_name)
        self._namespace = normalize_namespace(namespace)
        self._remapper = Remapper(list(remappings), self._name, self._namespace)
        overrides = _overrides_dict(parameter_overrides)
        self._context.attach(self, self._name, self._namespace, overrides)
        self._clock = self._context.node_clock(self)
        self._params = self._context.parameter_store(self, overrides, param_sources)
        self._logger = NodeLogger(self.get_fully_qualified_name(), self._clock)
        self._entities: list[Any] = []
        use_sim = self.declare_parameter("use_sim_time", self._context.use_sim_time).value
        if self._context.backend == "local" and bool(use_sim) != self._context.use_sim_time:
            self._logger.warning(
                f"use_sim_time={use_sim} but this local context runs on "
                f"{'sim' if self._context.use_sim_time else 'wall'} time; using the context's"
            )
        if automatically_declare_parameters_from_overrides:
            for name, value in overrides.items():
                if not self._params.has(name):
                    self._params.declare(name, value)
        self._context.nodes.append(self)

    # --- identity ------------------------------------------------------------------
    def get_name(self) -> str:
        return self._name

    def get_namespace(self) -> str:
        return self._namespace

    def get_fully_qualified_name(self) -> str:
        return ("" if self._namespace == "/" else self._namespace) + "/" + self._name

    @property
    def context(self) -> Any:
        return self._context

    def resolve_topic_name(self, topic: str) -> str:
        return self._remapper.resolve(topic, self._name, self._namespace)

    # --- communication ---------------------------------------------------------------
    def create_publisher(self, msg_type: msgs.MsgType, topic: str, qos: QoSProfile | int = 10):
        pub = self._context.create_publisher(msg_type, topic, qos, self)
        self._entities.append(pub)
        return pub

    def create_subscription(
        self,
        msg_type: msgs.MsgType,
        topic: str,
        callback: Callable[[Any], None],
        qos: QoSProfile | int = 10,
    ):
        sub = self._context.create_subscription(msg_type, topic, callback, qos, self)
        self._entities.append(sub)
        return sub

    def create_timer(self, timer_period_sec: float, callback: Callable[[], None]):
        timer = self._context.create_timer(timer_period_sec, callback, self)
        self._entities.append(timer)
        return timer

    def create_service(self, srv_type: msgs.SrvType, srv_name: str, callback):
        service = self._context.create_service(srv_type, srv_name, callback, self)
        self._entities.append(service)
        return service

    def create_client(self, srv_type: msgs.SrvType, srv_name: str):
        client = self._context.create_client(srv_type, srv_name, self)
        self._entities.append(client)
        return client

    # --- time and logging ------------------------------------------------------------
    def get_clock(self) -> Clock:
        return self._clock

    def now(self) -> Time:
        return self._clock.now()

    def get_logger(self) -> NodeLogger:
        return self._logger

    # --- parameters --------------------------------------------------------------------
    def declare_parameter(
        self,
        name: str,
        value: Any = None,
        descriptor: ParameterDescriptor | None = None,
        ignore_override: bool = False,
    ) -> Parameter:
        return self._params.declare(name, value, descriptor, ignore_override)

    def declare_parameters(self, namespace: str, parameters: list[tuple]) -> list[Parameter]:
        return self._params.declare_many(namespace, parameters)

    def has_parameter(self, name: str) -> bool:
        return self._params.has(name)

    def get_parameter(self, name: str) -> Parameter:
        return self._params.get(name)

    def get_parameter_value(self, name: str) -> Any:
        return self._params.get(name).value

    def set_parameters(self, parameters: list[Parameter]) -> list[SetParametersResult]:
        return self._params.set(parameters)

    def add_on_set_parameters_callback(self, callback) -> None:
        self._params.add_on_set_callback(callback)

    def remove_on_set_parameters_callback(self, callback) -> None:
        self._params.remove_on_set_callback(callback)

    def unused_parameter_overrides(self) -> list[str]:
        return self._params.unused_overrides()

    # --- lifetime ----------------------------------------------------------------------
    def destroy_node(self) -> None:
        for entity in reversed(self._entities):
            with contextlib.suppress(ValueError):  # already gone
                entity.destroy()
        self._entities.clear()
        if self in self._context.nodes:
            self._context.nodes.remove(self)


def _overrides_dict(overrides: Any) -> dict[str, Any]:
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    return {p.name: p.value for p in overrides}


def wall_time() -> float:
    """Monotonic wall seconds, for latency measurements that must ignore sim time."""
    return _time.perf_counter()
