"""Recording durability: SIGKILL at random moments, repeatedly, never costs an episode.

The long version is `python scripts/record_kill_loop.py --rounds 50`.
"""

from __future__ import annotations

import importlib.util

from vla_ros.assets import PACKAGE_ROOT

spec = importlib.util.spec_from_file_location(
    "record_kill_loop", PACKAGE_ROOT / "scripts" / "record_kill_loop.py")
kill_loop = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kill_loop)


def test_random_sigkills_while_recording_lose_no_committed_episode(tmp_path):
    results = kill_loop.run_loop(tmp_path / "ds", rounds=4, seed=3, progress=False)
    assert [r["why"] for r in results] == ["ok"] * 4
    episodes = [r["episodes"] for r in results]
    assert episodes == sorted(episodes) and episodes[-1] > 0
