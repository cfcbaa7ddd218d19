"""Serve any `Policy` over websocket with openpi's msgpack-numpy protocol.

One asyncio loop accepts connections; inference runs in a single worker thread (policies
are not assumed thread-safe, and one model on one device serves requests one by one), so a
slow model never blocks the loop from answering pings, health checks and bad requests.

Security choices (see docs/remote_policy.md): the codec never unpickles and decodes only
numeric dtypes; messages are capped (`max_message_bytes`, enforced by websockets before a
frame is buffered); an optional API key is checked in constant time, from the
``Authorization: Api-Key <key>`` header (openpi's) or from a first ``{"api_key": ...}``
message; the number of connections is capped; each request has a timeout. A bad request
gets a text error frame and the connection stays open; nothing a client sends can stop
the server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from vla_ros.policy.errors import PolicyInputError
from vla_ros.policy.interface import Policy
from vla_ros.policy.remote_codec import packb, unpackb
from vla_ros.policy.remote_errors import ProtocolError
from vla_ros.policy.remote_protocol import (
    RESET_REQUEST,
    chunk_to_wire,
    error_frame,
    metadata_to_wire,
    observation_from_wire,
)

log = logging.getLogger("vla_ros.policy.server")

API_KEY_SCHEME = "Api-Key"


@dataclass(frozen=True)
class ServerConfig:
    """Network and safety limits of a policy server."""

    host: str = "127.0.0.1"  # loopback unless asked: a policy server is not for the internet
    port: int = 8000  # 0 picks a free port (tests)
    api_key: str | None = None
    max_message_bytes: int = 16 * 1024 * 1024
    max_connections: int = 4
    request_timeout: float = 30.0  # seconds per inference
    auth_timeout: float = 2.0  # seconds to send the API key message, when not in a header
    policy_type: str = ""  # reported in the metadata

    def __post_init__(self) -> None:
        if self.max_message_bytes < 1024:
            raise ValueError(f"max_message_bytes must be >= 1024, got {self.max_message_bytes}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {self.max_connections}")
        if not self.request_timeout > 0:
            raise ValueError(f"request_timeout must be > 0 s, got {self.request_timeout}")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key must not be empty (leave it out to serve without a key)")


def _header_key(headers: Headers) -> str | None:
    value = headers.get("Authorization")
    if value is None:
        return None
    scheme, _, key = value.partition(" ")
    return key.strip() if scheme == API_KEY_SCHEME else ""


def _key_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class PolicyServer:
    """`await start()`, then clients connect; `await stop()` closes everything."""

    def __init__(self, policy: Policy, config: ServerConfig | None = None) -> None:
        self.policy = policy
        self.config = config or ServerConfig()
        self._metadata = packb(metadata_to_wire(
            policy.metadata, policy_type=self.config.policy_type,
            max_message_bytes=self.config.max_message_bytes,
            api_key_in_first_message=self.config.api_key is not None))
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="policy-infer")
        self._server: Server | None = None
        self._active = 0
        self.requests = 0  # answered requests, for tests and logs
        self.rejected = 0  # bad requests, auth failures, refused connections

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        cfg = self.config
        self._server = await serve(
            self._handle, cfg.host, cfg.port, process_request=self._process_request,
            max_size=cfg.max_message_bytes, compression=None, server_header=None)
        log.info("policy server on ws://%s:%d (%s)", cfg.host, self.port,
                 "API key required" if cfg.api_key else "no API key")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def serve_forever(self, on_ready: Callable[[int], None] | None = None) -> None:
        """Serve until cancelled; `on_ready(port)` runs once the socket listens."""
        await self.start()
        if on_ready is not None:
            on_ready(self.port)
        try:
            await asyncio.Future()
        finally:
            await self.stop()

    # -- handshake --------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            return connection.respond(200, "OK\n")
        if self._active >= self.config.max_connections:
            self.rejected += 1
            return connection.respond(
                503, f"server busy: at most {self.config.max_connections} connections\n")
        if self.config.api_key is not None:
            given = _header_key(request.headers)
            if given is not None and not _key_matches(given, self.config.api_key):
                self.rejected += 1
                return connection.respond(401, "invalid API key\n")
        return None

    async def _authenticate(self, connection: ServerConnection) -> bool:
        """The key from the header (checked above) or from the first message."""
        expected = self.config.api_key
        if expected is None or _header_key(connection.request.headers) is not None:
            return True
        try:
            raw = await asyncio.wait_for(connection.recv(), self.config.auth_timeout)
            msg = unpackb(raw)
            given = msg.get("api_key") if isinstance(msg, dict) else None
        except (TimeoutError, ProtocolError):
            given = None
        if isinstance(given, str) and _key_matches(given, expected):
            return True
        self.rejected += 1
        await connection.send(error_frame(
            "auth", "API key required: send the header 'Authorization: Api-Key <key>' or a "
                    "first message {'api_key': <key>}; the key given is missing or wrong"))
        await connection.close(1008, "invalid API key")
        return False

    # -- requests ---------------------------------------------------------------------------
    async def _handle(self, connection: ServerConnection) -> None:
        self._active += 1
        peer = connection.remote_address
        try:
            if not await self._authenticate(connection):
                return
            await connection.send(self._metadata)
            async for message in connection:
                await connection.send(await self._answer(message))
        except ConnectionClosed as closed:
            log.info("client %s went away: %s", peer, closed)
        finally:
            self._active -= 1

    async def _answer(self, message: str | bytes) -> str | bytes:
        """The response (bytes) or error frame (text) for one message; never raises."""
        if isinstance(message, str):
            self.rejected += 1
            return error_frame("bad_request", "requests must be binary msgpack frames, "
                                              "got a text frame")
        try:
            msg = unpackb(message)
            if msg == RESET_REQUEST:
                return await self._call("reset", self.policy.reset)
            obs = observation_from_wire(msg, self.policy.metadata)
            self.policy.validate(obs)
        except (ProtocolError, PolicyInputError) as err:
            self.rejected += 1
            return error_frame("bad_request", str(err))
        return await self._call("inference", self.policy.infer, obs)

    async def _call(self, what: str, fn: Any, *args: Any) -> str | bytes:
        """Run the policy in the worker thread under the request timeout; never raises."""
        try:
            start = time.perf_counter()
            result = await self._run(fn, *args)
            infer_ms = (time.perf_counter() - start) * 1e3
            reply = packb({"ok": True} if result is None else chunk_to_wire(result, infer_ms))
        except TimeoutError:
            return error_frame("timeout", f"{what} took longer than "
                                          f"{self.config.request_timeout} s")
        except PolicyInputError as err:
            self.rejected += 1
            return error_frame("bad_request", str(err))
        except Exception as err:  # the policy's own failure: report it, keep serving
            log.exception("policy %s failed", what)
            return error_frame("internal", f"{type(err).__name__}: {err}")
        self.requests += 1
        return reply

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, fn, *args)
        return await asyncio.wait_for(future, self.config.request_timeout)


class ServerThread:
    """A `PolicyServer` on its own event loop in a daemon thread (tests, the CLI, demos).

    Use as a context manager; `url` is ready when `start()` returns.
    """

    def __init__(self, policy: Policy, config: ServerConfig | None = None) -> None:
        self.server = PolicyServer(policy, config)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped = asyncio.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="policy-server", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://{self.server.config.host}:{self.server.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"policy server did not start within {timeout} s")
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        try:
            await self.server.start()
        except BaseException as err:  # bind errors etc. go to the starting thread
            self._error = err
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        await self.server.stop()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
