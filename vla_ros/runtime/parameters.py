"""rclpy-shaped node parameters, independent of any backend.

The local backend keeps each node's parameters in a `ParameterStore`; the rclpy backend uses
rclpy's own. Both apply the same rules (the ones rclpy applies), so a node that declares
`rate: 30.0` refuses `rate: "fast"` from a YAML file with the same message on a laptop
and on the robot: typed declaration, overrides from files / `-p` / launch winning over
defaults, int accepted where a double is declared, read-only and range checks, and
on-set callbacks that may refuse a change.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ParameterError(ValueError):
    """Base class of every parameter problem (declaration, type, range, file)."""


class ParameterNotDeclaredError(ParameterError, KeyError):
    """Reading or setting a parameter that the node never declared."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ParameterAlreadyDeclaredError(ParameterError):
    """Declaring the same parameter twice."""


class ParameterTypeError(ParameterError, TypeError):
    """A value whose type does not match the declared type, or that no ROS type can hold."""


class ParameterValueError(ParameterError):
    """A value outside the declared range or refused by an on-set callback at declaration."""


class ParameterUninitializedError(ParameterError):
    """A parameter declared with only a type, read before any value was given."""


class ParameterType(IntEnum):
    """rcl_interfaces/ParameterType values."""

    NOT_SET = 0
    BOOL = 1
    INTEGER = 2
    DOUBLE = 3
    STRING = 4
    BYTE_ARRAY = 5
    BOOL_ARRAY = 6
    INTEGER_ARRAY = 7
    DOUBLE_ARRAY = 8
    STRING_ARRAY = 9

    @classmethod
    def from_parameter_value(cls, value: Any) -> ParameterType:
        """The ROS type of a Python value, as rclpy infers it (bool before int)."""
        return infer_type(value)


_TYPE_NAMES = {
    ParameterType.NOT_SET: "not set",
    ParameterType.BOOL: "bool",
    ParameterType.INTEGER: "integer",
    ParameterType.DOUBLE: "double",
    ParameterType.STRING: "string",
    ParameterType.BYTE_ARRAY: "byte array",
    ParameterType.BOOL_ARRAY: "bool array",
    ParameterType.INTEGER_ARRAY: "integer array",
    ParameterType.DOUBLE_ARRAY: "double array",
    ParameterType.STRING_ARRAY: "string array",
}

_ARRAY_OF = {
    ParameterType.BOOL: ParameterType.BOOL_ARRAY,
    ParameterType.INTEGER: ParameterType.INTEGER_ARRAY,
    ParameterType.DOUBLE: ParameterType.DOUBLE_ARRAY,
    ParameterType.STRING: ParameterType.STRING_ARRAY,
}
_ARRAY_TYPES = frozenset(_ARRAY_OF.values()) | {ParameterType.BYTE_ARRAY}


def type_name(type_: int) -> str:
    """Human name of a ParameterType value ('double array', ...)."""
    try:
        return _TYPE_NAMES[ParameterType(type_)]
    except ValueError:
        return f"unknown type {type_}"


def _scalar_type(value: Any) -> ParameterType | None:
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # numpy.bool_
        return ParameterType.BOOL
    if isinstance(value, numbers.Integral):
        return ParameterType.INTEGER
    if isinstance(value, numbers.Real):
        return ParameterType.DOUBLE
    if isinstance(value, str):
        return ParameterType.STRING
    return None


def infer_type(value: Any) -> ParameterType:
    """ROS parameter type of `value`; raises ParameterTypeError when none fits.

    Lists must be homogeneous (like rcl's YAML parser: `[1, 2.5]` is refused, write
    `[1.0, 2.5]`); an empty list has no type of its own and must be declared explicitly.
    """
    if value is None:
        return ParameterType.NOT_SET
    if isinstance(value, (bytes, bytearray)):
        return ParameterType.BYTE_ARRAY
    scalar = _scalar_type(value)
    if scalar is not None:
        return scalar
    if isinstance(value, Sequence) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        if not items:
            raise ParameterTypeError(
                "an empty list has no parameter type: give the type explicitly "
                "(e.g. Parameter(name, Parameter.Type.DOUBLE_ARRAY, []))"
            )
        if all(isinstance(v, bytes) and len(v) == 1 for v in items):
            return ParameterType.BYTE_ARRAY
        kinds = {_scalar_type(v) for v in items}
        if len(kinds) == 1 and (kind := kinds.pop()) in _ARRAY_OF:
            return _ARRAY_OF[kind]
        names = sorted(type_name(k) if k is not None else type(v).__name__
                       for k, v in zip((_scalar_type(v) for v in items), items, strict=True))
        raise ParameterTypeError(
            f"list {value!r} mixes element types ({', '.join(dict.fromkeys(names))}): a ROS "
            "parameter array holds one type (write 1.0 rather than 1 in a list of doubles)"
        )
    raise ParameterTypeError(
        f"{type(value).__name__} value {value!r} is not a ROS parameter type "
        "(bool, int, float, str, bytes or a list of one of these)"
    )


