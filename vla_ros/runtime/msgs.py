"""Message types with ROS defaults, the same names on both backends.

The local backend uses the rosbags ROS 2 Jazzy typestore: its classes carry the exact ROS
field definitions (so CDR bytes match a real robot's) but no defaults. rclpy classes default
every field. Node code therefore builds messages through `MsgType` objects that fill ROS
defaults, e.g. ``msgs.JointState(name=[...], position=q)``, and passes the `MsgType` to
`create_publisher`/`create_subscription`. On the ros backend the same objects build the real
rclpy classes (see `runtime/ros.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

# Services are not in rosbags' message store; their request/response definitions (from
# std_srvs) are registered as messages named the way rosidl names them.
_SERVICE_DEFINITIONS = {
    "std_srvs/srv/Trigger": (
        "uint8 structure_needs_at_least_one_member",
        "bool success\nstring message",
    ),
    "std_srvs/srv/SetBool": ("bool data", "bool success\nstring message"),
    "std_srvs/srv/Empty": (
        "uint8 structure_needs_at_least_one_member",
        "uint8 structure_needs_at_least_one_member",
    ),
}

_NUMPY_DTYPES = {
    "bool": np.bool_,
    "byte": np.uint8,
    "char": np.uint8,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "float32": np.float32,
    "float64": np.float64,
}


_foreign_builder: Callable[[str, dict[str, Any]], Any] | None = None
"""Set by the ros backend: builds rclpy message instances instead of rosbags ones."""


def use_foreign_builder(builder: Callable[[str, dict[str, Any]], Any] | None) -> None:
    """Route every `MsgType(...)` construction to another backend's classes (rclpy)."""
    global _foreign_builder
    _foreign_builder = builder


class MessageError(TypeError):
    """A message was built or used with fields that do not match its ROS definition."""


@cache
def typestore() -> Typestore:
    """The ROS 2 Jazzy typestore plus the std_srvs request/response types."""
    store = get_typestore(Stores.ROS2_JAZZY)
    extra: dict[str, Any] = {}
    for srv, (request, response) in _SERVICE_DEFINITIONS.items():
        for suffix, definition in (("_Request", request), ("_Response", response)):
            parsed = get_types_from_msg(definition, srv + suffix)
            # rosbags files every parsed type under pkg/msg/; rosidl names it pkg/srv/X_Request.
            extra[srv + suffix] = next(iter(parsed.values()))
    store.register(extra)
    return store


def _default_factory(node: tuple) -> Callable[[], Any]:
    """A zero-argument callable producing the ROS default for one field definition."""
    kind, spec = node
    kind = int(kind)
    if kind == 1:  # BASE
        base = spec[0]
        if base == "string" or base == "wstring":
            return str
        if base == "bool":
            return bool
        if base in ("float32", "float64"):
            return float
        return int
    if kind == 2:  # NAME: nested message
        nested = MsgType(spec)
        return nested.default
    sub, count = spec
    sub_kind, sub_spec = sub
    if int(sub_kind) == 1 and sub_spec[0] in _NUMPY_DTYPES:
        dtype = _NUMPY_DTYPES[sub_spec[0]]
        if kind == 3:  # fixed-size ARRAY
            return lambda: np.zeros(count, dtype=dtype)
        return lambda: np.zeros(0, dtype=dtype)
    if kind == 3:
        element = _default_factory(sub)
        return lambda: [element() for _ in range(count)]
    return list


