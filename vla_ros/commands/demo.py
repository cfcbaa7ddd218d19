"""`vla-ros demo`: the whole stack in simulation on the local backend, recorded.

launch/sim.launch.xml starts mujoco_sim, perception_node, policy_node, retarget_node and
failure_detector in one process under sim time. The demo then runs a few episodes of
the task suite in closed loop (camera -> policy -> retargeting -> simulated controllers),
prints success per episode, and writes what a person wants to look at: an mp4 of the
scene camera, an image strip per episode, a rosbag2 MCAP of every topic and, for a last
episode with an injected fault, the failure score against its conformal band.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from vla_ros.commands.stack import StackEpisode, camera_fps, launch_stack, run_stack_episode
from vla_ros.runtime.bag import bag_summary
from vla_ros.runtime.entry import configure_logging
from vla_ros.runtime.local import LocalContext

DEFAULT_TASKS = "pick_cube,open_drawer,close_drawer"  # the first one also gets the fault


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="run the whole stack in simulation and record it",
        description="Launch sim.launch.xml on the local backend (MuJoCo sim, perception, "
        "policy, retargeting, failure detector), run episodes of the task suite in closed "
        "loop, print success per episode and write a video, image strips, a score plot and "
        "a rosbag2 MCAP of every topic.")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument("--robot", default="panda", help="robot (panda | so101)")
    p.add_argument("--tasks", default=DEFAULT_TASKS,
                   help=f"comma-separated tasks, one episode each (default: {DEFAULT_TASKS})")
    p.add_argument("--seed", type=int, default=100, help="layout seed of the first episode")
    p.add_argument("--fault", default="occlusion",
                   help="fault of a last extra episode (the first task again) the detector "
                   "should halt (camera_noise | occlusion | perturbation | none; default "
                   "occlusion: a patch hides the object the policy reaches for)")
    p.add_argument("--checkpoint", default="",
                   help="policy checkpoint folder (default: the shipped checkpoints/...)")
    p.add_argument("--detector", default="",
                   help="failure detector folder (default: checkpoints/detector, trained on "
                   "the shipped policy's rollouts, when the policy is the shipped one)")
    p.add_argument("--no-bag", action="store_true", help="do not record the MCAP bag")
    p.set_defaults(func=main)


def shipped_detector(policy_checkpoint: str) -> str:
    """checkpoints/detector when it exists and the policy is the shipped one it was
    trained for ('' = detection off: a detector only reads its own policy's features)."""
    from vla_ros.policy.vla import default_checkpoint_path

    default = default_checkpoint_path().resolve()
    folder = default.parent / "detector"
    same_policy = not policy_checkpoint or Path(policy_checkpoint).resolve() == default
    return str(folder) if same_policy and (folder / "config.json").is_file() else ""


def write_outputs(out: Path, episodes: list[StackEpisode], fps: int) -> list[Path]:
    """mp4 of all episodes, a strip PNG per episode, the score plot of scored episodes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vla_ros.data.video import write_mp4

    written = []
    frames = [f for e in episodes for f in e.frames]
    if frames:
        written.append(write_mp4(out / "demo.mp4", frames, fps))
    for i, e in enumerate(episodes):
        if e.frames:
            picks = np.linspace(0, len(e.frames) - 1, min(6, len(e.frames))).astype(int)
            strip = np.concatenate([e.frames[k] for k in picks], axis=1)
            path = out / f"episode_{i:02d}_{e.task}.png"
            plt.imsave(path, strip)
            written.append(path)
        if e.scores:
            t, score, band = (np.array(c) for c in zip(*e.scores, strict=True))
            fig, ax = plt.subplots(figsize=(7, 3.2))
            ax.plot(t, score, label="failure score")
            ax.plot(t, band, "--", label="conformal band")
            if e.halted_at is not None:
                ax.axvline(e.halted_at, color="red", label=f"halt at {e.halted_at:.2f} s")
            ax.set_xlabel("episode time [s]")
            ax.set_title(f"{e.task}: {'success' if e.success else 'failure'}")
            ax.legend(loc="upper left")
            fig.tight_layout()
            path = out / f"episode_{i:02d}_{e.task}_score.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written


def main(args: argparse.Namespace) -> int:
    from vla_ros.sim.tasks import TASKS, get_task

    configure_logging("error")  # per-episode results are printed; warnings go to the bag
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise SystemExit(f"vla-ros demo: unknown task(s) {unknown}; tasks: {sorted(TASKS)}")
    fault = "" if args.fault in ("", "none") else args.fault
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bag = None if args.no_bag else out / "bag"
    if bag is not None and bag.exists():
        shutil.rmtree(bag)
    plan = [(t, "") for t in tasks] + ([(tasks[0], fault)] if fault else [])
    detector = args.detector or shipped_detector(args.checkpoint)
    episodes: list[StackEpisode] = []
    wall = time.perf_counter()
    with LocalContext(sim_time=True, bag_path=bag, isolate_crashes=True) as context:
        nodes, probe = launch_stack(context, {
            "robot": args.robot, "task": tasks[0], "seed": str(args.seed),
            "policy_checkpoint": args.checkpoint, "detector_checkpoint": detector})
        sim = nodes["mujoco_sim"]
        fps = camera_fps(sim)
        print(f"{'#':>2}  {'task':22} {'fault':12} {'result':8} {'time':>6} {'chunks':>6}  "
              "instruction")
        for i, (task, episode_fault) in enumerate(plan):
            try:
                e = run_stack_episode(context, sim, probe, task, get_task(task).time_limit,
                                      fault=episode_fault)
            except ValueError as exc:
                raise SystemExit(f"vla-ros demo: {exc}") from None
            episodes.append(e)
            result = "success" if e.success else "failure"
            if e.halted_at is not None:
                result = f"halted@{e.halted_at:.1f}s"
            print(f"{i:>2}  {task:22} {episode_fault or '-':12} {result:8} "
                  f"{e.duration:5.1f}s {e.chunk_count:6d}  {e.instruction}", flush=True)
    wall = time.perf_counter() - wall
    clean = [e for e in episodes[: len(tasks)]]
    print(f"\nsuccess {sum(e.success for e in clean)}/{len(clean)} clean episodes; "
          f"{sum(e.duration for e in episodes):.1f} s sim time in {wall:.1f} s wall")
    for path in write_outputs(out, episodes, fps):
        print(f"wrote {path}")
    if bag is not None:
        print(f"wrote {bag} (rosbag2 MCAP):")
        for topic, (type_name, count) in sorted(bag_summary(bag).items()):
            print(f"  {topic:36} {type_name:36} {count:6d} msgs")
    return 0
