"""`vla-ros record --dataset DIR --task NAME --episodes N --operator ...`: demonstrations in sim.

Two ways to record, by operator:
- keyboard | gamepad | spacemouse | scripted: the node graph of
  launch/teleop_record.launch.xml on the local backend (mujoco_sim + teleop_node +
  retarget_node + recorder_node); this command resets the scene, starts an episode through
  the recorder's services, ends it on task success (held `--settle` s) or after
  `--episode-seconds`, and saves it (failed ones only with `--keep-failures`).
- expert: the task's scripted expert driven straight from the sim core
  (vla_ros.sim.rollout, in worker processes as `vla-ros collect` does), no node graph.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

GRAPH_OPERATORS = ("keyboard", "gamepad", "spacemouse", "scripted")
OPERATORS = (*GRAPH_OPERATORS, "expert")
RESET_SERVICES = ("/mujoco_sim/reset", "/retarget_node/reset", "/teleop_node/reset")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="record demonstrations of a sim task into a LeRobot v3 dataset",
        description="Record demonstrations in the MuJoCo simulation. Operators keyboard, "
        "gamepad, spacemouse and scripted run launch/teleop_record.launch.xml on the local "
        "backend (mujoco_sim + teleop_node + retarget_node + recorder_node): each episode the "
        "scene is reset, recorder_node records joint states, camera images and the commanded "
        "joint targets, and the episode ends on task success or after --episode-seconds. "
        "Operator expert does NOT use the node graph: it runs the task's scripted expert "
        "directly on the sim core (vla_ros.sim.rollout) in worker processes, like "
        "`vla-ros collect`, and writes only successful episodes unless --keep-failures.",
    )
    p.add_argument("--dataset", type=Path, required=True, help="dataset folder")
    p.add_argument("--task", required=True, help="task of vla_ros.sim.tasks, e.g. pick_cube")
    p.add_argument("--episodes", type=int, default=5, help="episodes to record (default 5)")
    p.add_argument("--operator", choices=OPERATORS, default="keyboard",
                   help="who drives the robot (default keyboard)")
    p.add_argument("--robot", default="panda", help="panda | so101")
    p.add_argument("--seed", type=int, default=0, help="first layout seed (default 0)")
    p.add_argument("--fps", type=int, default=20,
                   help="dataset fps (default 20, as vla-ros collect; the sim cameras publish "
                   "at this rate, the expert controls at it)")
    p.add_argument("--episode-seconds", type=float, default=60.0,
                   help="longest episode with the node graph, in sim seconds (default 60)")
    p.add_argument("--settle", type=float, default=1.0,
                   help="s the task must stay solved before the episode ends (default 1)")
    p.add_argument("--keep-failures", action="store_true",
                   help="also save episodes whose task did not succeed")
    p.add_argument("--real-time-factor", type=float, default=None,
                   help="sim speed vs wall clock with the node graph (default 1.0 for human "
                   "operators, as fast as possible for scripted)")
    p.add_argument("--bag", help="node graph only: also write every topic to this rosbag2 "
                   "MCAP folder")
    p.add_argument("--workers", type=int, default=None,
                   help="expert only: worker processes (default: CPU count)")
    p.add_argument("--quiet", action="store_true", help="expert only: no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from vla_ros.sim.tasks import UnknownTaskError, get_task

    try:
        get_task(args.task)
    except UnknownTaskError as exc:
        print(f"vla-ros record: {exc}", file=sys.stderr)
        return 2
    if args.episodes < 1:
        print("vla-ros record: --episodes must be >= 1", file=sys.stderr)
        return 2
    if args.operator == "expert":
        return record_expert(args)
    return record_with_nodes(args)


def record_expert(args: argparse.Namespace) -> int:
    from vla_ros.commands.collect import print_summary
    from vla_ros.data.collect import CollectConfig, CollectError, collect
    from vla_ros.data.errors import DatasetError

    try:
        config = CollectConfig(tasks=(args.task,), episodes_per_task=args.episodes,
                               robot=args.robot, control_hz=float(args.fps),
                               seed=args.seed, keep_failures=args.keep_failures,
                               workers=args.workers)
        summary = collect(args.dataset, config, progress=not args.quiet)
    except (CollectError, DatasetError) as exc:
        print(f"vla-ros record: {exc}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 0 if summary.written else 1


def record_with_nodes(args: argparse.Namespace) -> int:
    from vla_ros.commands.launch import find_launch_file
    from vla_ros.data.errors import DatasetError
    from vla_ros.runtime import Node, msgs
    from vla_ros.runtime.entry import configure_logging
    from vla_ros.runtime.launch import LaunchError
    from vla_ros.runtime.launcher import launch_local
    from vla_ros.runtime.local import LocalContext
    from vla_ros.sim.tasks import get_task

    configure_logging("warn")
    rtf = args.real_time_factor
    if rtf is None and args.operator != "scripted":
        rtf = 1.0
    launch_args = {"robot": args.robot, "task": args.task, "seed": str(args.seed),
                   "device": args.operator, "dataset": str(args.dataset),
                   "fps": str(args.fps),
                   "camera_rate_hz": str(float(args.fps))}
    saved = 0
    wall = time.perf_counter()
    # --bag tees every topic of the graph (the context's tee), not only the recorded ones
    with LocalContext(sim_time=True, real_time_factor=rtf, isolate_crashes=True,
                      bag_path=args.bag) as ctx:
        try:
            launch_local(find_launch_file("teleop_record.launch.xml"), launch_args, ctx)
        except (DatasetError, LaunchError) as exc:  # wrong dataset folder, no terminal, ...
            print(f"vla-ros record: {exc}", file=sys.stderr)
            return 2
        probe = Node("record_operator", context=ctx)
        success = {"value": False, "since": None}

        def on_success(msg) -> None:
            if msg.data and success["since"] is None:
                success["since"] = ctx.clock.now_ns() * 1e-9
            elif not msg.data:
                success["since"] = None
            success["value"] = bool(msg.data)

        probe.create_subscription(msgs.Bool, "sim/task_success", on_success, 10)
        clients = {s: probe.create_client(msgs.Trigger, s) for s in
                   (*RESET_SERVICES, "/recorder_node/start_episode",
                    "/recorder_node/stop_episode", "/recorder_node/discard_episode")}

        def call(name: str):
            client = clients[name]
            if not client.service_is_ready():
                return None
            future = client.call_async(msgs.Trigger.Request())
            ctx.spin_until_future_complete(future)
            return future.result()

        limit = min(args.episode_seconds, 4 * get_task(args.task).time_limit) \
            if args.operator == "scripted" else args.episode_seconds
        print(f"recording {args.episodes} episode(s) of {args.task} with {args.operator} into "
              f"{args.dataset}; an episode ends on success (held {args.settle:g} s) or after "
              f"{limit:g} s (Ctrl-C discards the episode in progress)", flush=True)
        try:
            for i in range(args.episodes):
                for name in RESET_SERVICES:
                    call(name)
                success.update(value=False, since=None)
                ctx.spin_for(0.5)  # let the reset scene reach the recorder
                started = call("/recorder_node/start_episode")
                if started is None or not started.success:
                    why = started.message if started else "recorder_node is not running"
                    print(f"vla-ros record: cannot start an episode: {why}", file=sys.stderr)
                    return 1
                t0 = ctx.clock.now_ns() * 1e-9
                while ctx.clock.now_ns() * 1e-9 - t0 < limit:
                    ctx.spin_for(0.1)
                    since = success["since"]
                    if since is not None and ctx.clock.now_ns() * 1e-9 - since >= args.settle:
                        break
                ok = success["value"]
                if ok or args.keep_failures:
                    result = call("/recorder_node/stop_episode")
                else:
                    result = call("/recorder_node/discard_episode")
                saved += bool(result and result.success and "saved" in result.message)
                print(f"{i:>3}  {'success' if ok else 'failure':8} "
                      f"{ctx.clock.now_ns() * 1e-9 - t0:6.1f} s  "
                      f"{result.message if result else 'recorder_node is gone'}", flush=True)
        except KeyboardInterrupt:
            print("\nvla-ros record: interrupted; the episode in progress is discarded",
                  file=sys.stderr)
    print(f"saved {saved} of {args.episodes} episode(s) into {args.dataset} in "
          f"{time.perf_counter() - wall:.1f} s")
    return 0 if saved else 1
