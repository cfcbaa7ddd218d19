"""`vla-ros serve-policy`: serve a policy over websocket with openpi's protocol.

Run it on the machine with the accelerator; robots connect with policy type ``remote``
(or any openpi client). See docs/remote_policy.md for the protocol and security notes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from vla_ros.commands import json_object_option
from vla_ros.policy.interface import Policy

API_KEY_ENV = "VLA_ROS_API_KEY"
TEST_POLICY = "linear-test"  # a tiny deterministic policy for trying a set-up end to end


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve-policy",
        help="serve a policy over websocket (openpi protocol)",
        description="Serve any vla_ros policy to remote clients over websocket with openpi's "
        "msgpack-numpy protocol. Clients: policy type 'remote' or openpi's client. "
        f"The API key may also come from ${API_KEY_ENV} (keeps it out of shell history).",
    )
    p.add_argument("--policy", required=True,
                   help=f"policy type from vla_ros.policy.registry (builtin, lerobot, ...), "
                        f"or '{TEST_POLICY}'")
    p.add_argument("--checkpoint", default="", help="checkpoint folder of the policy")
    p.add_argument("--policy-args", default="",
                   help="JSON object of extra options for the policy factory")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default loopback; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--api-key", default=None,
                   help=f"require this key from clients (default: ${API_KEY_ENV} if set)")
    p.add_argument("--max-message-mb", type=float, default=16.0,
                   help="largest accepted message in MiB (default 16)")
    p.add_argument("--max-connections", type=int, default=4,
                   help="simultaneous clients (default 4)")
    p.add_argument("--request-timeout", type=float, default=30.0,
                   help="seconds one inference may take before the client gets a timeout")
    p.set_defaults(func=main)


def build_policy(policy_type: str, checkpoint: str, policy_args: str) -> Policy:
    options = json_object_option("--policy-args", policy_args, empty_ok=True)
    if policy_type == TEST_POLICY:
        from vla_ros.policy.remote_testing import LinearTestPolicy

        return LinearTestPolicy(**options)
    if policy_type == "remote":
        raise ValueError("serving a 'remote' policy would only relay another server; "
                         "serve the policy where it runs")
    from vla_ros.policy.registry import make_policy

    if checkpoint:
        options.setdefault("checkpoint", checkpoint)
    return make_policy(policy_type, **options)


def main(args: argparse.Namespace) -> int:
    from vla_ros.policy.remote_server import PolicyServer, ServerConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) or None
    config = ServerConfig(
        host=args.host, port=args.port, api_key=api_key,
        max_message_bytes=int(args.max_message_mb * 1024 * 1024),
        max_connections=args.max_connections, request_timeout=args.request_timeout,
        policy_type=args.policy,
    )
    policy = build_policy(args.policy, args.checkpoint, args.policy_args)
    meta = policy.metadata

    def ready(port: int) -> None:
        print(f"serving {args.policy} policy ({meta.action_dim} actions x {meta.horizon} steps, "
              f"cameras {list(meta.cameras)}) on ws://{args.host}:{port}"
              f"{' with API key' if api_key else ''}; Ctrl-C stops", flush=True)

    asyncio.run(PolicyServer(policy, config).serve_forever(on_ready=ready))
    return 0