def _normalize(value: Any, type_: ParameterType) -> Any:
    """Plain Python value for `type_` (numpy scalars → int/float, tuples → lists)."""
    if type_ == ParameterType.NOT_SET:
        return None
    if type_ == ParameterType.BOOL:
        return bool(value)
    if type_ == ParameterType.INTEGER:
        return int(value)
    if type_ == ParameterType.DOUBLE:
        return float(value)
    if type_ == ParameterType.STRING:
        return str(value)
    if type_ == ParameterType.BYTE_ARRAY:
        return [bytes([b]) if isinstance(b, int) else bytes(b) for b in value]
    items = value.tolist() if hasattr(value, "tolist") else list(value)
    element = {ParameterType.BOOL_ARRAY: bool, ParameterType.INTEGER_ARRAY: int,
               ParameterType.DOUBLE_ARRAY: float, ParameterType.STRING_ARRAY: str}[type_]
    return [element(v) for v in items]


def _fits(value: Any, type_: ParameterType) -> bool:
    """Does `value` belong to `type_` (empty lists fit every array type)?"""
    if type_ == ParameterType.NOT_SET:
        return value is None
    if type_ in _ARRAY_TYPES and not isinstance(value, (str, bytes, bytearray)):
        try:
            if len(value) == 0:
                return True
        except TypeError:
            return False
    try:
        return infer_type(value) == type_
    except ParameterTypeError:
        return False


class Parameter:
    """A named, typed parameter value (rclpy's `Parameter`).

    `Parameter("rate", value=30.0)` infers DOUBLE; `Parameter("ids", Parameter.Type.INTEGER_ARRAY,
    [])` types an empty list. A given type must match the value (bool is not an integer).
    """

    Type = ParameterType

    def __init__(self, name: str, type_: ParameterType | int | None = None,
                 value: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ParameterError(f"parameter name must be a non-empty string, got {name!r}")
        if type_ is None:
            type_ = infer_type(value)
        else:
            try:
                type_ = ParameterType(type_)
            except ValueError:
                raise ParameterTypeError(f"parameter '{name}': unknown type {type_!r}") from None
            if not _fits(value, type_):
                raise ParameterTypeError(
                    f"parameter '{name}': value {value!r} is not of type {type_name(type_)}"
                )
        self._name = name
        self._type = type_
        self._value = _normalize(value, type_)

    @property
    def name(self) -> str:
        return self._name

    @property
    def type_(self) -> ParameterType:
        return self._type

    @property
    def value(self) -> Any:
        return self._value

    def get_parameter_value(self) -> Any:
        """rclpy returns an rcl_interfaces message; here the plain value is enough."""
        return self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parameter):
            return NotImplemented
        return (self._name, self._type, self._value) == (other._name, other._type, other._value)

    def __hash__(self) -> int:
        return hash((self._name, self._type))

    def __repr__(self) -> str:
        return f"Parameter({self._name!r}, {self._type.name}, {self._value!r})"


@dataclass
class ParameterDescriptor:
    """rcl_interfaces/ParameterDescriptor; ranges are `(from_value, to_value, step)`.

    A step of 0 means any value in [from, to]; otherwise the value must be `from + k·step`
    or `to` itself (the ROS rule).
    """

    name: str = ""
    type: int = ParameterType.NOT_SET
    description: str = ""
    read_only: bool = False
    dynamic_typing: bool = False
    floating_point_range: tuple[float, float, float] | None = None
    integer_range: tuple[int, int, int] | None = None
    additional_constraints: str = ""

    def range_problem(self, value: Any) -> str | None:
        """Why `value` is outside this descriptor's range, or None when inside."""
        if self.integer_range is not None and isinstance(value, int) and not isinstance(
                value, bool):
            lo, hi, step = self.integer_range
            if not lo <= value <= hi:
                return f"value {value} is outside the integer range [{lo}, {hi}]"
            if step and value != hi and (value - lo) % step:
                return f"value {value} is not on the step {step} grid starting at {lo}"
        if self.floating_point_range is not None and isinstance(value, float):
            lo, hi, step = self.floating_point_range
            tol = 1e-9 * max(1.0, abs(lo), abs(hi))
            if not lo - tol <= value <= hi + tol:
                return f"value {value} is outside the floating point range [{lo}, {hi}]"
            if step and not math.isclose(value, hi, abs_tol=tol):
                k = round((value - lo) / step)
                if not math.isclose(lo + k * step, value, abs_tol=tol):
                    return f"value {value} is not on the step {step} grid starting at {lo}"
        return None


