"""`vla-ros run NODE [--ros-args ...]`: one node on the local backend."""

from __future__ import annotations

import argparse

from vla_ros.runtime.entry import node_class, run_local


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run one vla_ros node on the local backend",
        description="Run a vla_ros node in this process (no ROS needed). ROS-style arguments "
        "work as with `ros2 run`: --ros-args -p name:=value -r from:=to --params-file FILE.",
    )
    p.add_argument("node", help="node executable, e.g. retarget_node")
    p.add_argument("--sim-time", action="store_true",
                   help="run on a sim clock paced at real time (default: wall clock)")
    p.add_argument("--bag", help="tee every topic into this rosbag2 MCAP folder")
    p.set_defaults(func=main, accepts_extra=True)


def main(args: argparse.Namespace) -> int:
    return run_local(node_class(args.node), args.extra,
                     sim_time=True if args.sim_time else None, bag=args.bag)
