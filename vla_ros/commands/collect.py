"""`vla-ros collect --dataset DIR --tasks seen --episodes N`: parallel scripted-expert demos."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="collect scripted-expert demonstrations in parallel into a LeRobot v3 dataset",
        description="Run the simulator's scripted experts headless in worker processes (one "
        "MuJoCo env each, spawned, MUJOCO_GL=egl) and write one LeRobotDataset v3 from the "
        "parent (the only writer). Episodes are written in a fixed order, so the result "
        "depends on --seed only, not on --workers. By default only successful clean expert "
        "episodes are kept; --keep-failures keeps every episode with per-frame labels "
        "episode.success, failure.mode (codes in meta/failure_modes.json) and failure.active. "
        "A per-task summary is printed and saved as meta/collect_summary.md. Appends to an "
        "existing dataset recorded with the same settings.",
    )
    p.add_argument("--dataset", type=Path, required=True, help="dataset folder (new or same "
                   "settings)")
    p.add_argument("--tasks", default="seen",
                   help="seen | unseen | all | comma-separated task names (default seen)")
    p.add_argument("--episodes", type=int, default=10, help="episodes per task (default 10)")
    p.add_argument("--workers", type=int, default=None,
                   help=f"worker processes (default: CPU count, {os.cpu_count()} here; "
                   "0 = run in this process)")
    p.add_argument("--robot", default="panda", help="panda | so101 (default panda)")
    p.add_argument("--cameras", default="scene,wrist",
                   help="comma-separated sim cameras ('' = none; default scene,wrist)")
    p.add_argument("--image-size", type=int, nargs=2, default=(128, 128), metavar=("H", "W"),
                   help="camera image size (default 128 128)")
    p.add_argument("--fps", type=int, default=20,
                   help="control rate = dataset fps (default 20)")
    p.add_argument("--action", choices=("joint", "ee"), default="joint",
                   help="action column: joint position targets (default) or "
                   "[x y z rx ry rz gripper] end-effector targets")
    p.add_argument("--failures", type=float, default=0.0,
                   help="fraction of each task's episodes run with an injected failure mode "
                   "(default 0)")
    p.add_argument("--keep-failures", action="store_true",
                   help="write every episode (failed and injected ones too) with labels")
    p.add_argument("--seed", type=int, default=0, help="plan seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def print_summary(summary) -> None:
    """The per-task table, with rich when stdout is a terminal, as markdown otherwise."""
    if not sys.stdout.isatty():
        print(summary.markdown())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"collected into {summary.root} ({summary.wall_s:.1f} s)")
    for i, name in enumerate(summary.HEADER):
        table.add_column(name, justify="left" if i == 0 else "right")
    rows = summary.rows()
    for i, row in enumerate(rows):
        table.add_row(*row, end_section=i == len(rows) - 2)
    Console().print(table)
    for error in summary.errors:
        print(f"error: {error}", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    from vla_ros.data.collect import CollectConfig, CollectError, collect, resolve_tasks
    from vla_ros.data.errors import DatasetError

    try:
        config = CollectConfig(
            tasks=resolve_tasks(args.tasks), episodes_per_task=args.episodes, robot=args.robot,
            cameras=tuple(c.strip() for c in args.cameras.split(",") if c.strip()),
            image_size=tuple(args.image_size), control_hz=float(args.fps), seed=args.seed,
            failures=args.failures, keep_failures=args.keep_failures, action=args.action,
            workers=args.workers)
        summary = collect(args.dataset, config, progress=not args.quiet)
    except (CollectError, DatasetError) as exc:
        print(f"vla-ros collect: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vla-ros collect: interrupted; every episode written so far is committed",
              file=sys.stderr)
        return 130
    print_summary(summary)
    if not summary.written:
        print("vla-ros collect: no episode was kept (nothing written)", file=sys.stderr)
        return 1
    print(f"summary saved to {args.dataset / 'meta' / 'collect_summary.md'}")
    return 0
