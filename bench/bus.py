"""Local bus benchmark: publish→callback latency and throughput, with and without the MCAP tee.

Goal (2-core machine): median publish→callback ≤ 20 µs for JointState and ≥ 50,000 small
messages/s. Latency is measured per message: publish, then the executor runs the callback
(`spin_some`), timed with perf_counter_ns around both.

    python bench/bus.py [--count N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vla_ros.runtime import Node, msgs
from vla_ros.runtime.convert import image_to_msg, joint_state_msg, trajectory_msg
from vla_ros.runtime.local import LocalContext


def payloads() -> dict[str, object]:
    names = [f"panda_joint{i}" for i in range(1, 8)]
    return {
        "JointState (7 joints)": joint_state_msg(names, np.zeros(7), stamp=1.0),
        "JointTrajectory 16x7": trajectory_msg(names, np.zeros((16, 7)),
                                               np.arange(1, 17) * 0.05, stamp=1.0),
        "Image 224x224x3": image_to_msg(np.zeros((224, 224, 3), np.uint8), stamp=1.0),
    }


def measure(msg: object, count: int, bag: Path | None) -> tuple[float, float, float]:
    """Returns (median µs, p99 µs, messages/s)."""
    with LocalContext(sim_time=True, bag_path=bag) as ctx:
        node = Node("bench", context=ctx)
        received = []
        msg_type = msgs.MsgType(msg.__msgtype__)
        node.create_subscription(msg_type, "bench", received.append, 10)
        pub = node.create_publisher(msg_type, "bench", 10)
        latencies = np.empty(count)
        clock = time.perf_counter_ns
        for i in range(count):
            t0 = clock()
            pub.publish(msg)
            ctx.spin_some()
            latencies[i] = clock() - t0
        # Throughput: publish a burst, then drain, as a sensor driver would.
        burst = count
        big = Node("burst", context=ctx)
        big_received = []
        big.create_subscription(msg_type, "burst", big_received.append, burst)
        burst_pub = big.create_publisher(msg_type, "burst", burst)
        t0 = time.perf_counter()
        for _ in range(burst):
            burst_pub.publish(msg)
        ctx.spin_some()
        rate = burst / (time.perf_counter() - t0)
        assert len(received) == count and len(big_received) == burst
    us = latencies / 1000.0
    return float(np.median(us)), float(np.percentile(us, 99)), rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, msg in payloads().items():
            count = args.count if "Image" not in label else max(1000, args.count // 10)
            for tee in (False, True):
                bag = Path(tmp) / f"bag{len(rows)}" if tee else None
                med, p99, rate = measure(msg, count, bag)
                rows.append((label, "MCAP tee" if tee else "no tee", med, p99, rate))
    print(f"{'message':24} {'mode':9} {'median µs':>10} {'p99 µs':>9} {'msgs/s':>10}")
    for label, mode, med, p99, rate in rows:
        print(f"{label:24} {mode:9} {med:10.1f} {p99:9.1f} {rate:10.0f}")
    js = next(r for r in rows if r[0].startswith("JointState") and r[1] == "no tee")
    print(f"\ngoals: JointState median ≤ 20 µs: {'PASS' if js[2] <= 20 else 'FAIL'} "
          f"({js[2]:.1f}); ≥ 50,000 msgs/s: {'PASS' if js[4] >= 50000 else 'FAIL'} "
          f"({js[4]:.0f})")


if __name__ == "__main__":
    main()
