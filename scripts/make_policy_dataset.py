"""Record Panda scripted-expert demonstrations of the *seen* tasks into a LeRobotDataset v3.

This is the training set of the shipped default checkpoint (checkpoints/default). Only
successful expert episodes are written. Per frame: state = the 9 Panda joint positions
(arm + fingers, as on `joint_states`), action = the expert's end-effector target
[x y z rx ry rz gripper] (the names of retarget's default `ee` action space, so the
checkpoint's chunks drive retarget_node unchanged), images = scene + wrist cameras.

The rotation vector of a gripper pointing down sits near |r| = pi, where r and
-r (2 pi - |r|)/|r| are the same rotation: left as the expert writes it, the targets
flip sign between episodes and a regression would average them into nonsense. Actions
are stored in the representative nearest to the straight-down reference (pi, 0, 0).

    nice -n 10 .venv/bin/python scripts/make_policy_dataset.py --out data/seen_demos \
        --episodes-per-task 20 --seed 0

With `--dart-std/--dart-yaw-std` the executed path is perturbed (DART); with `--policy CKPT
--takeover MIN MAX` a checkpoint drives the first seconds and the expert takes over from
the scene it left (DAgger-style; docs/policy.md).

(`vla-ros collect --action ee` writes the same layout once it lands; this script keeps
the rotation canonicalisation that the default checkpoint was trained with.)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

EE_ACTION_NAMES = ["x", "y", "z", "rx", "ry", "rz", "gripper"]
DOWN = np.array([np.pi, 0.0, 0.0])


def canonical_rotvec(rotvec: np.ndarray, reference: np.ndarray = DOWN) -> np.ndarray:
    """The rotation vector of the same rotation closest to `reference` (rows: (N, 3))."""
    rv = np.atleast_2d(np.asarray(rotvec, dtype=np.float64))
    angle = np.linalg.norm(rv, axis=1, keepdims=True)
    safe = np.where(angle > 1e-9, angle, 1.0)
    alt = -rv / safe * (2 * np.pi - angle)
    pick_alt = (np.linalg.norm(alt - reference, axis=1)
                < np.linalg.norm(rv - reference, axis=1)) & (angle[:, 0] > 1e-9)
    return np.where(pick_alt[:, None], alt, rv)


def ee_actions(action_ee: np.ndarray) -> np.ndarray:
    out = np.array(action_ee, dtype=np.float64)
    out[:, 3:6] = canonical_rotvec(out[:, 3:6])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tasks", default="seen", help="'seen', 'unseen' or comma-separated names")
    p.add_argument("--episodes-per-task", type=int, default=20)
    p.add_argument("--image-size", type=int, default=128, help="square camera size (px)")
    p.add_argument("--control-hz", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--first-episode", type=int, default=0,
                   help="episode index to start at: more demos of the same tasks on new layouts "
                        "(e.g. 20 after a first run of 20)")
    p.add_argument("--dart-std", type=float, default=0.0,
                   help="DART: executed TCP targets get a slowly varying offset of this many "
                        "metres (recorded actions stay the expert's), so the data shows how to "
                        "get back onto the path; 0 = clean demonstrations")
    p.add_argument("--dart-yaw-std", type=float, default=0.0,
                   help="DART: the same kind of offset on the gripper's yaw, in radians")
    p.add_argument("--policy", type=Path, default=None,
                   help="DAgger-style takeover data: this checkpoint drives the first "
                        "seconds of each episode (--takeover), then the expert takes over "
                        "from wherever the policy left the scene; only the expert's part is "
                        "recorded, and episodes the policy already solved are skipped")
    p.add_argument("--takeover", type=float, nargs=2, default=(1.0, 8.0),
                   metavar=("MIN_S", "MAX_S"),
                   help="with --policy: takeover time drawn uniformly in this window (s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for --policy")
    p.add_argument("--background-fixture-prob", type=float, default=0.0, metavar="P",
                   help="share of the loose-object episodes recorded with an unused cabinet "
                        "(drawer or door, random opening) behind the workspace and the "
                        "objects on the strip in front of it; 0 = the usual scenes")
    args = p.parse_args(argv)
    if not 0.0 <= args.background_fixture_prob <= 1.0:
        p.error(f"--background-fixture-prob must be in [0, 1], got "
                f"{args.background_fixture_prob}")
    if not 0.0 <= args.takeover[0] <= args.takeover[1]:
        p.error(f"--takeover needs 0 <= MIN_S <= MAX_S, got {args.takeover}")
    os.environ.setdefault("MUJOCO_GL", "egl")

    from vla_ros.data import DatasetWriter
    from vla_ros.sim.env import SimEnv
    from vla_ros.sim.rollout import ExecutionPerturbation, run_expert_episode
    from vla_ros.sim.tasks import SPLITS, LayoutError, get_task, tasks_in_split

    tasks = (tasks_in_split(args.tasks) if args.tasks in SPLITS
             else [t.strip() for t in args.tasks.split(",") if t.strip()])
    cams = ("scene", "wrist")
    size = (args.image_size, args.image_size)
    # all-zero stds are inactive: run_expert_episode then records clean demonstrations
    perturbation = ExecutionPerturbation(std=args.dart_std, yaw_std=args.dart_yaw_std)
    loop = _policy_loop(args.policy, args.threads) if args.policy is not None else None
    env = loop.env if loop is not None else SimEnv("panda")
    writer = None
    written, tried, solved = 0, 0, 0
    start = time.perf_counter()
    try:
        for task in tasks:
            # the layout seed depends on the task's place in its split, not in --tasks, so
            # recording a subset (or in parallel) gives the same episodes as one full run
            t_index = tasks_in_split(get_task(task).split).index(task)
            kept = 0
            for i in range(args.first_episode, args.first_episode + args.episodes_per_task):
                seed = args.seed * 100_000 + t_index * 1000 + i
                tried += 1
                prefix = None
                if loop is not None:
                    prefix = _Takeover(loop, seed, args.takeover)
                background = (get_task(task).target_kind in ("cube", "cylinder")
                              and np.random.default_rng([seed, 4]).random()
                              < args.background_fixture_prob)
                try:
                    roll = run_expert_episode(env, task, seed, control_hz=args.control_hz,
                                              cameras=cams, image_size=size,
                                              perturbation=perturbation, prefix=prefix,
                                              background_fixture=background)
                except LayoutError as exc:  # a bowl or bin may not fit before a cabinet
                    print(f"{task} seed {seed}: skipped, {exc}", flush=True)
                    continue
                if roll is None:  # the policy solved it before the takeover: no expert run
                    solved += 1
                    continue
                if not roll.success:
                    continue
                if writer is None:
                    writer = DatasetWriter(args.out, fps=int(round(1 / roll.control_dt)),
                                           state_names=list(roll.joint_names),
                                           action_names=EE_ACTION_NAMES,
                                           cameras={c: size for c in cams}, robot_type="panda")
                actions = ee_actions(roll.action_ee)
                for k in range(len(roll.times)):
                    writer.add_frame(roll.joint_positions[k], actions[k],
                                     images={c: roll.images[c][k] for c in cams},
                                     task=roll.instruction)
                writer.save_episode()
                kept += 1
                written += 1
            print(f"{task}: {kept}/{args.episodes_per_task} successful episodes written "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    finally:
        if writer is not None:
            writer.close()
        env.close()
    skipped = f", {solved} skipped: the policy solved them before the takeover" if loop else ""
    print(f"{written}/{tried} episodes in {args.out}{skipped} "
          f"({time.perf_counter() - start:.0f} s)")
    return 0 if written else 1


def _policy_loop(checkpoint: Path, threads: int):
    """The built-in policy on its own simulator, executing chunks as `vla-ros eval` does."""
    import torch

    from vla_ros.policy.evaluate import ClosedLoop
    from vla_ros.policy.registry import make_policy

    torch.set_num_threads(max(1, threads))
    return ClosedLoop(make_policy("builtin", checkpoint=str(checkpoint), device="cpu"))


class _Takeover:
    """run_expert_episode's prefix: the policy drives until a takeover time drawn from the
    layout seed (so reruns record the same data). Returns False (nothing for the expert to
    do: run_expert_episode stops) when the policy succeeded before that; `solved` says so."""

    def __init__(self, loop, seed: int, window: tuple[float, float]) -> None:
        self.loop, self.seed = loop, seed
        self.seconds = float(np.random.default_rng([seed, 7]).uniform(*window))
        self.solved = False

    def __call__(self, spec, instance) -> bool:
        self.solved = self.loop.run(spec, instance, self.seconds, seed=self.seed).success
        return not self.solved


if __name__ == "__main__":
    sys.exit(main())
