"""Scripted-expert success table (all tasks, Panda and SO-101, seeds 0..N-1).

    nice .venv/bin/python bench/experts.py --seeds 20 [--robot panda] [--json out.json]

A thin entry point for `python -m vla_ros.sim.evaluate_experts` next to the other
benchmarks; exits 1 when a task's expert is below 90 %.
"""

import sys

from vla_ros.sim.evaluate_experts import main

if __name__ == "__main__":
    sys.exit(main())
