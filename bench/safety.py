"""Per-step overhead of every SAFE detector (and of the failure_detector node path).

Goal (2-core CPU): ≤ 0.2 ms per step for SAFE-MLP, ≤ 0.5 ms for SAFE-LSTM. Detectors are
trained briefly on SYNTHETIC rollouts with the built-in VLA's feature size (256), then
`FailureMonitor.step` (detector update + band lookup, what the node runs per message) is
timed per call with perf_counter_ns; the node row times publish(features) → safety/score
callback on the local bus.

    python bench/safety.py [--feature-dim 256] [--steps 2000] [--detectors ...]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vla_ros.safety.checkpoint import save_detector
from vla_ros.safety.experiment import split_rollouts, train_one
from vla_ros.safety.monitor import FailureMonitor
from vla_ros.safety.registry import detector_names
from vla_ros.safety.synthetic import SyntheticConfig, generate_rollouts

GOALS_MS = {"safe_mlp": 0.2, "safe_lstm": 0.5}
TRAIN = {"safe_mlp": {"epochs": 5}, "safe_lstm": {"epochs": 1}, "rnd": {"epochs": 1}}


def time_monitor(monitor: FailureMonitor, feats: np.ndarray, acts: np.ndarray) -> np.ndarray:
    monitor.reset()
    out = np.empty(len(feats))
    for i, (f, a) in enumerate(zip(feats, acts, strict=True)):
        t0 = time.perf_counter_ns()
        monitor.step(f, a)
        out[i] = (time.perf_counter_ns() - t0) / 1e6
    return out


def time_node(checkpoint: Path, feats: np.ndarray) -> np.ndarray:
    from vla_ros.nodes.failure_detector import FailureDetectorNode
    from vla_ros.policy.interface import features_label
    from vla_ros.runtime import Node, msgs
    from vla_ros.runtime.convert import multiarray_msg
    from vla_ros.runtime.local import LocalContext

    out = np.empty(len(feats))
    with LocalContext(sim_time=True) as ctx:
        FailureDetectorNode(context=ctx, parameter_overrides={"checkpoint": str(checkpoint)})
        probe = Node("bench", context=ctx)
        pub = probe.create_publisher(msgs.Float32MultiArray, "policy/features", 10)
        got = []
        probe.create_subscription(msgs.Float32MultiArray, "safety/score", got.append, 10)
        for i, f in enumerate(feats):
            msg = multiarray_msg(f, labels=[features_label(i + 1)])
            t0 = time.perf_counter_ns()
            pub.publish(msg)
            while len(got) <= i:
                ctx.spin_some()
            out[i] = (time.perf_counter_ns() - t0) / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feature-dim", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--detectors", nargs="+", default=detector_names())
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("vla_ros").setLevel(logging.CRITICAL)  # random features raise alarms
    cfg = SyntheticConfig(feature_dim=args.feature_dim, seen_tasks=4, unseen_tasks=1,
                          rollouts_per_task=20, horizon=16, action_dim=7)
    data = generate_rollouts(cfg, seed=0)
    splits = split_rollouts(data)
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(args.steps, args.feature_dim)).astype(np.float32)
    acts = rng.normal(size=(args.steps, 16, 7)).astype(np.float32)
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_safety_"))
    for name in args.detectors:
        trained = train_one(name, splits, args.feature_dim, 0, 0.2, TRAIN.get(name))
        ms = time_monitor(FailureMonitor(trained.detector, trained.band), feats, acts)
        rows.append((name, ms, GOALS_MS.get(name)))
        if name in ("safe_mlp", "safe_lstm"):
            path = save_detector(tmp / name, trained.detector, trained.band, data.policy_id)
            rows.append((f"{name} via node", time_node(path, feats), None))
    print(f"per-step overhead, D={args.feature_dim}, {args.steps} steps, 1 torch thread "
          "(numpy inference)\n")
    print("| detector | median ms | p99 ms | goal ms | ok |")
    print("|---|---|---|---|---|")
    for name, ms, goal in rows:
        med, p99 = np.median(ms), np.percentile(ms, 99)
        ok = "" if goal is None else ("yes" if med <= goal else "NO")
        print(f"| {name} | {med:.4f} | {p99:.4f} | {'' if goal is None else goal} | {ok} |")


if __name__ == "__main__":
    main()
