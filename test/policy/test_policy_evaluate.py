"""Closed-loop evaluation harness: a policy replaying the expert's recorded end-effector
actions (canonicalised as in the training set) solves the task through the same
retargeting as retarget_node; results land in the failure detector's rollout format."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from vla_ros.policy.evaluate import (
    ClosedLoop,
    EvalConfig,
    TaskSummary,
    action_space_for,
    markdown_table,
    write_videos,
)
from vla_ros.policy.interface import ActionChunk, Observation, Policy, PolicyMetadata

ROOT = Path(__file__).resolve().parents[2]
EE = ["x", "y", "z", "rx", "ry", "rz", "gripper"]


def dataset_script():
    spec = importlib.util.spec_from_file_location("make_policy_dataset",
                                                  ROOT / "scripts" / "make_policy_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expert_pick_cube():
    """The dataset script module and the expert's recorded pick_cube episode (seed 7)."""
    from vla_ros.sim.env import SimEnv
    from vla_ros.sim.rollout import run_expert_episode

    env = SimEnv("panda")
    try:
        return dataset_script(), run_expert_episode(env, "pick_cube", 7)
    finally:
        env.close()


class ReplayPolicy(Policy):
    """Returns the recorded actions from the observation's time on, as chunks."""

    def __init__(self, actions: np.ndarray, dt: float, joints: list[str], horizon: int = 8):
        self.actions, self.dt, self.horizon = actions, dt, horizon
        self._meta = PolicyMetadata(tuple(EE), tuple(joints), ("scene",), (32, 32), horizon,
                                    dt, feature_dim=3)
        self.t0 = None

    @property
    def metadata(self) -> PolicyMetadata:
        return self._meta

    def reset(self) -> None:
        self.t0 = None

    def infer(self, obs: Observation) -> ActionChunk:
        self.validate(obs)
        self.t0 = obs.stamp if self.t0 is None else self.t0
        k = int(round((obs.stamp - self.t0) / self.dt))
        idx = np.minimum(np.arange(k, k + self.horizon), len(self.actions) - 1)
        return ActionChunk(self.actions[idx], EE, self.dt, features=np.ones(3) * k,
                           stamp=obs.stamp)


def test_canonical_rotvec_is_the_same_rotation_near_the_reference():
    mod = dataset_script()
    rv = np.array([[-3.1, 0.1, 0.0], [3.0, -0.2, 0.0], [0.0, 0.0, 0.5]])
    out = mod.canonical_rotvec(rv)
    assert out[0, 0] > 0 and np.allclose(out[2], rv[2]) and np.allclose(out[1], rv[1])
    # the flipped vector is the same rotation: same axis line, angles summing to 2 pi
    a0, a1 = np.linalg.norm(rv[0]), np.linalg.norm(out[0])
    assert a0 + a1 == pytest.approx(2 * np.pi)
    np.testing.assert_allclose(out[0] / a1, -rv[0] / a0)


