"""Remote policies: our client against our server on localhost, and what bad clients get.

Every failure case checks two things: the client gets a specific, readable error, and the
server still answers a good client afterwards.
"""

from __future__ import annotations

import pickle
import time

import msgpack
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from vla_ros.policy.remote import RemotePolicy, make_policy
from vla_ros.policy.remote_codec import packb, unpackb
from vla_ros.policy.remote_errors import (
    PolicyTimeout,
    ProtocolError,
    RemoteAuthError,
    RemoteRequestError,
    RemoteServerError,
)
from vla_ros.policy.remote_protocol import observation_to_wire
from vla_ros.policy.remote_server import ServerConfig, ServerThread
from vla_ros.policy.remote_testing import LinearTestPolicy


def _server(policy=None, **config) -> ServerThread:
    return ServerThread(policy or LinearTestPolicy(), ServerConfig(port=0, **config))


def _still_serves(url: str, api_key: str | None = None) -> None:
    policy = LinearTestPolicy()
    with RemotePolicy(url, api_key, timeout=5.0) as client:
        chunk = client.infer(policy.example_observation(seed=9))
    np.testing.assert_allclose(chunk.actions, policy.infer(policy.example_observation(9)).actions)


def _raw(url: str, headers=None):
    conn = connect(url, additional_headers=headers or {}, compression=None, proxy=None)
    conn.__enter__()  # kept open across the test; closed explicitly
    unpackb(conn.recv(timeout=5))  # metadata first
    return conn


def test_round_trip_equals_local_inference_with_features_and_timing():
    local = LinearTestPolicy()
    with _server() as server, RemotePolicy(server.url, timeout=5.0) as client:
        assert client.metadata.action_names == local.metadata.action_names
        assert client.metadata.horizon == local.metadata.horizon
        for seed in range(3):
            obs = local.example_observation(seed=seed, stamp=1.5 + seed)
            remote, expected = client.infer(obs), local.infer(obs)
            np.testing.assert_allclose(remote.actions, expected.actions, rtol=1e-12)
            np.testing.assert_allclose(remote.features, expected.features, rtol=1e-6)
            assert remote.names == expected.names and remote.stamp == obs.stamp
        assert client.last_server_infer_ms >= 0 and client.last_roundtrip_ms > 0
        client.reset()
        assert server.server.requests >= 3


def test_wire_format_is_openpi_msgpack_numpy():
    policy = LinearTestPolicy()
    wire = packb(observation_to_wire(policy.example_observation()))
    raw = msgpack.unpackb(wire, raw=False)  # plain msgpack, no ext types
    image = raw["images"]["scene"]  # openpi's msgpack_numpy: bytes keys, like numpy's own
    assert image[b"__ndarray__"] is True and image[b"dtype"] == "|u1"
    assert list(image[b"shape"]) == [8, 8, 3] and isinstance(image[b"data"], bytes)
    with _server() as server:
        conn = _raw(server.url)
        conn.send(wire)
        reply = msgpack.unpackb(conn.recv(timeout=5), raw=False)
        conn.close()
    assert reply["actions"][b"__ndarray__"] is True
    assert list(reply["actions"][b"shape"]) == [5, 3]
    assert "infer_ms" in reply["server_timing"] and "features" in reply


def test_malformed_msgpack_and_wrong_shapes_are_bad_requests_and_the_server_stays_up():
    policy = LinearTestPolicy()
    with _server() as server:
        conn = _raw(server.url)
        conn.send(b"\xc1\xff not msgpack")
        assert conn.recv(timeout=5).startswith("bad_request:")
        wrong = observation_to_wire(policy.example_observation())
        wrong["state"] = np.zeros(7)
        conn.send(packb(wrong))
        answer = conn.recv(timeout=5)
        assert answer.startswith("bad_request:") and "state" in answer
        bad_image = observation_to_wire(policy.example_observation())
        bad_image["images"]["scene"] = np.zeros((8, 8), np.uint8)
        conn.send(packb(bad_image))
        assert conn.recv(timeout=5).startswith("bad_request:")
        conn.send(packb({"images": {}, "prompt": "no state"}))
        assert conn.recv(timeout=5).startswith("bad_request:")
        # The same connection still works after bad requests.
        conn.send(packb(observation_to_wire(policy.example_observation())))
        assert isinstance(conn.recv(timeout=5), bytes)
        conn.close()
        with RemotePolicy(server.url, timeout=5.0, validate_locally=False) as client:
            obs = policy.example_observation()
            obs.state = np.zeros(2)
            with pytest.raises(RemoteRequestError, match="state"):
                client.infer(obs)
        _still_serves(server.url)