class MsgType:
    """A ROS message type: callable with keyword fields, fills every other field by default.

    Primitive arrays are stored as numpy arrays of the field's dtype (what rosbags
    serialises); lists given for them are converted, and wrong lengths of fixed arrays or
    unknown field names raise `MessageError` naming the type and field.
    """

    _instances: dict[str, MsgType] = {}

    def __new__(cls, name: str) -> MsgType:
        existing = cls._instances.get(name)
        if existing is not None:
            return existing
        self = super().__new__(cls)
        cls._instances[name] = self
        self._ready = False
        return self

    def __init__(self, name: str) -> None:
        if self._ready:
            return
        store = typestore()
        if name not in store.types:
            raise MessageError(f"unknown ROS message type '{name}'")
        self.name = name
        self.cls = store.types[name]
        self._fields = store.fielddefs[name][1]
        self._field_names = [f for f, _ in self._fields]
        self._factories: dict[str, Callable[[], Any]] = {}
        self._array_dtypes: dict[str, tuple[Any, int]] = {}
        self._ready = True

    def _prepare(self) -> None:
        # Deferred so recursive types (nested defaults) resolve lazily.
        if self._factories or not self._fields:
            return
        for field, node in self._fields:
            self._factories[field] = _default_factory(node)
            kind, spec = node
            if int(kind) in (3, 4):
                sub, count = spec
                if int(sub[0]) == 1 and sub[1][0] in _NUMPY_DTYPES:
                    fixed = count if int(kind) == 3 else -1
                    self._array_dtypes[field] = (_NUMPY_DTYPES[sub[1][0]], fixed)

    @property
    def fields(self) -> list[str]:
        return list(self._field_names)

    def default(self) -> Any:
        return self()

    def __call__(self, **fields: Any) -> Any:
        if _foreign_builder is not None:
            return _foreign_builder(self.name, fields)
        self._prepare()
        values = {}
        for name, factory in self._factories.items():
            if name in fields:
                value = fields.pop(name)
                spec = self._array_dtypes.get(name)
                if spec is not None:
                    value = self._as_array(name, value, *spec)
                values[name] = value
            else:
                values[name] = factory()
        if fields:
            raise MessageError(
                f"{self.name} has no field(s) {sorted(fields)}; fields are {self._field_names}"
            )
        return self.cls(**values)

    def _as_array(self, field: str, value: Any, dtype: Any, fixed: int) -> np.ndarray:
        if isinstance(value, (bytes, bytearray, memoryview)):
            array = np.frombuffer(value, dtype=dtype)
        else:
            array = np.asarray(value, dtype=dtype)
        if array.ndim != 1:
            array = array.reshape(-1)
        if fixed >= 0 and array.shape[0] != fixed:
            raise MessageError(
                f"{self.name}.{field} must have exactly {fixed} elements, got {array.shape[0]}"
            )
        return array

    def is_instance(self, msg: Any) -> bool:
        return getattr(msg, "__msgtype__", None) == self.name

    def __repr__(self) -> str:
        return f"MsgType({self.name!r})"


class SrvType:
    """A ROS service type with `.Request` and `.Response` message types."""

    def __init__(self, name: str) -> None:
        if name not in _SERVICE_DEFINITIONS:
            raise MessageError(f"unknown service type '{name}'")
        self.name = name
        self.Request = MsgType(name + "_Request")
        self.Response = MsgType(name + "_Response")

    def __repr__(self) -> str:
        return f"SrvType({self.name!r})"


def type_name(msg: Any) -> str:
    """The ROS type name of a message instance (`pkg/msg/Type`)."""
    name = getattr(msg, "__msgtype__", None)
    if name is None:
        raise MessageError(f"{type(msg).__name__} is not a ROS message")
    return name


def serialize(msg: Any) -> bytes:
    """CDR bytes, exactly as a ROS 2 publisher would put them on the wire."""
    return bytes(typestore().serialize_cdr(msg, type_name(msg)))


def deserialize(data: bytes, name: str) -> Any:
    return typestore().deserialize_cdr(data, name)


# The types node code uses, by their short names.
Time = MsgType("builtin_interfaces/msg/Time")
Duration = MsgType("builtin_interfaces/msg/Duration")
Header = MsgType("std_msgs/msg/Header")
Bool = MsgType("std_msgs/msg/Bool")
String = MsgType("std_msgs/msg/String")
Float64 = MsgType("std_msgs/msg/Float64")
Float32MultiArray = MsgType("std_msgs/msg/Float32MultiArray")
MultiArrayLayout = MsgType("std_msgs/msg/MultiArrayLayout")
MultiArrayDimension = MsgType("std_msgs/msg/MultiArrayDimension")
Image = MsgType("sensor_msgs/msg/Image")
CameraInfo = MsgType("sensor_msgs/msg/CameraInfo")
JointState = MsgType("sensor_msgs/msg/JointState")
JointTrajectory = MsgType("trajectory_msgs/msg/JointTrajectory")
JointTrajectoryPoint = MsgType("trajectory_msgs/msg/JointTrajectoryPoint")
TwistStamped = MsgType("geometry_msgs/msg/TwistStamped")
Twist = MsgType("geometry_msgs/msg/Twist")
Vector3 = MsgType("geometry_msgs/msg/Vector3")
PoseStamped = MsgType("geometry_msgs/msg/PoseStamped")
DiagnosticArray = MsgType("diagnostic_msgs/msg/DiagnosticArray")
DiagnosticStatus = MsgType("diagnostic_msgs/msg/DiagnosticStatus")
KeyValue = MsgType("diagnostic_msgs/msg/KeyValue")
Clock = MsgType("rosgraph_msgs/msg/Clock")

Trigger = SrvType("std_srvs/srv/Trigger")
SetBool = SrvType("std_srvs/srv/SetBool")
Empty = SrvType("std_srvs/srv/Empty")
