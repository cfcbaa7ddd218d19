"""`vla-ros topics list|echo`: inspect a recorded bag or a launch file's live graph."""

from __future__ import annotations

import argparse
import itertools

from vla_ros.runtime.bag import bag_summary, read_bag


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("topics", help="list or echo topics of a bag or of a launched graph",
                       description="Inspect topics. With --bag, read a rosbag2 folder; with "
                       "--launch, run that launch file for --duration seconds of sim time and "
                       "inspect the live local graph.")
    p.add_argument("action", choices=["list", "echo"])
    p.add_argument("topic", nargs="?", help="topic to echo")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--bag", help="rosbag2 folder (MCAP or sqlite3)")
    source.add_argument("--launch", help="launch file to run locally")
    p.add_argument("--duration", type=float, default=2.0, help="sim seconds to run --launch")
    p.add_argument("-n", "--count", type=int, default=5, help="messages to echo")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.action == "echo" and not args.topic:
        raise ValueError("topics echo needs a topic name")
    if args.bag:
        return _from_bag(args)
    return _from_launch(args)


def _from_bag(args: argparse.Namespace) -> int:
    if args.action == "list":
        for topic, (type_name, count) in sorted(bag_summary(args.bag).items()):
            print(f"{topic} [{type_name}] {count} msgs")
        return 0
    for message in itertools.islice(read_bag(args.bag, {args.topic}), args.count):
        print(f"--- t={message.stamp_ns / 1e9:.6f} s")
        print(message.msg)
    return 0


def _from_launch(args: argparse.Namespace) -> int:
    from vla_ros.commands.launch import find_launch_file
    from vla_ros.runtime import Node, msgs
    from vla_ros.runtime.launcher import launch_local
    from vla_ros.runtime.local import LocalContext

    with LocalContext(sim_time=True) as context:
        launch_local(find_launch_file(args.launch), {}, context)
        if args.action == "list":
            context.spin_for(args.duration)
            for topic, types in context.topic_names_and_types():
                print(f"{topic} [{types[0]}]")
            return 0
        types = dict(context.topic_names_and_types())
        if args.topic not in types:
            raise ValueError(f"no topic {args.topic}; topics: {sorted(types)}")
        seen: list = []
        probe = Node("topics_echo", context=context)
        probe.create_subscription(msgs.MsgType(types[args.topic][0]), args.topic, seen.append, 100)
        context.spin_until(lambda: len(seen) >= args.count, args.duration)
        for msg in seen[: args.count]:
            print("---")
            print(msg)
    return 0
