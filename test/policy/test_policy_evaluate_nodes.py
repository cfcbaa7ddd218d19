"""`vla-ros eval --runner nodes`: episodes through the launched stack (sim.launch.xml on the
local backend) give the same kind of results as the direct runner, on the same layouts."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vla_ros.commands.stack import NodeLoop
from vla_ros.policy.evaluate import EvalConfig, run_episodes
from vla_ros.policy.vla import BuiltinVLAPolicy
from vla_ros.policy.vla_model import PRESETS, VLAConfig

PANDA = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1",
                                                    "panda_finger_joint2"]
EE = ["x", "y", "z", "rx", "ry", "rz", "gripper"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained (but complete) Panda checkpoint: the plumbing, not the skill, is tested."""
    cfg = VLAConfig(action_names=EE, state_names=PANDA, cameras=["scene", "wrist"],
                    image_size=(32, 32), horizon=6, dt=0.05, text_encoder="hash",
                    text_dim=32, **PRESETS["tiny"])
    folder = tmp_path_factory.mktemp("ckpt") / "tiny_panda"
    BuiltinVLAPolicy.untrained(cfg, seed=1).save(folder)
    return folder


def _shipped_policy_rate() -> float:
    from vla_ros.assets import PACKAGE_ROOT
    from vla_ros.runtime.param_file import params_for_node

    values, _ = params_for_node([PACKAGE_ROOT / "config" / "policy.yaml"], "policy_node", "/")
    return float(values["rate_hz"])


def test_nodes_execute_as_many_steps_per_chunk_as_the_direct_runner():
    """The shipped rate and the direct runner's default agree (success is measured with
    one, the launched stack runs the other)."""
    import json

    from vla_ros.policy.vla import default_checkpoint_path

    config = default_checkpoint_path() / "config.json"
    if not config.is_file():
        pytest.skip("no shipped checkpoint in this tree")
    dt = json.loads(config.read_text())["dt"]
    assert 1.0 / _shipped_policy_rate() == pytest.approx(EvalConfig.execute_steps * dt,
                                                         rel=1e-3)


def test_node_runner_records_chunks_features_and_video_on_the_requested_layouts(checkpoint):
    os.environ.setdefault("MUJOCO_GL", "egl")
    from vla_ros.sim.env import SimEnv
    from vla_ros.sim.tasks import get_task

    loop = NodeLoop(str(checkpoint), max_seconds=1.0)
    period = 1.0 / _shipped_policy_rate()
    fps = loop.video_fps
    cfg = EvalConfig(episodes=2, seed=321, video_episodes=1)
    summaries = run_episodes(loop, ["pick_cube", "open_drawer"], cfg)
    env = SimEnv("panda")
    try:
        for summary in summaries:
            assert [r.seed for r in summary.results] == [321, 322]
            for r in summary.results:
                # the sim laid out the requested seed: same instruction as a direct reset
                assert r.instruction == env.reset(seed=r.seed, task=get_task(r.task)).instruction
                assert not r.success and r.duration == pytest.approx(1.0, abs=0.15)
                # config/policy.yaml's rate_hz, triggered by the 10 Hz camera frames
                assert 1 <= r.inferences <= 1 + int(1.0 / period)
                assert r.features.shape == (r.inferences, PRESETS["tiny"]["feature_dim"])
                assert r.chunks.shape == (r.inferences, 6, 7)
                assert np.all(np.diff(r.times) > period - 0.05) and 0 <= r.times[0] <= period
                assert np.isfinite(r.chunks).all()
            video, plain = summary.results
            assert len(video.frames) >= 0.8 * fps * video.duration and not plain.frames
    finally:
        env.close()


@pytest.mark.parametrize("runner", ["direct", "nodes"])
def test_eval_command_writes_tables_rollouts_tied_to_the_weights_and_videos(
        checkpoint, tmp_path, runner):
    import argparse
    import json

    import mujoco

    from vla_ros.commands import eval as eval_cmd
    from vla_ros.safety.collect import policy_id_of
    from vla_ros.safety.rollouts import load_rollouts

    parser = argparse.ArgumentParser()
    eval_cmd.register(parser.add_subparsers())
    out = tmp_path / runner
    args = parser.parse_args(["eval", "--policy", str(checkpoint), "--tasks", "pick_cube",
                              "--episodes", "2", "--max-seconds", "0.6", "--runner", runner,
                              "--videos", "1", "--out", str(out), "--quiet"])
    assert args.func(args) == 0
    info = json.loads((out / "eval.json").read_text())
    assert info["versions"]["mujoco"] == mujoco.__version__  # success depends on it
    assert info["runner"] == runner and [e["seed"] for e in info["episodes"]] == [500000,
                                                                                  500001]
    assert "| pick_cube | seen | 2 | 0 | 0% |" in (out / "eval.md").read_text()
    assert (out / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # both runners trace the target: in 0.6 s the gripper has not got to the cube (it
    # starts 5-30 cm away), and the cube has not moved
    for e in info["episodes"]:
        assert 0.01 < e["closest_approach_m"] < 0.5 and e["target_travel"] < 0.005
    assert "| pick_cube | 2 | " in (out / "eval.md").read_text().split("Failures by phase")[1]
    rollouts = load_rollouts(out / "rollouts.npz")
    assert rollouts.policy_id == policy_id_of(checkpoint, 0)
    assert len(rollouts.rollouts) == 2 and not any(r.success for r in rollouts.rollouts)
    assert [p.name for p in (out / "videos").iterdir()] == ["pick_cube_500000_failure.mp4"]
