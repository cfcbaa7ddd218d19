"""Success table of the scripted experts: every task, N seeds, per robot.

    python -m vla_ros.sim.evaluate_experts --seeds 20                  # Panda and SO-101
    python -m vla_ros.sim.evaluate_experts --robot so101 --tasks stack_cubes --seeds 5
    python -m vla_ros.sim.evaluate_experts --failure early_release --seeds 5

Seeds are 0..N-1, so a row is reproducible. The exit status is 1 when a task's success
rate is below `--min-rate` (default 0.9, the acceptance bar for clean experts), which lets
CI or a pre-recording check use it as a gate. Tasks a robot cannot do are listed with
the reason instead of a rate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from vla_ros.sim.failures import FAILURE_MODES
from vla_ros.sim.robots import ROBOTS
from vla_ros.sim.tasks import TASKS, UNSUPPORTED, get_task


@dataclass
class TaskResult:
    """Outcome of one task over a set of seeds on one robot."""

    robot: str
    task: str
    split: str
    seeds: int
    successes: int
    failed_seeds: list[int]
    mean_episode_s: float  # simulated seconds per episode
    wall_s_per_episode: float
    unsupported: str | None = None  # reason, when the robot cannot do the task

    @property
    def rate(self) -> float:
        return self.successes / self.seeds if self.seeds else 0.0


def evaluate(robot: str, tasks: Sequence[str], seeds: int, failure: str | None = None,
             progress: Callable[[TaskResult], None] | None = None) -> list[TaskResult]:
    """Run the expert on `tasks` x seeds 0..seeds-1 on `robot` (one env reused)."""
    from vla_ros.sim.env import SimEnv
    from vla_ros.sim.rollout import run_expert_episode

    env = SimEnv(robot)
    results = []
    for name in tasks:
        spec = get_task(name)
        reason = UNSUPPORTED.get(robot, {}).get(name)
        if reason is not None:
            result = TaskResult(robot, name, spec.split, 0, 0, [], 0.0, 0.0, reason)
        else:
            ok, failed, sim_s = 0, [], 0.0
            t0 = time.perf_counter()
            for seed in range(seeds):
                rollout = run_expert_episode(env, spec, seed, failure=failure)
                ok += rollout.success
                sim_s += rollout.duration
                if not rollout.success:
                    failed.append(seed)
            wall = (time.perf_counter() - t0) / max(seeds, 1)
            result = TaskResult(robot, name, spec.split, seeds, ok, failed,
                                sim_s / max(seeds, 1), wall)
        results.append(result)
        if progress is not None:
            progress(result)
    env.close()
    return results


def format_row(r: TaskResult) -> str:
    if r.unsupported:
        return f"| {r.robot} | {r.task} | {r.split} | n/a | - | {r.unsupported} |"
    failed = ", ".join(map(str, r.failed_seeds[:8])) + (" ..." if len(r.failed_seeds) > 8
                                                        else "")  # fmt: skip
    return (f"| {r.robot} | {r.task} | {r.split} | {r.successes}/{r.seeds} | "
            f"{100 * r.rate:.0f} % | {r.mean_episode_s:.1f} s sim, "
            f"{r.wall_s_per_episode:.2f} s wall/episode"
            + (f"; failed seeds {failed}" if failed else "") + " |")


HEADER = ("| robot | task | split | successes | rate | notes |\n"
          "|---|---|---|---|---|---|")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robot", nargs="+", default=["panda", "so101"],
                        choices=sorted(ROBOTS))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS),
                        help="task names (default: all)")
    parser.add_argument("--failure", choices=FAILURE_MODES, default=None,
                        help="inject this failure mode (rates then measure failures)")
    parser.add_argument("--min-rate", type=float, default=0.9)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    for name in args.tasks:
        get_task(name)  # unknown names fail before any simulation
    print(HEADER, flush=True)
    results: list[TaskResult] = []
    for robot in args.robot:
        results += evaluate(robot, args.tasks, args.seeds, args.failure,
                            progress=lambda r: print(format_row(r), flush=True))
    rated = [r for r in results if not r.unsupported]
    total = sum(r.successes for r in rated), sum(r.seeds for r in rated)
    print(f"\noverall {total[0]}/{total[1]} "
          f"({100 * total[0] / max(total[1], 1):.1f} %)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) | {"rate": r.rate} for r in results], f, indent=1)
    below = [r for r in rated if r.rate < args.min_rate]
    if args.failure is None and below:
        print("below " + f"{100 * args.min_rate:.0f} %: "
              + ", ".join(f"{r.robot}/{r.task}" for r in below), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
