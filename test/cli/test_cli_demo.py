"""`vla-ros demo` (the README's first command) end to end on the local backend: the shipped
policy and detector drive the launched stack, results are printed and written."""

from __future__ import annotations

import argparse

from vla_ros.commands import demo


def test_demo_runs_the_stack_and_writes_what_a_person_looks_at(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    demo.register(parser.add_subparsers())
    out = tmp_path / "demo"
    args = parser.parse_args(["demo", "--tasks", "close_drawer", "--fault", "perturbation",
                              "--out", str(out)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    rows = [line.split() for line in printed.splitlines() if line[:2].strip().isdigit()]
    assert [r[1] for r in rows] == ["close_drawer", "close_drawer"]
    assert rows[0][2] == "-" and rows[1][2] == "perturbation"
    assert rows[0][3] in ("success", "failure") and int(rows[0][5]) > 0  # chunks flowed
    assert (out / "demo.mp4").stat().st_size > 10_000
    assert (out / "episode_00_close_drawer.png").is_file()
    # the shipped detector scored the episodes (a score plot per scored episode)
    assert demo.shipped_detector("") != ""
    assert (out / "episode_01_close_drawer_score.png").is_file()
    assert "/policy/action_chunk" in printed and "/safety/score" in printed  # the MCAP bag
