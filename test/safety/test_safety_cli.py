"""`vla-ros safety train|eval` end to end on SYNTHETIC rollouts (tiny settings)."""

import json

import pytest

from vla_ros.cli import main
from vla_ros.safety.rollouts import save_rollouts
from vla_ros.safety.synthetic import SyntheticConfig, generate_rollouts

CFG = SyntheticConfig(feature_dim=8, seen_tasks=4, unseen_tasks=2, rollouts_per_task=20,
                      min_length=15, max_length=25, horizon=3, action_dim=2)


def test_train_then_eval_writes_table_and_plots(tmp_path, capsys):
    data = save_rollouts(tmp_path / "rollouts.npz", generate_rollouts(CFG, 4, "vla@cli"))
    out = tmp_path / "run"
    opts = json.dumps({"safe_mlp": {"hidden": 16, "epochs": 20}})
    assert main(["safety", "train", "--rollouts", str(data), "--out", str(out), "--detectors",
                 "safe_mlp", "time_only", "stac", "--seeds", "0", "1", "2", "--options", opts,
                 "--quiet"]) == 0
    manifest = json.loads((out / "train.json").read_text())
    assert manifest["policy_id"] == "vla@cli" and len(manifest["checkpoints"]) == 9
    assert main(["safety", "eval", "--checkpoints", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    table = (out / "results.md").read_text()
    assert table.split("| detector")[1] in printed  # the same table is printed
    main_table, mode_table = table.split("## Alarm rate by failure mode")
    rows = [line for line in main_table.splitlines() if line.startswith("| ")][1:]
    mode_rows = [line for line in mode_table.splitlines() if line.startswith("| ")]
    assert "success (n=" in mode_rows[0] and "synthetic_drift (n=" in mode_rows[0]
    assert len(mode_rows) == 1 + 3  # header + one row per detector
    assert [r.split("|")[1].strip() for r in rows] == ["safe_mlp", "time_only", "stac"]
    assert all(r.split("|")[2].strip() == "3" for r in rows)  # three seeds each
    assert "0.500 ± 0.000" in rows[1]  # time-only: chance once truncated
    for png in ("roc_seen.png", "roc_unseen.png", "scores_safe_mlp.png", "scores_stac.png"):
        assert (out / png).stat().st_size > 1000


def test_eval_refuses_rollouts_of_another_policy(tmp_path, capsys):
    out = tmp_path / "run"
    data = save_rollouts(tmp_path / "a.npz", generate_rollouts(CFG, 4, "vla@a"))
    other = save_rollouts(tmp_path / "b.npz", generate_rollouts(CFG, 4, "vla@b"))
    assert main(["safety", "train", "--rollouts", str(data), "--out", str(out),
                 "--detectors", "time_only", "--seeds", "0", "--quiet"]) == 0
    assert main(["safety", "eval", "--checkpoints", str(out), "--rollouts", str(other),
                 "--quiet"]) == 2
    assert "trained for policy 'vla@a', not 'vla@b'" in capsys.readouterr().err


def test_unknown_detector_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["safety", "train", "--out", str(tmp_path)])  # no input given
    assert main(["safety", "train", "--synthetic", "--out", str(tmp_path), "--detectors",
                 "oracle", "--quiet"]) == 2
    assert "unknown detector(s) ['oracle']" in capsys.readouterr().err
