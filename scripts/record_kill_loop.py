#!/usr/bin/env python3
"""SIGKILL a recording LeRobotDataset writer at random moments, over and over.

Each round starts a child that appends episodes of random length (two cameras, video)
to the same dataset and reports every committed episode; the parent kills it with SIGKILL
after a random delay, reopens the dataset (which finishes or quarantines a half-written
episode), and checks that every episode the child reported is there, intact, and that
the dataset validates. Prints a table; exit status 1 on any lost or corrupt episode.

    python scripts/record_kill_loop.py --rounds 50 --out /tmp/killds
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from vla_ros.data import DatasetWriter

    root, seed = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(seed)
    writer = DatasetWriter(root, fps=10, state_names=["a", "b", "c"], action_names=2,
                           cameras={"front": (48, 64), "wrist": (32, 32)},
                           robot_type="kill_test")
    print("OPEN", writer.num_episodes, flush=True)
    while True:
        n = int(rng.integers(3, 9))
        for t in range(n):
            y, x = np.mgrid[0:48, 0:64]
            front = np.stack([(x * 3 + 4 * t) % 256, (y * 4) % 256, x * 0 + 90], -1)
            writer.add_frame(state=rng.normal(size=3), action=rng.normal(size=2),
                             images={"front": front.astype(np.uint8),
                                     "wrist": np.full((32, 32, 3), 10 * t, np.uint8)},
                             task=f"task {n}")
        index = writer.save_episode()
        print("SAVED", index, n, flush=True)
""")


def one_round(root: Path, seed: int, rng: np.random.Generator) -> dict:
    """Run a child, kill it at a random time, check the dataset. Returns what happened."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    saved: dict[int, int] = {}
    line = proc.stdout.readline()
    if not line.startswith("OPEN"):
        proc.kill()
        raise RuntimeError(f"child failed to start: {line!r} {proc.stderr.read()}")
    time.sleep(float(rng.uniform(0.05, 1.5)))
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    for row in out.splitlines():
        if row.startswith("SAVED"):
            _, index, n = row.split()
            saved[int(index)] = int(n)
    return {"saved": saved}


def check(root: Path, expected: dict[int, int]) -> tuple[bool, str, int, list[str]]:
    from vla_ros.data import DatasetReader

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = DatasetReader(root)
    notes = sorted({type(w.message).__name__ for w in caught})
    missing = [i for i in expected if i >= reader.num_episodes]
    if missing:
        return False, f"episodes {missing} reported saved but missing", reader.num_episodes, notes
    for i, n in expected.items():
        episode = reader.episode(i)
        if len(episode.frames["front"]) != n or len(episode.frames["wrist"]) != n:
            return False, f"episode {i}: expected {n} frames", reader.num_episodes, notes
    report = reader.validate()
    if not report.ok:
        return False, f"validate: {report}", reader.num_episodes, notes
    return True, "ok", reader.num_episodes, notes


def run_loop(root: Path, rounds: int, seed: int = 0, progress: bool = True) -> list[dict]:
    rng = np.random.default_rng(seed)
    expected: dict[int, int] = {}
    results = []
    for r in range(rounds):
        outcome = one_round(root, seed * 1000 + r, rng)
        expected.update(outcome["saved"])
        ok, why, episodes, notes = check(root, expected)
        results.append({"round": r, "saved_this_round": len(outcome["saved"]),
                        "episodes": episodes, "ok": ok, "why": why, "notes": notes})
        if progress:
            print(f"round {r:3d}: +{len(outcome['saved'])} episodes, {episodes} on disk, "
                  f"{why}{' (' + ', '.join(notes) + ')' if notes else ''}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("out/kill_loop"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.out.exists():
        import shutil

        shutil.rmtree(args.out)
    results = run_loop(args.out, args.rounds, args.seed)
    bad = [r for r in results if not r["ok"]]
    recovered = sum(bool(r["notes"]) for r in results)
    print(f"\n| rounds | episodes committed | rounds with recovery | lost/corrupt |\n"
          f"|---|---|---|---|\n| {len(results)} | {results[-1]['episodes']} | {recovered} | "
          f"{len(bad)} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
