"""The policy-server protocol's messages: what is in them and how they are checked.

Follows openpi's websocket protocol so our client can talk to openpi servers and openpi
clients to ours:

1. on connect the server sends its metadata (one binary msgpack map);
2. each request is an observation map: ``images`` (camera -> HxWx3 uint8), ``state``
   (numeric vector) and ``prompt`` (the instruction); flat ``images/<camera>`` keys and
   ``instruction`` are accepted too;
3. each response is a map with ``actions`` [H, D], ``server_timing`` {``infer_ms``} and,
   when the policy has them, ``features`` (its last hidden layer, for SAFE);
4. a failure is a *text* frame ``"<kind>: <message>"`` (openpi clients raise on any text
   frame) with kind one of `ERROR_KINDS`; the connection stays usable after
   ``bad_request``, ``timeout`` and ``internal``.

Our server adds to the metadata what a client needs to check requests before sending
(action/state names, cameras, image size, horizon, dt, size limit); fields missing from a
foreign server's metadata come from the client's `defaults`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from vla_ros.policy.errors import PolicyInputError
from vla_ros.policy.interface import ActionChunk, Observation, PolicyMetadata
from vla_ros.policy.remote_errors import (
    PolicyTimeout,
    ProtocolError,
    RemoteAuthError,
    RemotePolicyError,
    RemoteRequestError,
    RemoteServerError,
)

PROTOCOL_VERSION = 1
RESET_REQUEST = {"__control__": "reset"}  # our extension; sent only if the server says so

ERROR_KINDS: dict[str, type[RemotePolicyError] | type[PolicyTimeout]] = {
    "bad_request": RemoteRequestError,
    "auth": RemoteAuthError,
    "timeout": PolicyTimeout,
    "internal": RemoteServerError,
}


def error_frame(kind: str, message: str) -> str:
    if kind not in ERROR_KINDS:
        raise ValueError(f"unknown error kind {kind!r}; one of {sorted(ERROR_KINDS)}")
    return f"{kind}: {message}"


def error_from_frame(text: str, url: str) -> Exception:
    """The exception a client raises for a server's text frame."""
    kind, _, message = text.partition(": ")
    cls = ERROR_KINDS.get(kind)
    if cls is None:  # an openpi server sends a traceback as text
        return RemoteServerError(f"policy server {url} failed:\n{text}")
    return cls(f"policy server {url}: {message}")


# -- metadata ---------------------------------------------------------------------------------
def metadata_to_wire(meta: PolicyMetadata, *, policy_type: str = "",
                     max_message_bytes: int | None = None,
                     api_key_in_first_message: bool = False) -> dict[str, Any]:
    extra = {str(k): v for k, v in meta.extra.items()
             if isinstance(v, (str, int, float, bool, list, tuple, dict))}
    return {
        "vla_ros_protocol": PROTOCOL_VERSION,
        "policy_type": policy_type,
        "action_names": list(meta.action_names),
        "state_names": list(meta.state_names),
        "cameras": list(meta.cameras),
        "image_size": list(meta.image_size),
        "horizon": int(meta.horizon),
        "dt": float(meta.dt),
        "feature_dim": int(meta.feature_dim),
        "max_message_bytes": max_message_bytes,
        "supports_reset": True,
        "api_key_in_first_message": api_key_in_first_message,
        "extra": extra,
    }


def metadata_from_wire(raw: Any, defaults: Mapping[str, Any] | None = None) -> PolicyMetadata:
    """PolicyMetadata from a server's metadata map; missing fields come from `defaults`."""
    if not isinstance(raw, dict):
        raise ProtocolError(f"server metadata must be a map, got {type(raw).__name__}")
    merged = {**(defaults or {}), **{k: v for k, v in raw.items() if isinstance(k, str)}}
    try:
        dt = float(merged["dt"])
    except KeyError:
        raise ProtocolError("server metadata has no 'dt' (seconds between actions); pass "
                            "defaults={'dt': ...} for a server that does not send it") from None
    except (TypeError, ValueError):
        raise ProtocolError(f"server metadata 'dt' must be a number, got {merged['dt']!r}") \
            from None
    try:
        size = tuple(int(v) for v in merged.get("image_size", (0, 0)))
        if len(size) != 2:
            raise ValueError(size)
        return PolicyMetadata(
            action_names=tuple(str(n) for n in merged.get("action_names", ())),
            state_names=tuple(str(n) for n in merged.get("state_names", ())),
            cameras=tuple(str(c) for c in merged.get("cameras", ())),
            image_size=size,  # type: ignore[arg-type]
            horizon=int(merged.get("horizon", 0)),
            dt=dt,
            feature_dim=int(merged.get("feature_dim", 0)),
            extra={k: v for k, v in merged.items() if k not in _METADATA_FIELDS},
        )
    except (TypeError, ValueError) as err:
        raise ProtocolError(f"server metadata has a field of the wrong type: {err}") from None


