"""`vla-ros eval --policy CKPT --tasks seen|unseen --episodes N`: closed-loop success rates."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vla_ros.commands import json_object_option
from vla_ros.provenance import software_versions


def register(sub: argparse._SubParsersAction) -> None:
    from vla_ros.policy.evaluate import EvalConfig  # light: numpy only

    p = sub.add_parser(
        "eval",
        help="closed-loop evaluation of a policy on the simulated task suite",
        description="Run a policy in closed loop on the MuJoCo tasks: through the real nodes "
        "(--runner nodes: sim.launch.xml on the local backend, camera -> perception -> "
        "policy_node -> retarget_node -> controllers) or straight against the simulator "
        "(--runner direct, the default: faster; actions go through the same retargeting as "
        "retarget_node). Prints a "
        "markdown table of success rates (and each task's failures by phase: "
        "target not reached / reached but not moved / moved but not solved) and writes "
        "eval.md, eval.json, eval.png (per task: how the episodes ended, and the success "
        "rate's 95 % interval), rollouts.npz "
        "(per-inference features, chunks, times and the episode's success label: the "
        "failure detector's training/evaluation format) and scene-camera videos of the first "
        "--videos episodes of each task (videos/<task>_<seed>_<outcome>.mp4) to --out.",
    )
    p.add_argument("--policy", default="",
                   help="checkpoint folder (builtin) or policy source; '' = checkpoints/default")
    p.add_argument("--policy-type", default="builtin",
                   help="builtin | remote | lerobot | expert (the scripted experts: ceiling)")
    p.add_argument("--policy-args", default="{}", metavar="JSON",
                   help="extra policy options as a JSON object")
    p.add_argument("--tasks", default="seen",
                   help="seen | unseen | all | comma-separated task names")
    p.add_argument("--episodes", type=int, default=5, help="episodes per task")
    p.add_argument("--seed", type=int, default=500_000,
                   help="first layout seed (the training demos use seeds < 100 000)")
    p.add_argument("--execute-steps", type=int, default=EvalConfig.execute_steps,
                   help="actions executed per chunk before the next inference (default "
                        "%(default)s, as config/policy.yaml's rate_hz runs the nodes)")
    p.add_argument("--strategy", default="",
                   help="chunk execution strategy run tick by tick instead of --execute-steps "
                        "open loop: open_loop | temporal_ensemble | async | rtc (direct "
                        "runner; the policy_node's execution_strategy)")
    p.add_argument("--strategy-args", default="{}", metavar="JSON",
                   help='the strategy\'s options, e.g. \'{"m": 0.01, "interval": 2}\'')
    p.add_argument("--max-seconds", type=float, default=None,
                   help="cap each episode's simulated time (default: the task's limit)")
    p.add_argument("--robot", default="panda")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--out", type=Path, default=Path("out/eval"), help="results folder")
    p.add_argument("--runner", choices=["direct", "nodes"], default="direct",
                   help="direct: policy and retargeting called in-process against SimEnv; "
                        "nodes: the launched stack (builtin checkpoints only)")
    p.add_argument("--fault", default="",
                   help="inject a fault into episodes (direct runner): camera_noise | occlusion "
                        "| perturbation | random (a mode drawn per episode); the failure "
                        "detector's data with failures of every task (default: none)")
    p.add_argument("--fault-rate", type=float, default=1.0,
                   help="share of episodes that get the fault (default 1.0)")
    p.add_argument("--fault-onset", type=float, nargs=2, default=(0.5, 3.0),
                   metavar=("LO", "HI"),
                   help="the fault starts at a time drawn uniformly in [LO, HI] s of the "
                        "episode (default 0.5 3.0)")
    p.add_argument("--background-fixture", action="store_true",
                   help="stand an unused cabinet (drawer or door, random opening) behind each "
                        "loose-object scene, objects on the table in front of it (direct "
                        "runner; cabinet tasks are refused; seeds that do not fit are "
                        "passed over): is the policy distracted by a fixture in view?")
    p.add_argument("--videos", type=int, default=1,
                   help="episodes per task to save as mp4 (the first ones; 0 = none)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=main)


def resolve_tasks(spec: str) -> list[str]:
    from vla_ros.sim.tasks import SPLITS, TASKS, get_task, tasks_in_split

    if spec in SPLITS:
        return tasks_in_split(spec)
    if spec == "all":
        return list(TASKS)
    names = [t.strip() for t in spec.split(",") if t.strip()]
    for name in names:
        get_task(name)  # UnknownTaskError lists the known ones
    return names


def main(args: argparse.Namespace) -> int:
    from vla_ros.policy.errors import PolicyConfigError
    from vla_ros.policy.evaluate import EvalConfig, run_episodes

    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    if args.episodes < 1 or args.execute_steps < 1:
        raise PolicyConfigError("--episodes and --execute-steps must be >= 1")
    options = json_object_option("--policy-args", args.policy_args)
    strategy_options = json_object_option("--strategy-args", args.strategy_args)
    if args.background_fixture and args.runner == "nodes":
        raise PolicyConfigError("--background-fixture runs with --runner direct")
    if args.strategy and args.runner == "nodes":
        raise PolicyConfigError("--strategy runs with --runner direct (the launched stack "
                                "takes policy_node's execution_strategy parameter)")
    tasks = resolve_tasks(args.tasks)
    cfg = EvalConfig(robot=args.robot, episodes=args.episodes, seed=args.seed,
                     execute_steps=args.execute_steps, max_seconds=args.max_seconds,
                     video_episodes=max(0, args.videos), fault=args.fault,
                     fault_rate=args.fault_rate, fault_onset=tuple(args.fault_onset),
                     strategy=args.strategy, strategy_options=strategy_options,
                     background_fixture=args.background_fixture)
    if args.fault and (args.runner == "nodes" or args.policy_type == "expert"):
        raise PolicyConfigError("--fault runs a policy with --runner direct (the launched "
                                "stack takes mujoco_sim's `fault` parameter: see `vla-ros "
                                "demo --fault`)")
    loop = _node_loop(args) if args.runner == "nodes" else _direct_loop(args, options, cfg)
    summaries = run_episodes(loop, tasks, cfg, progress=_report(args))
    return _write_results(args, tasks, cfg, summaries, loop)


def _direct_loop(args: argparse.Namespace, options: dict, cfg):
    """The policy (or the scripted experts) called in-process against SimEnv."""
    from vla_ros.policy.evaluate import ClosedLoop, ExpertLoop
    from vla_ros.policy.registry import make_policy

    if args.policy_type == "expert":
        return ExpertLoop(cfg)
    if args.policy:
        options.setdefault("checkpoint", args.policy)
    if args.policy_type == "builtin":
        options.setdefault("device", args.device)
    return ClosedLoop(make_policy(args.policy_type, **options), cfg)


def _node_loop(args: argparse.Namespace):
    """The launched nodes (policy_node loads the checkpoint)."""
    from vla_ros.commands.stack import NodeLoop
    from vla_ros.policy.errors import PolicyConfigError
    from vla_ros.runtime.entry import configure_logging

    if args.policy_type != "builtin":
        raise PolicyConfigError("--runner nodes runs builtin checkpoints (policy_node's "
                                f"launch argument); use --runner direct for {args.policy_type}")
    configure_logging("error")  # results are printed; the nodes' warnings would drown them
    return NodeLoop(args.policy, robot=args.robot, max_seconds=args.max_seconds)


def _report(args: argparse.Namespace):
    def report(r) -> None:
        if not args.quiet:
            print(f"  {r.task} seed {r.seed}: {'success' if r.success else 'failure'} "
                  f"({r.duration:.1f} s sim, {r.inferences} chunks, {r.wall_s:.1f} s wall)",
                  file=sys.stderr, flush=True)

    return report


def _write_results(args, tasks, cfg, summaries, loop) -> int:
    """eval.md, eval.json, rollouts.npz (tagged builtin@<weights hash> for checkpoints, the
    id failure detectors are tied to) and the videos."""
    from vla_ros.policy.evaluate import markdown_table, write_videos

    checkpoint = loop.checkpoint_path
    source = (f"{checkpoint} (nodes)" if args.runner == "nodes"
              else str(checkpoint or args.policy or args.policy_type))

    table = markdown_table(summaries, f"{source}: {args.tasks}, {args.episodes} episodes/task")
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "eval.md").write_text(table)
    results = [r for s in summaries for r in s.results]
    (args.out / "eval.json").write_text(json.dumps({
        "policy": source, "tasks": tasks, "runner": args.runner,
        "versions": software_versions(),
        "config": vars(cfg) | {"render_size": list(cfg.render_size)},
        "episodes": [{"task": r.task, "split": r.split, "seed": r.seed,
                      "instruction": r.instruction, "success": r.success,
                      "duration": round(r.duration, 3), "chunks": r.inferences,
                      "ik_failures": r.ik_failures, "fault": r.fault,
                      "fault_onset": r.fault_onset}
                     | (r.target.to_json() if r.target is not None else {})
                     for r in results],
        "success_rate": {s.task: s.rate for s in summaries},
    }, indent=1))
    from vla_ros.policy.eval_plot import plot_eval

    plot = plot_eval(summaries, args.out / "eval.png", source)
    written = [str(args.out / "eval.md"), str(args.out / "eval.json"), str(plot)]
    if any(r.inferences for r in results):
        from vla_ros.safety.collect import policy_id_of

        policy_id = policy_id_of(Path(checkpoint), 0) if checkpoint else source
        written.append(str(save_rollouts(args.out / "rollouts.npz", results, policy_id)))
    if loop.video_fps:
        videos = write_videos(summaries, args.out / "videos", loop.video_fps)
        if videos:
            written.append(f"{len(videos)} videos in {args.out / 'videos'}")
    print(f"results: {', '.join(written)}")
    return 0


def save_rollouts(path: Path, results, policy_id: str) -> Path:
    """Episodes in the failure detector's rollout format (vla_ros.safety.rollouts)."""
    from vla_ros.safety.rollouts import make_rollout
    from vla_ros.safety.rollouts import save_rollouts as write

    rollouts = []
    for r in results:
        if r.inferences == 0:  # solved before the first inference: nothing to learn from
            continue
        injected = r.fault if r.fault_onset is not None else ""  # "" if it never fired
        mode = "" if r.success else (injected or "natural")
        ro = make_rollout(r.task, r.split, r.success, r.features, time=r.times,
                          actions=r.chunks, failure_mode=mode,
                          rollout_id=f"{r.task}/{r.seed}" + (f"/{injected}" if injected else ""))
        ro.extra = {"seed": r.seed, "instruction": r.instruction,
                    "done_at_inference": r.done.astype(int).tolist(),
                    "fault": injected, "fault_onset": r.fault_onset}
        rollouts.append(ro)
    return write(path, rollouts, policy_id)
