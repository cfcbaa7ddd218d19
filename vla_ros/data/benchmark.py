"""Recording throughput: can the writer keep up with cameras at 10-30 fps?

Run `python -m vla_ros.data.benchmark` (add `--quick` for a short run). It records
synthetic episodes as fast as possible and prints one row per configuration: the frame
rate the writer sustains (add_frame including validation, copy and queueing, with the
encoder threads running alongside), the CPU time per frame, and the commit latency of
save_episode() when the episode is appended to a growing file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from vla_ros.data.reader import DatasetReader
from vla_ros.data.video import VideoSettings
from vla_ros.data.writer import DatasetWriter


def _frames(size: int, count: int) -> list[np.ndarray]:
    """Camera-like frames: smooth gradients plus sensor noise and a moving blob."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    out = []
    for t in range(count):
        img = np.stack([(x + 2 * t) % 256, (y + t) % 256, (x + y) // 2 % 256], -1).astype(float)
        cy, cx = size / 2 + size / 4 * np.sin(t / 10), size / 2 + size / 4 * np.cos(t / 10)
        img[(y - cy) ** 2 + (x - cx) ** 2 < (size / 8) ** 2] = (220, 40, 40)
        img += rng.normal(0, 4, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def run(size: int, cameras: int, episodes: int, frames: int, codec: str) -> dict[str, float]:
    pool = _frames(size, 60)
    names = [f"cam{i}" for i in range(cameras)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        writer = DatasetWriter(root, fps=30, state_names=14, action_names=14,
                               cameras={n: (size, size) for n in names},
                               video=VideoSettings(codec=codec))
        state = np.zeros(14)
        add_s, cpu0, commits = 0.0, os.times(), []
        for e in range(episodes):
            t0 = time.perf_counter()
            for i in range(frames):
                writer.add_frame(state, state, {n: pool[(i + e) % 60] for n in names}, task="t")
            t1 = time.perf_counter()
            writer.save_episode()
            t2 = time.perf_counter()
            add_s += t1 - t0
            commits.append(t2 - t1)
        cpu1 = os.times()
        writer.close()
        total = episodes * frames
        wall = add_s + sum(commits)
        mb = sum(p.stat().st_size for p in root.rglob("*.mp4")) / 2**20
        t3 = time.perf_counter()
        frames_read = sum(len(ep.frames[names[0]]) for ep in DatasetReader(root).episodes())
        decode_fps = frames_read / (time.perf_counter() - t3)
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system)
    return {"fps": total / wall, "cpu_ms": 1000 * cpu / total,
            "commit_ms": 1000 * float(np.median(commits)), "last_commit_ms": 1000 * commits[-1],
            "mb": mb, "decode_fps": decode_fps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter episodes")
    parser.add_argument("--codec", default="libx264", help="libx264 or libsvtav1")
    args = parser.parse_args()
    episodes, frames = (3, 90) if args.quick else (10, 300)
    print(f"{episodes} episodes x {frames} frames, 30 fps target, codec {args.codec}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'size':>5} {'cams':>4} {'record fps':>10} {'cpu ms/frame':>12} "
          f"{'commit ms (median/last)':>24} {'video MB':>8} {'decode fps':>10}")
    for size, cams in ((128, 1), (128, 3), (224, 1), (224, 3)):
        r = run(size, cams, episodes, frames, args.codec)
        print(f"{size:>5} {cams:>4} {r['fps']:>10.0f} {r['cpu_ms']:>12.2f} "
              f"{r['commit_ms']:>15.0f}/{r['last_commit_ms']:<8.0f} {r['mb']:>8.1f} "
              f"{r['decode_fps']:>10.0f}")


if __name__ == "__main__":
    main()
