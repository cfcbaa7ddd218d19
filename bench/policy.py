"""Built-in VLA inference benchmark: latency per chunk and chunks/s, per runner and device.

Goal (ARCHITECTURE §4 and the policy issue): >= 100 chunks/s at batch 1 on this 2-core
CPU at <= 128x128 images. Each row times `BuiltinVLAPolicy.infer` end to end (validation,
normalisation, the cached instruction embedding, forward pass, un-normalisation), i.e.
what policy_node pays per tick, after warm-up. Runners: eager PyTorch (the default),
frozen TorchScript (`jit`) and `torch.compile`; CUDA rows appear when a GPU is present.
Also timed: one policy_node tick on the local backend (message → image conversion,
resize, inference, JointTrajectory + features publish).

    python bench/policy.py                              # shipped checkpoint + sizes
    python bench/policy.py --checkpoint out/ckpt --runs 300 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from vla_ros.policy.interface import Observation
from vla_ros.policy.vla import BuiltinVLAPolicy, default_checkpoint_path
from vla_ros.policy.vla_model import VLAConfig, parameter_count

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


def row(label: str, times: list[float]) -> str:
    ms = sorted(t * 1e3 for t in times)
    med = statistics.median(ms)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    return f"| {label} | {med:.2f} | {p90:.2f} | {1e3 / statistics.mean(ms):.0f} |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="", help="default: the shipped checkpoint")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--sizes", type=int, nargs="*", default=[64, 96, 128],
                   help="image sizes of the untrained default-architecture rows")
    p.add_argument("--backends", nargs="*", default=["eager", "jit", "compile"])
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"devices {devices}\n")
    print("| model / runner / device | median ms | p90 ms | chunks/s |")
    print("| --- | ---: | ---: | ---: |")
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
                          f"| | |")
                    continue
                print(row(f"{label} / {backend} / {device}", times), flush=True)
                if node_policy is None and backend == "eager" and device == "cpu":
                    node_policy = policy
    if node_policy is not None:
        print(row("policy_node tick (first model, eager, cpu, 2x128px in)",
                  time_node_tick(node_policy, args.runs)))


if __name__ == "__main__":
    main()