_METADATA_FIELDS = {"action_names", "state_names", "cameras", "image_size", "horizon", "dt",
                    "feature_dim"}


# -- requests -------------------------------------------------------------------------------
def observation_to_wire(obs: Observation) -> dict[str, Any]:
    return {
        "images": {str(cam): np.asarray(img) for cam, img in obs.images.items()},
        "state": np.asarray(obs.state),
        "prompt": obs.instruction,
    }


def observation_from_wire(msg: Any, meta: PolicyMetadata) -> Observation:
    """Observation from a request map, checked against the served policy's metadata."""
    if not isinstance(msg, dict):
        raise PolicyInputError(f"request must be a map of observation fields, "
                               f"got {type(msg).__name__}")
    images: dict[str, Any] = {}
    nested = msg.get("images", {})
    if not isinstance(nested, dict):
        raise PolicyInputError(f"request field 'images' must be a map camera -> image, "
                               f"got {type(nested).__name__}")
    images.update(nested)
    for key, value in msg.items():
        if isinstance(key, str) and key.startswith("images/"):
            images[key[len("images/"):]] = value
    for cam, image in images.items():
        if not isinstance(image, np.ndarray):
            raise PolicyInputError(f"request field 'images/{cam}' must be an array, "
                                   f"got {type(image).__name__}")
    unknown = sorted(str(c) for c in images if c not in meta.cameras)
    if unknown:
        raise PolicyInputError(f"request has images for unknown camera(s) {unknown}; "
                               f"the policy takes {list(meta.cameras)}")
    if "state" not in msg:
        raise PolicyInputError("request lacks field 'state'")
    state = msg["state"]
    if not isinstance(state, np.ndarray):
        if not (isinstance(state, list) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in state)):
            raise PolicyInputError(f"request field 'state' must be a numeric array, "
                                   f"got {type(state).__name__}")
        state = np.asarray(state, dtype=np.float64)
    prompt = msg.get("prompt", msg.get("instruction", ""))
    if not isinstance(prompt, str):
        raise PolicyInputError(f"request field 'prompt' must be a string, "
                               f"got {type(prompt).__name__}")
    stamp = msg.get("stamp", 0.0)
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        raise PolicyInputError(f"request field 'stamp' must be a number, got {stamp!r}")
    return Observation(images=images, state=state, instruction=prompt, stamp=float(stamp))


# -- responses ------------------------------------------------------------------------------
def chunk_to_wire(chunk: ActionChunk, infer_ms: float) -> dict[str, Any]:
    response: dict[str, Any] = {
        "actions": np.asarray(chunk.actions),
        "server_timing": {"infer_ms": float(infer_ms)},
    }
    if chunk.features is not None:
        response["features"] = np.asarray(chunk.features)
    return response


def chunk_from_wire(msg: Any, meta: PolicyMetadata, stamp: float) -> tuple[ActionChunk, float]:
    """(ActionChunk stamped with the observation time, server infer_ms or NaN)."""
    if not isinstance(msg, dict):
        raise ProtocolError(f"response must be a map, got {type(msg).__name__}")
    actions = msg.get("actions")
    if not isinstance(actions, np.ndarray) or actions.ndim != 2 or actions.dtype.kind not in "iuf":
        shape = getattr(actions, "shape", type(actions).__name__)
        raise ProtocolError(f"response 'actions' must be a numeric [H, D] array, got {shape}")
    names = list(meta.action_names) or [f"action_{i}" for i in range(actions.shape[1])]
    if actions.shape[1] != len(names):
        raise ProtocolError(f"response 'actions' has {actions.shape[1]} dimensions, the "
                            f"server's metadata names {len(names)}: {names}")
    if not np.all(np.isfinite(actions)):
        raise ProtocolError("response 'actions' holds NaN or infinite values")
    features = msg.get("features")
    if features is not None and not (isinstance(features, np.ndarray)
                                     and features.dtype.kind in "iuf"):
        raise ProtocolError(f"response 'features' must be a numeric array, "
                            f"got {type(features).__name__}")
    timing = msg.get("server_timing")
    infer_ms = float("nan")
    if isinstance(timing, dict) and isinstance(timing.get("infer_ms"), (int, float)):
        infer_ms = float(timing["infer_ms"])
    chunk = ActionChunk(actions=actions, names=names, dt=meta.dt,
                        features=None if features is None else features.astype(np.float32),
                        stamp=stamp)
    return chunk, infer_ms