def test_pickle_payload_is_rejected_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with _server() as server:
        conn = _raw(server.url)
        conn.send(pickle.dumps(Exploit()))
        assert conn.recv(timeout=5).startswith("bad_request:")
        # msgpack ext types (a classic object-smuggling route) are refused too.
        conn.send(msgpack.packb({"state": msgpack.ExtType(42, b"\x80\x04payload")}))
        assert conn.recv(timeout=5).startswith("bad_request:")
        conn.send(packb({"state": {"__ndarray__": True, "data": b"\0" * 8, "dtype": "|O",
                                   "shape": [1]}}))
        assert conn.recv(timeout=5).startswith("bad_request:")
        conn.close()
        _still_serves(server.url)
    assert not marker.exists()
    with pytest.raises(ProtocolError):
        unpackb(pickle.dumps(Exploit()))


def test_oversize_message_is_refused_with_a_clear_error():
    policy = LinearTestPolicy(image_size=(64, 64))
    with _server(policy, max_message_bytes=4096) as server:
        with RemotePolicy(server.url, timeout=5.0) as client, \
                pytest.raises(RemoteRequestError, match="at most 4096"):
            client.infer(policy.example_observation())
        conn = _raw(server.url)
        conn.send(b"\x00" * 10_000)  # bypassing the client's own check
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=5)
        assert closed.value.rcvd.code == 1009  # "message too big"
        conn.close()
        small = LinearTestPolicy(image_size=(4, 4))
        with _server(small, max_message_bytes=4096) as other:
            _ = other  # a small request passes the same limit
            with RemotePolicy(other.url, timeout=5.0) as client:
                assert client.infer(small.example_observation()).actions.shape == (5, 3)


def test_wrong_or_missing_api_key_is_refused_and_the_right_one_works():
    with _server(api_key="s3cret") as server:
        with pytest.raises(RemoteAuthError):
            RemotePolicy(server.url, "wrong", timeout=3.0).connect()
        with pytest.raises(RemoteAuthError):
            RemotePolicy(server.url, None, timeout=3.0).connect()
        with pytest.raises(RemoteAuthError):
            RemotePolicy(server.url, "wrong", timeout=3.0, auth="message").infer(
                LinearTestPolicy().example_observation())
        _still_serves(server.url, api_key="s3cret")
        with RemotePolicy(server.url, "s3cret", timeout=3.0, auth="message") as client:
            assert client.infer(LinearTestPolicy().example_observation()).actions.shape == (5, 3)
        assert server.server.rejected >= 3


def test_slow_policy_times_out_and_the_client_never_reads_the_late_chunk():
    slow = LinearTestPolicy(delay=0.6)
    with _server(slow) as server, RemotePolicy(server.url, timeout=0.2) as client:
        with pytest.raises(PolicyTimeout, match="within 0.2"):
            client.infer(slow.example_observation(seed=1))
        slow.delay = 0.0
        time.sleep(0.6)  # the server's one inference worker finishes the abandoned request
        obs = slow.example_observation(seed=2, stamp=3.0)
        chunk = client.infer(obs)  # a fresh connection: the late seed-1 answer is gone
        np.testing.assert_allclose(chunk.actions, slow.infer(obs).actions)


def test_policy_exception_is_an_internal_error_and_the_server_survives():
    policy = LinearTestPolicy(fail_prompt="explode")
    with _server(policy) as server, RemotePolicy(server.url, timeout=5.0) as client:
        with pytest.raises(RemoteServerError, match="explode"):
            client.infer(policy.example_observation(instruction="explode"))
        assert client.infer(policy.example_observation()).actions.shape == (5, 3)


def test_registry_factory_checks_its_arguments(monkeypatch):
    from vla_ros.policy.errors import PolicyConfigError

    with pytest.raises(PolicyConfigError, match="url"):
        make_policy()
    with pytest.raises(PolicyConfigError, match="checkpoint"):
        make_policy("ws://localhost:1", checkpoint="model.safetensors")
    with pytest.raises(PolicyConfigError, match="ws://"):
        make_policy("http://localhost:1")
    monkeypatch.setenv("VLA_ROS_API_KEY", "from-env")
    assert make_policy(host="localhost", port=1).api_key == "from-env"


def test_unreachable_server_is_a_connection_error():
    from vla_ros.policy.remote_errors import RemoteConnectionError

    with pytest.raises((RemoteConnectionError, PolicyTimeout)):
        RemotePolicy("ws://127.0.0.1:9", timeout=1.0).connect()
