"""Exceptions of the remote policy client and server.

Kept free of websockets/msgpack imports so a node can catch `PolicyTimeout` (and hold
instead of executing a stale chunk) without loading the network stack.
"""

from __future__ import annotations

from vla_ros.policy.errors import PolicyError


class RemotePolicyError(PolicyError):
    """Base class of every problem talking to a policy server."""


class ProtocolError(RemotePolicyError, ValueError):
    """A message that is not valid msgpack-numpy, or not the shape the protocol expects."""


class RemoteRequestError(RemotePolicyError, ValueError):
    """The server rejected a request as malformed (its reason is in the message)."""


class RemoteAuthError(RemotePolicyError):
    """The server refused the API key (missing or wrong)."""


class RemoteServerError(RemotePolicyError):
    """The policy on the server failed while computing a chunk."""


class RemoteConnectionError(RemotePolicyError, ConnectionError):
    """The server cannot be reached, or dropped the connection and retrying did not help."""


class PolicyTimeout(PolicyError, TimeoutError):  # noqa: N818 - the name callers catch
    """No chunk arrived in time: the caller must hold, not fall back to an old chunk."""
