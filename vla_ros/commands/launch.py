"""`vla-ros launch FILE [name:=value ...]`: a ROS 2 XML launch file on the local backend."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vla_ros.assets import share_dir
from vla_ros.runtime.entry import configure_logging
from vla_ros.runtime.launcher import launch_local
from vla_ros.runtime.local import LocalContext


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "launch",
        help="run an XML launch file on the local backend",
        description="Interpret a ROS 2 XML launch file (the same file `ros2 launch` runs) and "
        "run its vla_ros nodes in this process. A bare file name is looked up in the "
        "package's launch/ folder.",
    )
    p.add_argument("file", help="launch file path, or a name in vla_ros/launch/")
    p.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many seconds of (sim) time; default: until Ctrl-C")
    p.add_argument("--wall-time", action="store_true",
                   help="use the wall clock instead of the sim clock")
    p.add_argument("--real-time-factor", type=float, default=None,
                   help="pace sim time to wall time times this factor (default: as fast as "
                   "possible with --duration, 1.0 without)")
    p.add_argument("--bag", help="tee every topic into this rosbag2 MCAP folder")
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=main)


def find_launch_file(name: str) -> Path:
    path = Path(name)
    if path.is_file():
        return path
    candidate = share_dir("vla_ros") / "launch" / name
    if candidate.is_file():
        return candidate
    raise FileNotFoundError(f"launch file '{name}' not found (looked in . and {candidate.parent})")


def parse_arguments(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise ValueError(f"launch argument '{item}' must look like name:=value")
        out[name] = value
    return out


def main(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    rtf = args.real_time_factor
    if rtf is None and args.duration is None and not args.wall_time:
        rtf = 1.0
    context = LocalContext(sim_time=not args.wall_time, bag_path=args.bag, real_time_factor=rtf,
                           isolate_crashes=True)
    try:
        nodes = launch_local(find_launch_file(args.file), parse_arguments(args.arguments),
                             context)
        print(f"launched {len(nodes)} node(s): "
              + ", ".join(n.get_fully_qualified_name() for n in nodes))
        start = time.perf_counter()
        if args.duration is None:
            context.spin()
        else:
            context.spin_for(args.duration)
        print(f"ran {context.clock.now().seconds:.2f} s of "
              f"{'sim' if context.use_sim_time else 'wall'} time in "
              f"{time.perf_counter() - start:.2f} s wall")
    finally:
        context.shutdown()
    if args.bag:
        print(f"bag written to {args.bag}")
    return 0