def test_expert_actions_replayed_through_the_harness_solve_the_task(tmp_path):
    mod, roll = expert_pick_cube()
    assert roll.success
    policy = ReplayPolicy(mod.ee_actions(roll.action_ee), roll.control_dt,
                          list(roll.joint_names))
    loop = ClosedLoop(policy, EvalConfig(execute_steps=8, render_size=(32, 32)))
    try:
        result = loop.episode("pick_cube", 7, video=True)
    finally:
        loop.close()
    assert result.success
    assert result.inferences >= 2 and result.features.shape == (result.inferences, 3)
    assert result.chunks.shape == (result.inferences, 8, 7)
    # the gripper reached the cube and the cube was lifted: the trace shows both
    assert result.target.closest_approach < 0.01 and result.target.target_travel > 0.03
    summary = TaskSummary("pick_cube", "seen", [result])
    table = markdown_table([summary])
    assert "| pick_cube | seen | 1 | 1 | 100% |" in table
    # the rollout video: a frame per control step (+ the first), decodable, named by outcome
    steps = int(round(result.duration / roll.control_dt))
    assert len(result.frames) == steps + 1 and result.frames[0].shape == (32, 32, 3)
    (video,) = write_videos([summary], tmp_path / "videos", fps=20)
    assert video.name == "pick_cube_7_success.mp4"
    import av

    with av.open(str(video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == len(result.frames)
    assert np.abs(decoded[-1].astype(int) - result.frames[-1]).mean() < 12


def test_strategies_run_tick_by_tick_in_the_direct_runner():
    """`EvalConfig.strategy` drives the episode with the policy node's chunk executors: the
    open_loop executor executing 8 steps reproduces `execute_steps=8` exactly; temporal
    ensembling re-infers every `interval` ticks and still solves the task."""
    mod, roll = expert_pick_cube()
    actions = mod.ee_actions(roll.action_ee)
    joints = list(roll.joint_names)
    configs = {
        "plain": EvalConfig(execute_steps=8, render_size=(32, 32)),
        "open_loop": EvalConfig(render_size=(32, 32), strategy="open_loop",
                                strategy_options={"steps": 8}),
        "ensemble": EvalConfig(render_size=(32, 32), strategy="temporal_ensemble",
                               strategy_options={"m": 0.01, "interval": 2}),
    }
    results = {}
    for name, cfg in configs.items():
        loop = ClosedLoop(ReplayPolicy(actions, roll.control_dt, joints), cfg)
        try:
            results[name] = loop.episode("pick_cube", 7)
        finally:
            loop.close()
    plain, open_loop, ensemble = results["plain"], results["open_loop"], results["ensemble"]
    assert plain.success and open_loop.success and ensemble.success
    assert open_loop.duration == pytest.approx(plain.duration)
    np.testing.assert_array_equal(open_loop.times, plain.times)
    np.testing.assert_allclose(open_loop.chunks, plain.chunks)
    # an inference every second tick
    ticks = int(round(ensemble.duration / roll.control_dt))
    assert ensemble.inferences == (ticks + 1) // 2
    np.testing.assert_allclose(np.diff(ensemble.times), 2 * roll.control_dt, atol=1e-9)


def test_a_bad_strategy_is_refused_before_any_episode():
    from vla_ros.policy.errors import PolicyConfigError

    with pytest.raises(PolicyConfigError, match="unknown execution strategy 'zigzag'"):
        EvalConfig(strategy="zigzag")
    with pytest.raises(PolicyConfigError, match="interval must be >= 1"):
        EvalConfig(strategy="temporal_ensemble", strategy_options={"interval": 0})
    with pytest.raises(PolicyConfigError, match="bad options"):
        EvalConfig(strategy="rtc", strategy_options={"colour": 1})


def test_takeover_prefix_hands_the_policys_scene_to_the_expert():
    """DAgger-style data: the policy drives until the takeover time, the expert finishes
    from the state it left and only the expert's part is recorded; an episode the policy
    solves before the takeover ends there, without running the expert."""
    from vla_ros.sim.rollout import run_expert_episode

    mod, roll = expert_pick_cube()
    policy = ReplayPolicy(mod.ee_actions(roll.action_ee), roll.control_dt,
                          list(roll.joint_names))
    loop = ClosedLoop(policy, EvalConfig(execute_steps=8, render_size=(32, 32)))
    try:
        early = mod._Takeover(loop, 7, (1.0, 1.0))
        taken = run_expert_episode(loop.env, "pick_cube", 7, prefix=early)
        late = mod._Takeover(loop, 7, (12.0, 12.0))
        solved = run_expert_episode(loop.env, "pick_cube", 7, prefix=late)
    finally:
        loop.close()
    assert not early.solved and taken.success
    # the policy stops mid-chunk at the takeover time: the expert's first step is at 1 s
    assert taken.times[0] == pytest.approx(1.0, abs=1e-6)
    assert len(taken.times) < len(roll.times)
    # solved before the takeover: the expert is not run at all, nothing to record
    assert late.solved and solved is None


def test_dataset_script_records_takeover_episodes_of_the_shipped_policy(tmp_path):
    from vla_ros.data import DatasetReader

    mod = dataset_script()
    out = tmp_path / "dagger"
    rc = mod.main(["--out", str(out), "--tasks", "place_cube_on_pad", "--episodes-per-task",
                   "1", "--image-size", "32", "--seed", "7", "--policy",
                   str(ROOT / "checkpoints" / "default"), "--takeover", "2", "2"])
    assert rc == 0
    reader = DatasetReader(out)
    assert reader.num_episodes == 1 and reader.action_names == EE
    # 2 s of the policy's 15 s episode are not recorded
    assert 0 < len(reader.episode(0)) <= 13.0 / 0.05 + 1
    with pytest.raises(SystemExit):
        mod.main(["--out", str(tmp_path / "bad"), "--takeover", "3", "1"])


def test_action_names_must_match_a_declared_action_space():
    from vla_ros.policy.errors import PolicyConfigError
    from vla_ros.retarget.robot_model import RobotModel

    model = RobotModel.load("panda")
    assert list(action_space_for(model, EE).names) == EE
    with pytest.raises(PolicyConfigError, match="match none of panda's action spaces"):
        action_space_for(model, ["a", "b"])


def test_eval_command_resolves_task_sets():
    from vla_ros.commands.eval import resolve_tasks
    from vla_ros.sim.tasks import tasks_in_split

    assert resolve_tasks("unseen") == tasks_in_split("unseen")
    assert resolve_tasks("pick_cube, open_door") == ["pick_cube", "open_door"]
    with pytest.raises(KeyError):
        resolve_tasks("fly_away")


class WatchingPolicy(ReplayPolicy):
    """A replay policy that also keeps every image it was shown."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[float, np.ndarray]] = []

    def infer(self, obs: Observation) -> ActionChunk:
        chunk = super().infer(obs)
        self.seen.append((obs.stamp - self.t0, obs.images["scene"]))
        return chunk


def test_injected_fault_reaches_the_policy_from_its_onset_and_is_recorded():
    mod, roll = expert_pick_cube()
    policy = WatchingPolicy(mod.ee_actions(roll.action_ee), roll.control_dt,
                            list(roll.joint_names))
    cfg = EvalConfig(execute_steps=4, render_size=(32, 32), fault="occlusion",
                     fault_onset=(1.0, 1.0), max_seconds=2.0)
    loop = ClosedLoop(policy, cfg)
    try:
        result = loop.episode("pick_cube", 7)
    finally:
        loop.close()
    assert result.fault == "occlusion" and result.fault_onset == pytest.approx(1.0, abs=0.06)
    before = [img for t, img in policy.seen if t < 1.0 - 1e-6]
    after = [img for t, img in policy.seen if t >= 1.0 - 1e-6]
    assert before and after
    gray = lambda img: (img == 40).all(axis=2).mean()  # noqa: E731
    assert max(gray(i) for i in before) < 0.05
    assert min(gray(i) for i in after) >= 0.3 * 0.3 - 0.02  # the smallest drawn patch


def test_fault_draws_are_reproducible_and_follow_the_rate():
    from vla_ros.policy.errors import PolicyConfigError
    from vla_ros.policy.evaluate import check_fault_config

    cfg = EvalConfig(fault="random", fault_rate=0.5, fault_onset=(0.5, 3.0))
    draws = [cfg.draw_fault("pick_cube", s) for s in range(200)]
    injected = [d for d in draws if d is not None]
    assert 70 <= len(injected) <= 130
    assert {d.mode for d in injected} == {"camera_noise", "occlusion", "perturbation"}
    assert all(0.5 <= d.onset_s <= 3.0 for d in injected)
    again = cfg.draw_fault("pick_cube", 3)
    assert (again is None) == (draws[3] is None)
    if again is not None:
        assert (again.mode, again.onset_s, again.patch) == (draws[3].mode, draws[3].onset_s,
                                                            draws[3].patch)
    assert EvalConfig().draw_fault("pick_cube", 0) is None
    assert EvalConfig(fault="occlusion", fault_rate=0.0).draw_fault("pick_cube", 0) is None
    for bad, match in [(dict(fault="meteor"), "unknown fault 'meteor'"),
                       (dict(fault="occlusion", fault_rate=1.5), "fault rate"),
                       (dict(fault="occlusion", fault_onset=(3.0, 1.0)), "onset window")]:
        with pytest.raises(PolicyConfigError, match=match):
            check_fault_config(EvalConfig(**bad))


def test_rollouts_name_the_injected_fault_of_failed_episodes(tmp_path):
    from vla_ros.commands.eval import save_rollouts
    from vla_ros.policy.evaluate import EpisodeResult
    from vla_ros.safety.rollouts import load_rollouts

    def episode(seed, success, fault="", onset=None):
        n = 3
        return EpisodeResult("pick_cube", "seen", seed, "pick", success, 1.0, 0.1,
                             np.arange(n) * 0.4, np.ones((n, 4), np.float32),
                             np.zeros((n, 2, 7), np.float32), np.zeros(n, bool),
                             fault=fault, fault_onset=onset)

    results = [episode(0, False, "occlusion", 0.7), episode(1, False),
               episode(2, True, "camera_noise", 1.0), episode(3, False, "perturbation", None)]
    loaded = load_rollouts(save_rollouts(tmp_path / "r.npz", results, "test")).rollouts
    assert [r.failure_mode for r in loaded] == ["occlusion", "natural", "", "natural"]
    assert loaded[0].extra["fault"] == "occlusion" and loaded[0].extra["fault_onset"] == 0.7
    assert loaded[3].extra["fault"] == ""  # drawn, but the episode ended before its onset
    assert len({r.rollout_id for r in loaded}) == 4


@pytest.mark.parametrize("extra, match", [
    (["--runner", "nodes", "--fault", "occlusion"], "--fault runs a policy with --runner direct"),
    (["--policy-type", "expert", "--fault", "random"], "--fault runs a policy"),
    (["--fault", "meteor"], "unknown fault 'meteor'"),
    (["--fault", "random", "--fault-rate", "2"], "fault rate"),
    (["--strategy", "rtc", "--runner", "nodes"], "--strategy runs with --runner direct"),
    (["--strategy", "temporal_ensemble", "--strategy-args", "[1]"], "must be a JSON object"),
    (["--strategy", "temporal_ensemble", "--strategy-args", "{m: 1}"], "is not JSON"),
    (["--strategy", "teleport"], "unknown execution strategy 'teleport'"),
    (["--background-fixture", "--runner", "nodes"], "--background-fixture runs with --runner"),
    (["--background-fixture", "--policy-type", "expert", "--tasks", "pick_cube,open_door"],
     "open_door uses a cabinet itself"),
])
def test_eval_command_refuses_bad_options_before_running(extra, match, tmp_path):
    import argparse

    from vla_ros.commands import eval as eval_cmd
    from vla_ros.policy.errors import PolicyConfigError

    parser = argparse.ArgumentParser()
    eval_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["eval", "--tasks", "pick_cube", "--out", str(tmp_path / "x"),
                              *extra])
    with pytest.raises(PolicyConfigError, match=match):
        args.func(args)
    assert not (tmp_path / "x").exists()


def test_background_fixture_episodes_stand_a_cabinet_behind_the_scene():
    """--background-fixture: every episode's scene has an unused cabinet, seeds that do not
    fit are passed over, and the expert still solves the task in front of it."""
    from vla_ros.policy.evaluate import ExpertLoop, _layout_seeds, run_episodes
    from vla_ros.sim.env import SimEnv
    from vla_ros.sim.tasks import LayoutError

    cfg = EvalConfig(episodes=3, seed=500_000, background_fixture=True)
    seeds = _layout_seeds("cube_in_bowl", cfg)
    assert len(seeds) == 3 and seeds == sorted(set(seeds)) and seeds[0] >= 500_000
    env = SimEnv("panda")
    try:
        for seed in range(seeds[0], seeds[-1] + 1):
            try:
                inst = env.reset(seed=seed, task="cube_in_bowl", background_fixture=True)
            except LayoutError:
                assert seed not in seeds
                continue
            assert seed in seeds
            assert inst.params["background_fixture"] in ("drawer_cabinet", "door_cabinet")
    finally:
        env.close()
    assert _layout_seeds("cube_in_bowl", EvalConfig(episodes=3)) == [500_000, 500_001, 500_002]

    cfg = EvalConfig(episodes=2, background_fixture=True)
    (summary,) = run_episodes(ExpertLoop(cfg), ["pick_cube"], cfg)
    assert [r.seed for r in summary.results] == _layout_seeds("pick_cube", cfg)
    assert all(r.success for r in summary.results)