@dataclass
class SetParametersResult:
    """Outcome of setting one parameter; `reason` says why it was refused."""

    successful: bool
    reason: str = ""


SetCallback = Callable[[list[Parameter]], SetParametersResult]


@dataclass
class _Entry:
    parameter: Parameter
    descriptor: ParameterDescriptor
    initialized: bool = True


class ParameterStore:
    """The parameters of one node: declarations, overrides, type/range checks, callbacks.

    `overrides` are the values a node was started with (parameter files, `-p`, launch
    `<param>`); `override_sources` names where each came from ("config/x.yaml:12",
    "command line -p") so a wrong type is reported where it can be fixed.
    """

    def __init__(self, node_fqn: str, overrides: dict[str, object] | None = None,
                 override_sources: dict[str, str] | None = None) -> None:
        self._node = node_fqn
        self._overrides = dict(overrides or {})
        self._sources = dict(override_sources or {})
        self._used: set[str] = set()
        self._entries: dict[str, _Entry] = {}
        self._callbacks: list[SetCallback] = []

    # --- declaration -----------------------------------------------------------------
    def declare(self, name: str, value: Any = None,
                descriptor: ParameterDescriptor | None = None,
                ignore_override: bool = False) -> Parameter:
        """Declare `name` with a default (or a `ParameterType` for a typed, unset one).

        An override wins over the default. Without a default and a type the parameter is
        dynamically typed (rclpy's deprecated-but-allowed behaviour).
        """
        if not isinstance(name, str) or not name:
            raise ParameterError(f"node '{self._node}': parameter name must be a non-empty "
                                 f"string, got {name!r}")
        if name in self._entries:
            raise ParameterAlreadyDeclaredError(
                f"parameter '{name}' of node '{self._node}' is already declared"
            )
        desc = ParameterDescriptor(**vars(descriptor)) if descriptor else ParameterDescriptor()
        desc.name = name
        if isinstance(value, ParameterType):
            desc.type, value = int(value), None
        if isinstance(value, Parameter):
            value = value.value
        declared = ParameterType(desc.type)
        source = "default value"
        if declared == ParameterType.NOT_SET:
            if value is not None:
                declared = self._type_of(name, value, "default value")
                desc.type = int(declared)
            elif not desc.dynamic_typing and not self._has_override(name, ignore_override):
                desc.dynamic_typing = True
        elif value is not None:
            value = self._coerce(name, value, declared, "default value", desc)
        if self._has_override(name, ignore_override):
            self._used.add(name)
            value = self._overrides[name]
            source = self._sources.get(name, "parameter override")
            if declared == ParameterType.NOT_SET and not desc.dynamic_typing:
                declared = self._type_of(name, value, source)
                desc.type = int(declared)
            value = self._coerce(name, value, declared, source, desc)
        if value is None:
            entry = _Entry(Parameter(name), desc, initialized=desc.dynamic_typing)
        else:
            parameter = self._make(name, value, declared, source, desc)
            problem = desc.range_problem(parameter.value) or self._callback_problem(parameter)
            if problem:
                raise ParameterValueError(
                    f"parameter '{name}' of node '{self._node}' ({source}): {problem}"
                )
            entry = _Entry(parameter, desc)
        self._entries[name] = entry
        return entry.parameter

    def declare_many(self, namespace: str, parameters: Iterable[tuple]) -> list[Parameter]:
        """`(name,)`, `(name, value)` or `(name, value, descriptor)` under `namespace.`."""
        declared = []
        for spec in parameters:
            if not 1 <= len(spec) <= 3:
                raise ParameterError(f"node '{self._node}': expected (name, value, descriptor), "
                                     f"got {spec!r}")
            full = f"{namespace}.{spec[0]}" if namespace else spec[0]
            declared.append(self.declare(full, *spec[1:]))
        return declared

    def undeclare(self, name: str) -> None:
        entry = self._require(name)
        if entry.descriptor.read_only:
            raise ParameterError(f"parameter '{name}' of node '{self._node}' is read-only "
                                 "and cannot be undeclared")
        del self._entries[name]

    # --- queries ---------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> Parameter:
        entry = self._require(name)
        if not entry.initialized:
            raise ParameterUninitializedError(
                f"parameter '{name}' of node '{self._node}' was declared with type "
                f"{type_name(entry.descriptor.type)} but has no value: give it in a parameter "
                "file, with -p or in the launch file"
            )
        return entry.parameter

    def get_value(self, name: str) -> Any:
        return self.get(name).value

    def describe(self, name: str) -> ParameterDescriptor:
        return self._require(name).descriptor

    def names(self) -> list[str]:
        return sorted(self._entries)

    def unused_overrides(self) -> list[str]:
        """Overrides that no declaration consumed: usually a typo in a YAML or launch file."""
        return sorted(set(self._overrides) - self._used)

    # --- changes ---------------------------------------------------------------------
    def set(self, params: list[Parameter]) -> list[SetParametersResult]:
        """Set each parameter on its own; a refused one keeps its old value."""
        return [self._set_one(p) for p in params]

    def add_on_set_callback(self, callback: SetCallback) -> None:
        """Like rclpy, the most recently added callback is asked first."""
        self._callbacks.insert(0, callback)

    def remove_on_set_callback(self, callback: SetCallback) -> None:
        try:
            self._callbacks.remove(callback)
        except ValueError:
            raise ParameterError("this on-set-parameters callback was never added") from None

    # --- internals -------------------------------------------------------------------
    def _set_one(self, param: Parameter) -> SetParametersResult:
        entry = self._require(param.name)
        desc = entry.descriptor
        if desc.read_only:
            return SetParametersResult(False, f"parameter '{param.name}' is read-only")
        value, type_ = param.value, param.type_
        if not desc.dynamic_typing:
            declared = ParameterType(desc.type)
            if type_ == ParameterType.INTEGER and declared == ParameterType.DOUBLE:
                value, type_ = float(value), declared
            elif type_ == ParameterType.INTEGER_ARRAY and declared == ParameterType.DOUBLE_ARRAY:
                value, type_ = [float(v) for v in value], declared
            elif type_ != declared:
                return SetParametersResult(
                    False, f"wrong type for parameter '{param.name}': expected "
                           f"{type_name(declared)}, got {type_name(type_)}")
        candidate = Parameter(param.name, type_, value)
        problem = desc.range_problem(candidate.value) or self._callback_problem(candidate)
        if problem:
            return SetParametersResult(False, problem)
        entry.parameter, entry.initialized = candidate, True
        return SetParametersResult(True)

    def _callback_problem(self, parameter: Parameter) -> str | None:
        for callback in list(self._callbacks):
            result = callback([parameter])
            if not getattr(result, "successful", False):
                reason = getattr(result, "reason", "") or "refused by an on-set callback"
                return f"rejected: {reason}"
        return None

    def _require(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise ParameterNotDeclaredError(
                f"parameter '{name}' is not declared by node '{self._node}'"
                + (f" (declared: {', '.join(self.names())})" if self._entries else "")
            ) from None

    def _has_override(self, name: str, ignore_override: bool) -> bool:
        return not ignore_override and name in self._overrides

    def _type_of(self, name: str, value: Any, source: str) -> ParameterType:
        try:
            return infer_type(value)
        except ParameterTypeError as err:
            raise ParameterTypeError(
                f"parameter '{name}' of node '{self._node}' ({source}): {err}"
            ) from None

    def _coerce(self, name: str, value: Any, declared: ParameterType, source: str,
                desc: ParameterDescriptor) -> Any:
        """Accept `value` for the declared type (int → double as rclpy does) or explain."""
        if isinstance(value, Parameter):
            value = value.value
        if desc.dynamic_typing or declared == ParameterType.NOT_SET:
            return value
        if declared == ParameterType.DOUBLE and _fits(value, ParameterType.INTEGER):
            return float(value)
        if declared == ParameterType.DOUBLE_ARRAY and _fits(value, ParameterType.INTEGER_ARRAY):
            return [float(v) for v in value]
        if _fits(value, declared):
            return value
        try:
            actual = type_name(infer_type(value))
        except ParameterTypeError as err:
            actual = str(err)
        raise ParameterTypeError(
            f"parameter '{name}' of node '{self._node}': expected {type_name(declared)}, "
            f"got {actual} {value!r} (from {source})"
        )

    def _make(self, name: str, value: Any, declared: ParameterType, source: str,
              desc: ParameterDescriptor) -> Parameter:
        if desc.dynamic_typing or declared == ParameterType.NOT_SET:
            type_ = self._type_of(name, value, source)
        else:
            type_ = declared
        return Parameter(name, type_, value)
