"""`RemotePolicy`: a policy that lives on a server speaking openpi's websocket protocol.

Works against our `vla-ros serve-policy` and against openpi's own policy servers. Every
failure becomes a specific exception: a slow answer is a `PolicyTimeout` (the node holds
instead of executing an old chunk; the connection is dropped so the late answer can never
be mistaken for the next one), a refused key a `RemoteAuthError`, a rejected request a
`RemoteRequestError` with the server's reason, a dropped connection is reconnected once
before it becomes a `RemoteConnectionError`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.interface import ActionChunk, Observation, Policy, PolicyMetadata
from vla_ros.policy.remote_codec import packb, unpackb
from vla_ros.policy.remote_errors import (
    PolicyTimeout,
    ProtocolError,
    RemoteAuthError,
    RemoteConnectionError,
    RemoteRequestError,
)
from vla_ros.policy.remote_protocol import (
    RESET_REQUEST,
    chunk_from_wire,
    error_from_frame,
    metadata_from_wire,
    observation_to_wire,
)

_MESSAGE_TOO_BIG = 1009
AUTH_MODES = ("header", "message")


class RemotePolicy(Policy):
    """Client side of a policy server.

    url: ``ws://host:port`` (or ``wss://``). api_key: sent as ``Authorization: Api-Key
    <key>`` (auth="header", openpi's way) or as a first message (auth="message").
    timeout: seconds for one inference round trip (and, unless given, for connecting).
    defaults: metadata fields a foreign server does not send (e.g. ``{"dt": 0.02,
    "action_names": [...]}``). validate_locally: check observations against our server's
    metadata before sending (the server checks them again either way).
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 5.0, *,
                 connect_timeout: float | None = None, auth: str = "header",
                 defaults: Mapping[str, Any] | None = None,
                 max_message_bytes: int = 64 * 1024 * 1024, retries: int = 1,
                 validate_locally: bool = True) -> None:
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"policy server url must start with ws:// or wss://, got {url!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 s, got {timeout}")
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}, got {auth!r}")
        self.url = url
        self.api_key = api_key
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout or timeout)
        self.auth = auth
        self.defaults = dict(defaults or {})
        self.max_message_bytes = int(max_message_bytes)
        self.retries = int(retries)
        self.validate_locally = validate_locally
        self.last_server_infer_ms = float("nan")  # the server's own inference time
        self.last_roundtrip_ms = float("nan")  # encode + network + server + decode
        self.reconnects = 0
        self._conn: ClientConnection | None = None
        self._meta: PolicyMetadata | None = None
        self._lock = threading.RLock()

    # -- Policy -----------------------------------------------------------------------------
    @property
    def metadata(self) -> PolicyMetadata:
        with self._lock:
            if self._meta is None:
                self.connect()
            assert self._meta is not None
            return self._meta

    def infer(self, observation: Observation) -> ActionChunk:
        with self._lock:
            meta = self.metadata
            if self.validate_locally and self.speaks_vla_ros:  # fail early, without a trip
                self.validate(observation)
            payload = packb(observation_to_wire(observation))
            limit = meta.extra.get("max_message_bytes")
            if isinstance(limit, int) and len(payload) > limit:
                raise RemoteRequestError(
                    f"observation encodes to {len(payload)} bytes; the policy server {self.url} "
                    f"accepts at most {limit} (smaller images?)")
            start = time.perf_counter()
            reply = self._exchange(payload, "inference")
            chunk, infer_ms = chunk_from_wire(unpackb(reply), meta, observation.stamp)
            self.last_roundtrip_ms = (time.perf_counter() - start) * 1e3
            self.last_server_infer_ms = infer_ms
            return chunk

    def reset(self) -> None:
        """Reset the server-side policy when the server supports it (ours does)."""
        with self._lock:
            if self.metadata.extra.get("supports_reset") is True:
                reply = unpackb(self._exchange(packb(RESET_REQUEST), "reset"))
                if reply != {"ok": True}:
                    raise ProtocolError(f"policy server {self.url} answered reset with {reply!r}")

    # -- connection -------------------------------------------------------------------------
    @property
    def speaks_vla_ros(self) -> bool:
        return self._meta is not None and "vla_ros_protocol" in self._meta.extra

    def connect(self) -> PolicyMetadata:
        """Open the connection now (otherwise the first call does) and read the metadata."""
        with self._lock:
            self._drop()
            conn = self._open()
            try:
                if self.api_key is not None and self.auth == "message":
                    conn.send(packb({"api_key": self.api_key}))
                raw = conn.recv(timeout=self.connect_timeout)
            except TimeoutError:
                conn.close()
                raise PolicyTimeout(f"policy server {self.url} sent no metadata within "
                                    f"{self.connect_timeout} s") from None
            except ConnectionClosed as closed:
                raise self._closed_error(closed, "while sending its metadata") from None
            if isinstance(raw, str):
                conn.close()
                raise error_from_frame(raw, self.url)
            self._meta = metadata_from_wire(unpackb(raw), self.defaults)
            self._conn = conn
            return self._meta

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> RemotePolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> ClientConnection:
        headers = {}
        if self.api_key is not None and self.auth == "header":
            headers["Authorization"] = f"Api-Key {self.api_key}"
        try:
            conn = connect(self.url, open_timeout=self.connect_timeout,
                           additional_headers=headers, max_size=self.max_message_bytes,
                           compression=None, proxy=None)
            # The connection outlives this call (closed by close()/_drop); entering it is
            # how websockets >= 17.1 is told that is intended, and a no-op before.
            return conn.__enter__()
        except InvalidStatus as err:
            status = err.response.status_code
            body = err.response.body.decode(errors="replace").strip() if err.response.body else ""
            if status == 401:
                raise RemoteAuthError(f"policy server {self.url} rejected the API key "
                                      f"(HTTP 401: {body or 'unauthorized'})") from None
            raise RemoteConnectionError(f"policy server {self.url} refused the connection "
                                        f"(HTTP {status}: {body})") from None
        except TimeoutError:
            raise PolicyTimeout(f"connecting to policy server {self.url} took longer than "
                                f"{self.connect_timeout} s") from None
        except (OSError, InvalidHandshake) as err:
            raise RemoteConnectionError(f"cannot reach policy server {self.url}: {err}") \
                from None

    def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def _closed_error(self, closed: ConnectionClosed, when: str) -> Exception:
        self._drop()
        code = closed.rcvd.code if closed.rcvd is not None else None
        reason = closed.rcvd.reason if closed.rcvd is not None else ""
        if code == _MESSAGE_TOO_BIG:
            return RemoteRequestError(f"policy server {self.url} closed the connection: "
                                      f"message too big ({reason or code})")
        if code == 1008:
            return RemoteAuthError(f"policy server {self.url} closed the connection {when}: "
                                   f"{reason or 'policy violation'}")
        return RemoteConnectionError(f"policy server {self.url} closed the connection {when} "
                                     f"(code {code}: {reason or 'no reason'})")

    def _exchange(self, payload: bytes, what: str) -> bytes:
        """Send one request and return its binary reply; reconnects on a dropped link."""
        deadline = time.monotonic() + self.timeout
        for attempt in range(self.retries + 1):
            if self._conn is None:
                if attempt:
                    self.reconnects += 1
                self.connect()
            assert self._conn is not None
            try:
                self._conn.send(payload)
                reply = self._conn.recv(timeout=max(deadline - time.monotonic(), 1e-3))
            except TimeoutError:
                self._drop()  # the late reply must never be read as the next one
                raise PolicyTimeout(f"policy server {self.url}: no {what} result within "
                                    f"{self.timeout} s") from None
            except ConnectionClosed as closed:
                error = self._closed_error(closed, f"during {what}")
                if isinstance(error, (RemoteRequestError, RemoteAuthError)) \
                        or attempt == self.retries or time.monotonic() >= deadline:
                    raise error from None
                continue
            except OSError as err:
                self._drop()
                if attempt == self.retries:
                    raise RemoteConnectionError(
                        f"policy server {self.url}: {what} failed: {err}") from None
                continue
            if isinstance(reply, str):
                raise error_from_frame(reply, self.url)
            return reply
        raise RemoteConnectionError(f"policy server {self.url}: {what} failed")  # unreachable


API_KEY_ENV = "VLA_ROS_API_KEY"


def make_policy(url: str | None = None, *, host: str | None = None, port: int | None = None,
                api_key: str | None = None, timeout: float = 5.0, checkpoint: str | None = None,
                **options: Any) -> RemotePolicy:
    """Registry factory for policy type 'remote': ``url`` or ``host`` + ``port``.

    The API key defaults to the environment variable VLA_ROS_API_KEY, so it need not be
    written into launch files or parameter YAML.
    """
    if checkpoint:
        raise PolicyConfigError(f"remote policy: 'checkpoint' ({checkpoint!r}) belongs on the "
                                "server (vla-ros serve-policy --checkpoint); give url instead")
    if url is None:
        if host is None or port is None:
            raise PolicyConfigError("remote policy needs url='ws://host:port' (or host and "
                                    "port), e.g. policy_args '{\"url\": \"ws://gpu:8000\"}'")
        url = f"ws://{host}:{int(port)}"
    if api_key is None:
        api_key = os.environ.get(API_KEY_ENV) or None
    try:
        return RemotePolicy(url, api_key, timeout, **options)
    except (TypeError, ValueError) as err:
        raise PolicyConfigError(f"remote policy: {err}") from None
