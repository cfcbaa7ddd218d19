"""msgpack with numpy arrays, as openpi's policy servers speak it — and nothing more.

An array travels as a map ``{"__ndarray__": True, "data": <raw bytes>, "dtype": <numpy
dtype string, e.g. "<f4">, "shape": [...]}`` and a numpy scalar as ``{"__npgeneric__":
True, "data": <value>, "dtype": ...}``. Keys are written as msgpack *bin* (bytes), exactly
like openpi, and read in either bin or str form, so both sides interoperate with openpi.

Why hand-written and strict: messages come from the network. Nothing here ever unpickles;
only plain numeric and bool dtypes decode (object, void, string and datetime dtypes — the
ones a pickle or a pointer could hide behind — are refused before numpy sees the bytes);
the byte count must match shape x itemsize exactly; msgpack extension types are refused.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack
import numpy as np

from vla_ros.policy.remote_errors import ProtocolError

_ARRAY_KEY = "__ndarray__"
_SCALAR_KEY = "__npgeneric__"
_MAX_NDIM = 32

_ALLOWED_KINDS = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                  "uint64", "float16", "float32", "float64")


def _allowed_dtype_strings() -> dict[str, np.dtype]:
    table: dict[str, np.dtype] = {}
    for name in _ALLOWED_KINDS:
        base = np.dtype(name)
        for order in "<>|=":
            dtype = base.newbyteorder(order) if base.itemsize > 1 else base
            table[dtype.str] = dtype
        table[name] = base
    return table


ALLOWED_DTYPES: dict[str, np.dtype] = _allowed_dtype_strings()


def _encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        _check_encodable(obj.dtype)
        return {
            _ARRAY_KEY.encode(): True,
            b"data": np.ascontiguousarray(obj).tobytes(),
            b"dtype": obj.dtype.str,
            b"shape": list(obj.shape),
        }
    if isinstance(obj, np.generic):
        _check_encodable(obj.dtype)
        return {_SCALAR_KEY.encode(): True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"cannot encode {type(obj).__name__} in a policy message "
                    f"(numbers, strings, bytes, lists, dicts and numeric numpy arrays only)")


def _check_encodable(dtype: np.dtype) -> None:
    if dtype.str not in ALLOWED_DTYPES:
        raise ProtocolError(f"numpy dtype {dtype} cannot be sent: only bool, (u)int8-64 and "
                            f"float16/32/64 arrays travel in policy messages")


def packb(obj: Any) -> bytes:
    """Encode `obj` (dicts, lists, str, numbers, numeric numpy arrays) as msgpack bytes."""
    try:
        return msgpack.packb(obj, default=_encode, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as err:
        if isinstance(err, ProtocolError):
            raise
        raise ProtocolError(f"cannot encode message: {err}") from None


def _field(obj: dict, name: str) -> Any:
    """A map entry stored under a str or a bytes key (openpi writes bytes)."""
    if name in obj:
        return obj[name]
    return obj.get(name.encode())


def _has(obj: dict, name: str) -> bool:
    return name in obj or name.encode() in obj


def _text(value: Any, what: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(f"{what} is not ASCII text") from None
    if isinstance(value, str):
        return value
    raise ProtocolError(f"{what} must be a string, got {type(value).__name__}")


def _dtype(value: Any) -> np.dtype:
    name = _text(value, "array dtype")
    dtype = ALLOWED_DTYPES.get(name)
    if dtype is None:
        raise ProtocolError(f"array dtype {name!r} is not allowed: only bool, (u)int8-64 and "
                            f"float16/32/64 decode (object, string and void dtypes never do)")
    return dtype


def _decode_array(obj: dict) -> np.ndarray:
    dtype = _dtype(_field(obj, "dtype"))
    data, shape = _field(obj, "data"), _field(obj, "shape")
    if not isinstance(data, bytes):
        raise ProtocolError(f"array data must be bytes, got {type(data).__name__}")
    if not isinstance(shape, list) or len(shape) > _MAX_NDIM or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ProtocolError(f"array shape must be a list of at most {_MAX_NDIM} non-negative "
                            f"integers, got {shape!r}")
    expected = math.prod(shape) * dtype.itemsize
    if expected != len(data):
        raise ProtocolError(f"array of shape {shape} and dtype {dtype.str} needs {expected} "
                            f"bytes, got {len(data)}")
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)  # native order, writable


def _decode_scalar(obj: dict) -> np.generic:
    dtype = _dtype(_field(obj, "dtype"))
    value = _field(obj, "data")
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (isinstance(value, bool) if dtype.kind == "b" else numeric):
        raise ProtocolError(f"numpy scalar of dtype {dtype.str} cannot carry "
                            f"{type(value).__name__} {value!r}")
    try:
        return dtype.newbyteorder("=").type(value)
    except (OverflowError, ValueError) as err:
        raise ProtocolError(f"numpy scalar {value!r} does not fit dtype {dtype.str}: {err}") \
            from None


def _object_hook(obj: dict) -> Any:
    if _has(obj, _ARRAY_KEY) and _field(obj, _ARRAY_KEY) is True:
        return _decode_array(obj)
    if _has(obj, _SCALAR_KEY) and _field(obj, _SCALAR_KEY) is True:
        return _decode_scalar(obj)
    return obj


def _reject_ext(code: int, data: bytes) -> Any:
    raise ProtocolError(f"msgpack extension type {code} is not allowed in policy messages")


def unpackb(data: bytes | bytearray | memoryview) -> Any:
    """Decode one message; any problem is a ProtocolError saying what is wrong."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"expected a binary msgpack message, got {type(data).__name__}")
    try:
        return msgpack.unpackb(bytes(data), raw=False, object_hook=_object_hook,
                               ext_hook=_reject_ext, strict_map_key=True, use_list=True)
    except ProtocolError:
        raise
    except msgpack.ExtraData:
        raise ProtocolError("malformed msgpack: trailing bytes after the message") from None
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as err:
        detail = str(err) or "invalid or reserved format byte"
        raise ProtocolError(f"malformed msgpack: {detail}") from None
