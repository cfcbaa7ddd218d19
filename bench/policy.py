"""Built-in VLA inference benchmark: latency per chunk and chunks/s, per runner and device.

Goal (ARCHITECTURE §4 and the policy issue): >= 100 chunks/s at batch 1 on this 2-core
CPU at <= 128x128 images. Each row times `BuiltinVLAPolicy.infer` end to end (validation,
normalisation, the cached instruction embedding, forward pass, un-normalisation), i.e.
what policy_node pays per tick, after warm-up. Runners: eager PyTorch (the default),
frozen TorchScript (`jit`) and `torch.compile`; CUDA rows appear when a GPU is present.
Also timed: one policy_node tick on the local backend (message → image conversion,
resize, inference, JointTrajectory + features publish).

Closed loop (goal: camera frame → first joint command p95 <= 30 ms on this CPU): the real
stack, launch/sim.launch.xml started by the launch code `vla-ros eval --runner nodes`
uses (load_launch + start_plan, shipped checkpoint, failure_detector off, only
policy_node's `trigger` set), runs pick_cube episodes on one local context whose sim
clock is paced 1:1 to the wall clock (real_time_factor 1), so a wait for a timer costs
real time as it would on a robot. Method: mujoco_sim's camera publishers and
retarget_node's arm publisher are wrapped in place; each wrapper reads
time.perf_counter() at the publish call (one process, one thread: one clock, no
transport). A frame's time is that of the FIRST camera published with its stamp (the
second camera's render counts as latency); a command is matched to its frame by header
stamp: policy_node stamps a chunk min(image stamps, joint_states stamp), joint_states
come at 50 Hz and are never older than the synced frames, so the stamp is the frames'
and retarget_node copies it onto `arm_controller/joint_trajectory`. Each frame counts
once, at its first arm command; the first 5 commands (warm-up) are not counted. Rows
"→ chunk" time policy/action_chunk the same way (the rest is retarget's IK).
With `trigger: timer` all timers of one local context share one sim clock, which would
lock the policy timer to a fixed phase of the camera (an artefact: on a robot the two are
independent), so the bench re-phases the policy timer every 1.2807 policy periods
(0.768 s at the shipped 1.67 Hz; longer than one period, or the timer never fires),
sweeping its phase over the whole camera period.

    python bench/policy.py                              # shipped checkpoint + sizes
    python bench/policy.py --checkpoint out/ckpt --runs 300 --threads 2
    python bench/policy.py --only latency --threads 1   # closed-loop latency alone
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from vla_ros.policy.interface import Observation
from vla_ros.policy.vla import BuiltinVLAPolicy, default_checkpoint_path
from vla_ros.policy.vla_model import VLAConfig, parameter_count
from vla_ros.runtime.clock import time_msg_to_seconds

CAMERAS = ["scene", "wrist"]
JOINTS = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1", "panda_finger_joint2"]
EE = ["x", "y", "z", "rx", "ry", "rz", "gripper"]


def observation(policy: BuiltinVLAPolicy, rng: np.random.Generator) -> Observation:
    meta = policy.metadata
    h, w = meta.image_size
    return Observation(images={c: rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
                               for c in meta.cameras},
                       state=rng.normal(size=meta.state_dim), instruction="pick up the red cube",
                       stamp=1.0)


def time_policy(policy: BuiltinVLAPolicy, runs: int, warmup: int = 10) -> list[float]:
    rng = np.random.default_rng(0)
    obs = [observation(policy, rng) for _ in range(4)]
    for i in range(warmup):
        policy.infer(obs[i % 4])
    times = []
    for i in range(runs):
        start = time.perf_counter()
        policy.infer(obs[i % 4])
        times.append(time.perf_counter() - start)
    return times


def time_node_tick(policy: BuiltinVLAPolicy, runs: int) -> list[float]:
    """One policy_node tick with fresh 128x128 camera messages (resized to the policy's)."""
    from vla_ros.nodes.policy_node import PolicyNode
    from vla_ros.runtime import Node
    from vla_ros.runtime.convert import image_to_msg, joint_state_msg
    from vla_ros.runtime.local import LocalContext

    ctx = LocalContext(sim_time=True, start_time=10.0)
    node = PolicyNode(policy=policy, context=ctx, parameter_overrides={
        "rate_hz": 0.5, "instruction": "pick up the red cube"})
    probe = Node("probe", context=ctx)
    from vla_ros.runtime import msgs

    pubs = {c: probe.create_publisher(msgs.Image, f"perception/{c}/image", 10)
            for c in policy.metadata.cameras}
    js = probe.create_publisher(msgs.JointState, "joint_states", 10)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    times = []
    for i in range(runs + 5):
        now = node.get_clock().now().seconds
        for pub in pubs.values():
            pub.publish(image_to_msg(image, stamp=now))
        js.publish(joint_state_msg(list(policy.metadata.state_names),
                                   np.zeros(policy.metadata.state_dim), stamp=now))
        ctx.spin_some()
        start = time.perf_counter()
        node.tick()
        if i >= 5:
            times.append(time.perf_counter() - start)
        ctx.spin_for(0.001)
    assert node.chunk_id == runs + 5, "the node did not publish a chunk every tick"
    ctx.shutdown()
    return times


LATENCY_GOAL_MS = 30.0
WARMUP_COMMANDS = 5
REPHASE_PERIODS = 1.2807  # trigger=timer: re-phase the policy timer this often (docstring)


def _key(stamp) -> int:
    """A header stamp in 0.1 ms: the float round trips between nodes cannot split it."""
    return round(time_msg_to_seconds(stamp) * 1e4)


@dataclass
class LoopLatency:
    """Wall-clock latencies (s) from a camera frame's publish to its first chunk/command."""

    trigger: str
    to_command: list[float] = field(default_factory=list)
    to_chunk: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    commands: int = 0  # every arm command published while measuring
    unmatched: int = 0  # commands whose stamp was no camera frame's
    episodes: int = 0

    @property
    def rate(self) -> float:
        return self.commands / self.wall_s if self.wall_s else 0.0


def closed_loop_latency(trigger: str, chunks: int, checkpoint: str = "", task: str = "pick_cube",
                        max_wall_s: float = 300.0) -> LoopLatency:
    """Run the launched stack until `chunks` arm commands are matched to their frames."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    from vla_ros.commands.launch import find_launch_file
    from vla_ros.commands.stack import StackProbe, run_stack_episode
    from vla_ros.runtime import Node
    from vla_ros.runtime.launch import load_launch
    from vla_ros.runtime.launcher import start_plan
    from vla_ros.runtime.local import LocalContext
    from vla_ros.sim.tasks import get_task

    ckpt = checkpoint or str(default_checkpoint_path())
    out = LoopLatency(trigger)
    frames: dict[int, float] = {}  # stamp key -> wall time of the frame's first publish
    chunked: dict[int, float] = {}
    commanded: set[int] = set()
    seen = {"commands": 0}
    measuring = {"on": False}

    def wrap(pub, on_publish) -> None:
        original = pub.publish

        def publish(msg) -> None:
            on_publish(msg, time.perf_counter())
            original(msg)

        pub.publish = publish

    def on_frame(msg, now: float) -> None:
        frames.setdefault(_key(msg.header.stamp), now)

    def on_chunk(msg, now: float) -> None:
        key = _key(msg.header.stamp)
        if key in frames and key not in chunked:
            chunked[key] = now
            if measuring["on"]:
                out.to_chunk.append(now - frames[key])

    def on_command(msg, now: float) -> None:
        if not msg.points:
            return  # an empty trajectory: a stop, not a command
        seen["commands"] += 1
        if seen["commands"] == WARMUP_COMMANDS + 1:
            measuring["on"], out.wall_s = True, time.perf_counter()
        if not measuring["on"]:
            return
        out.commands += 1
        key = _key(msg.header.stamp)
        if key not in frames:
            out.unmatched += 1
        elif key not in commanded:
            commanded.add(key)
            out.to_command.append(now - frames[key])

    ctx = LocalContext(sim_time=True, isolate_crashes=True, real_time_factor=1.0)
    quiet = logging.getLogger("vla_ros")
    level = quiet.level
    # the nodes' warnings (e.g. the sim controller dropping points already in the past)
    # would tear the table apart
    quiet.setLevel(logging.ERROR)
    try:
        with ctx:
            plan = load_launch(find_launch_file("sim.launch.xml"), {
                "robot": "panda", "task": "", "seed": "0", "policy_checkpoint": ckpt,
                "failure_detector": "false"})
            for spec in plan.nodes:
                if spec.name == "policy_node":
                    spec.parameters.append({"trigger": trigger})
            nodes = {n.get_name(): n for n in start_plan(plan, ctx)}
            sim, policy, retarget = (nodes[n] for n in ("mujoco_sim", "policy_node",
                                                        "retarget_node"))
            for pub in sim.image_pubs.values():
                wrap(pub, on_frame)
            wrap(policy.chunk_pub, on_chunk)
            wrap(retarget.arm_pub, on_command)
            probe = StackProbe(ctx, keep_frames=False)
            if trigger == "timer":
                rephaser = Node("bench_rephaser", context=ctx)
                period = 1.0 / float(policy.get_parameter("rate_hz").value)
                rephaser.create_timer(REPHASE_PERIODS * period, policy.timer.reset)
            limit = get_task(task).time_limit
            start = time.perf_counter()
            seed = 900000
            while len(out.to_command) < chunks and time.perf_counter() - start < max_wall_s:
                run_stack_episode(ctx, sim, probe, task, limit, seed=seed)
                seed += 1
                out.episodes += 1
            out.wall_s = time.perf_counter() - out.wall_s
    finally:
        quiet.setLevel(level)
    return out


def row(label: str, times: list[float], rate: float | None = None) -> str:
    ms = np.asarray(times) * 1e3
    p50, p90, p95 = np.percentile(ms, [50, 90, 95])
    per_s = 1e3 / float(np.mean(ms)) if rate is None else rate
    return f"| {label} | {p50:.2f} | {p90:.2f} | {p95:.2f} | {ms.max():.2f} | {per_s:.0f} |"


def latency_rows(args: argparse.Namespace) -> None:
    """Closed-loop rows (trigger=frame, then timer for comparison) and the goal verdict."""
    results = {}
    for trigger in ("frame", "timer"):
        r = results[trigger] = closed_loop_latency(trigger, args.latency_chunks,
                                                   args.checkpoint, args.task)
        n = len(r.to_command)
        if not n:
            print(f"| closed loop, trigger={trigger} | no command matched a frame | | | | |")
            continue
        print(row(f"closed loop camera frame → arm command, trigger={trigger} ({n} chunks, "
                  f"{r.episodes} {args.task} episodes)", r.to_command, r.rate), flush=True)
        if r.to_chunk:
            print(row(f"closed loop camera frame → policy chunk, trigger={trigger}",
                      r.to_chunk, r.rate), flush=True)
    frame = results["frame"].to_command
    if frame:
        p95 = float(np.percentile(np.asarray(frame) * 1e3, 95))
        verdict = "met" if p95 <= LATENCY_GOAL_MS else "NOT met"
        print(f"\ncamera frame → first joint command, trigger=frame: p95 {p95:.1f} ms, goal "
              f"p95 <= {LATENCY_GOAL_MS:.0f} ms {verdict} ({len(frame)} chunks; chunks/s = "
              "arm commands per wall second; wall-clock times, sim paced 1:1)")
    for r in results.values():
        if r.unmatched:
            print(f"(trigger={r.trigger}: {r.unmatched} commands matched no camera frame)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="", help="default: the shipped checkpoint")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--sizes", type=int, nargs="*", default=[64, 96, 128],
                   help="image sizes of the untrained default-architecture rows")
    p.add_argument("--backends", nargs="*", default=["eager", "jit", "compile"])
    p.add_argument("--only", choices=["all", "inference", "latency"], default="all",
                   help="inference: the per-runner and node-tick rows; latency: the "
                        "closed-loop camera → joint command rows")
    p.add_argument("--latency-chunks", type=int, default=150,
                   help="closed-loop chunks to measure per trigger (>= 100)")
    p.add_argument("--task", default="pick_cube", help="closed-loop task")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"devices {devices}\n")
    print("| model / runner / device | median ms | p90 ms | p95 ms | max ms | chunks/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    if args.only != "latency":
        inference_rows(args, devices)
    if args.only != "inference":
        latency_rows(args)


def inference_rows(args: argparse.Namespace, devices: list[str]) -> None:
    ckpt = args.checkpoint or default_checkpoint_path()
    models: list[tuple[str, BuiltinVLAPolicy | VLAConfig]] = []
    try:
        shipped = BuiltinVLAPolicy.from_checkpoint(ckpt)
        models.append((f"checkpoint {shipped.metadata.image_size[0]}px "
                       f"({parameter_count(shipped.model) / 1e6:.2f} M)", shipped.config))
    except Exception as exc:  # noqa: BLE001 - a bench without a checkpoint still runs
        print(f"(no checkpoint at {ckpt}: {exc})")
    for size in args.sizes:
        cfg = VLAConfig(action_names=EE, state_names=JOINTS, cameras=CAMERAS,
                        image_size=(size, size), horizon=16, text_encoder="minilm",
                        text_dim=384)
        models.append((f"default arch {size}px", cfg))
    node_policy = None
    for label, cfg in models:
        for device in devices:
            for backend in args.backends:
                if label.startswith("checkpoint"):
                    policy = BuiltinVLAPolicy.from_checkpoint(ckpt, device=device,
                                                              backend=backend)
                else:
                    policy = BuiltinVLAPolicy.untrained(cfg, device=device, backend=backend)
                try:
                    times = time_policy(policy, args.runs)
                except Exception as exc:  # noqa: BLE001 - e.g. compile without a compiler
                    print(f"| {label} / {backend} / {device} | failed: {type(exc).__name__} "
                          f"| | | | |")
                    continue
                print(row(f"{label} / {backend} / {device}", times), flush=True)
                if node_policy is None and backend == "eager" and device == "cpu":
                    node_policy = policy
    if node_policy is not None:
        print(row("policy_node tick (first model, eager, cpu, 2x128px in)",
                  time_node_tick(node_policy, args.runs)))


if __name__ == "__main__":
    main()
