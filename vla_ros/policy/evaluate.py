"""Closed-loop evaluation of a policy in the MuJoCo task suite, straight against `SimEnv`.

Each episode: reset the task, then repeatedly render the cameras (at the simulator's
camera size, resized to the policy's as policy_node does), read the joint state, infer a
chunk, and execute its first `execute_steps` actions open loop. Action rows go through the
same `Retargeter` that retarget_node uses (the robot config's action space whose names
equal the chunk's names: `ee` rows are solved by IK, `joint` rows pass through), so a
checkpoint that scores here drives the ROS pipeline the same way. The episode succeeds
when the task predicate holds; it ends then or at the task's time limit.

Everything SAFE needs is kept per inference call: the feature vector, the chunk, the
time, and whether the task was already solved; the episode's final label comes last.
`EvalConfig.fault` injects the simulation's faults (`vla_ros.sim.failures.SimFault`:
camera noise, occlusion, a shove) into a share of the episodes, from a random onset on, so
the failure detector also trains on failures of tasks the policy otherwise masters.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.interface import Observation, Policy, resize_image
from vla_ros.sim import target_trace
from vla_ros.sim.target_trace import TargetTrace, TargetTracker


@dataclass
class EpisodeResult:
    """One closed-loop episode; arrays have one row per inference call."""

    task: str
    split: str
    seed: int
    instruction: str
    success: bool
    duration: float  # simulated seconds
    wall_s: float
    times: np.ndarray  # (N,) s since the episode start, at each inference
    features: np.ndarray  # (N, F)
    chunks: np.ndarray  # (N, H, A) predicted chunks
    done: np.ndarray  # (N,) task predicate when the observation was taken
    ik_failures: int = 0  # action rows whose pose IK did not reach (best effort executed)
    fault: str = ""  # the injected fault's mode ("" = none)
    fault_onset: float | None = None  # episode time it took effect (None: never did)
    frames: list[np.ndarray] = field(default_factory=list)  # scene camera per control step
    target: TargetTrace | None = None  # reach / travel / goal distance (None: not traced)

    @property
    def inferences(self) -> int:
        return int(len(self.times))


@dataclass
class EvalConfig:
    robot: str = "panda"
    episodes: int = 5  # per task
    seed: int = 500_000  # first layout seed; the demo script uses seeds < 100 000
    # actions executed per chunk before inferring again. 12 of the 16: more success than 8
    # on seen and unseen layouts, 4 and 16 less (docs/results.md); config/policy.yaml's
    # rate_hz (20 Hz / 12) gives the nodes the same
    execute_steps: int = 12
    render_size: tuple[int, int] = (128, 128)  # what mujoco_sim/perception publish (h, w)
    max_seconds: float | None = None  # cap on the task's time limit
    video_episodes: int = 0  # the first N episodes of each task keep scene-camera frames
    video_camera: str = "scene"
    fault: str = ""  # "" (none), a SimFault mode, or "random" (a mode drawn per episode)
    fault_rate: float = 1.0  # share of episodes that get the fault
    fault_onset: tuple[float, float] = (0.5, 3.0)  # onset drawn uniformly in this window (s)
    # "" executes `execute_steps` of each chunk open loop; a name of
    # vla_ros.policy.strategies (temporal_ensemble, rtc, ...) runs that executor tick by
    # tick instead, inferring whenever it asks (inference takes no simulated time here)
    strategy: str = ""
    strategy_options: dict = field(default_factory=dict)
    # an unused cabinet behind each loose-object scene (TaskSpec.instantiate): is the policy
    # distracted by a fixture it was not asked about? Seeds whose objects do not fit in
    # front of it are skipped (EpisodeResult.seed says which ran)
    background_fixture: bool = False

    def __post_init__(self) -> None:
        check_fault_config(self)
        self.make_executor()  # a bad strategy name or option fails here, before any episode

    def make_executor(self):
        """A fresh executor for one episode, or None for plain open-loop execution."""
        from vla_ros.policy.strategies import make_executor

        if not self.strategy:
            return None
        try:
            return make_executor(self.strategy, **self.strategy_options)
        except ValueError as err:
            raise PolicyConfigError(f"eval strategy: {err}") from None

    def draw_fault(self, task: str, seed: int):
        """The episode's `SimFault` (or None), a function of the task and layout seed."""
        from vla_ros.sim.failures import SimFault

        if not self.fault:
            return None
        rng = np.random.default_rng([seed, 11, zlib.crc32(task.encode())])
        inject = rng.random() < self.fault_rate
        mode = str(rng.choice(SimFault.MODES)) if self.fault == "random" else self.fault
        onset = float(rng.uniform(*self.fault_onset))
        return SimFault(mode, onset, seed, randomize=True) if inject else None


@dataclass
class TaskSummary:
    task: str
    split: str
    results: list[EpisodeResult] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return sum(r.success for r in self.results)

    @property
    def rate(self) -> float:
        return self.successes / max(1, len(self.results))


def action_space_for(robot_model, names: Sequence[str]):
    """The robot config's declared action space whose dimension names equal `names`."""
    from vla_ros.retarget.action_space import ActionSpace

    declared = getattr(robot_model.config, "action_spaces", {}) or {}
    for key in declared:
        space = ActionSpace.for_robot(robot_model, key)
        if list(space.names) == list(names):
            return space
    raise PolicyConfigError(
        f"the policy's action names {list(names)} match none of {robot_model.name}'s action "
        f"spaces ({sorted(declared)}); retarget_node could not execute them either")


class ClosedLoop:
    """Runs one policy on one robot's `SimEnv`; reuse it across episodes."""

    def __init__(self, policy: Policy, cfg: EvalConfig | None = None) -> None:
        os.environ.setdefault("MUJOCO_GL", "egl")
        from vla_ros.retarget.retargeter import Retargeter
        from vla_ros.retarget.robot_model import RobotModel
        from vla_ros.sim.env import SimEnv

        self.policy = policy
        self.cfg = cfg or EvalConfig()
        self.meta = policy.metadata
        self.video_fps = int(round(1.0 / self.meta.dt))  # a frame per control step
        self.checkpoint_path = getattr(policy, "checkpoint_path", None)
        self.env = SimEnv(self.cfg.robot)
        self.model = RobotModel.load(self.cfg.robot)
        self.space = action_space_for(self.model, self.meta.action_names)
        self.retargeter = Retargeter(self.model, self.space)
        env_joints = list(self.env.joint_names)
        missing = [n for n in self.meta.state_names if n not in env_joints]
        if missing:
            raise PolicyConfigError(f"policy state joints {missing} are not joints of the "
                                    f"{self.cfg.robot} simulation ({env_joints})")
        self.state_index = [env_joints.index(n) for n in self.meta.state_names]
        self.arm_index = [env_joints.index(n) for n in self.model.joint_names]
        unknown = [c for c in self.meta.cameras if c not in self.env.camera_names]
        if unknown:
            raise PolicyConfigError(f"policy cameras {unknown} are not cameras of the "
                                    f"simulation ({self.env.camera_names})")
        self.fault = None  # the running episode's SimFault

    def observe(self, instruction: str, episode_time: float) -> Observation:
        """Cameras (corrupted by the episode's fault from its onset), joints, instruction."""
        h, w = self.cfg.render_size
        images = {}
        for c in self.meta.cameras:
            frame = self.env.render(c, w, h)  # corrupted at the size mujoco_sim publishes
            if self.fault is not None:
                frame = self.fault.corrupt(frame, episode_time)
            images[c] = resize_image(frame, self.meta.image_size)
        state = self.env.joint_positions()[self.state_index]
        return Observation(images=images, state=state, instruction=instruction,
                           stamp=self.env.time)

    def episode(self, task: str, seed: int, video: bool = False) -> EpisodeResult:
        """One closed-loop episode; `video` keeps a scene-camera frame per control step."""
        from vla_ros.sim.tasks import get_task

        spec = get_task(task)
        inst = self.env.reset(seed=seed, task=spec,
                              background_fixture=self.cfg.background_fixture)
        limit = inst.time_limit if self.cfg.max_seconds is None else min(
            inst.time_limit, self.cfg.max_seconds)
        return self.run(spec, inst, limit, seed=seed, video=video,
                        fault=self.cfg.draw_fault(spec.name, seed))

    def run(self, spec, inst, limit: float, *, seed: int, video: bool = False,
            fault=None) -> EpisodeResult:  # fmt: skip
        """Reset the policy and let it drive the task already set up in the simulator for
        `limit` simulated seconds or until it succeeds, under `fault` (a SimFault or None;
        `episode`; DAgger-style data hands the rest of the episode to the scripted expert)."""
        self.fault = fault
        self.policy.reset()
        dt = self.meta.dt
        n_sub = max(1, int(round(dt / self.env.timestep)))
        start_wall = time.perf_counter()
        t0 = self.env.time
        times, feats, chunks, done = [], [], [], []
        success = bool(spec.success(self.env, inst))
        ik_failures = 0
        hand_names = list(self.model.hand_joint_names)
        h, w = self.cfg.render_size
        frames = [self.env.render(self.cfg.video_camera, w, h)] if video else []
        executor = self.cfg.make_executor()
        tracker = TargetTracker(self.env, inst.target, inst.goal)
        plan: list[np.ndarray] = []  # open loop: rows of the current chunk still to execute
        while not success and self.env.time - t0 < limit - 1e-9:
            t = self.env.time - t0
            # Action k of a chunk observed at s is the setpoint for s + (k + 1) dt, so this
            # step executes the executor's action for t + dt. Inference takes no simulated
            # time here: infer when the strategy asks, or when nothing covers that tick.
            if (executor.should_infer(t) or executor.peek(t + dt) is None) if executor \
                    else not plan:
                obs = self.observe(inst.instruction, t)
                chunk = self.policy.infer(obs)
                times.append(t)
                feats.append(np.zeros(0) if chunk.features is None else chunk.features)
                chunks.append(chunk.actions)
                done.append(success)
                q = self.env.joint_positions()[self.arm_index]
                self.retargeter.reset(self.model.q_from_joints(q))
                if executor:
                    executor.push((chunk.actions, t, chunk.dt), now=t)
                else:
                    plan = list(chunk.actions[:min(self.cfg.execute_steps, chunk.horizon)])
            row = executor.action_at(t + dt) if executor else plan.pop(0)
            if row is not None:  # None: nothing covers this tick, the targets hold
                result = self.retargeter.step(row, dt=dt)
                ik_failures += not result.reached
                names = list(self.model.joint_names)
                values = [result.joints]
                if result.hand is not None:
                    names += hand_names
                    values.append(result.hand)
                self.env.set_position_targets(names, np.concatenate(values))
            if self.fault is not None:
                self.fault.update(self.env, inst.target, self.env.time - t0)
            self.env.step(n_sub)
            tracker.update()
            if video:
                frames.append(self.env.render(self.cfg.video_camera, w, h))
            success = bool(spec.success(self.env, inst))
        return EpisodeResult(
            task=spec.name, split=spec.split, seed=seed, instruction=inst.instruction,
            success=success, duration=self.env.time - t0,
            wall_s=time.perf_counter() - start_wall, times=np.asarray(times),
            features=np.asarray(feats, dtype=np.float32),
            chunks=np.asarray(chunks, dtype=np.float32).reshape(
                len(chunks), self.meta.horizon, self.meta.action_dim),
            done=np.asarray(done, dtype=bool), ik_failures=ik_failures, frames=frames,
            fault=self.fault.mode if self.fault is not None else "",
            fault_onset=self.fault.fired_at if self.fault is not None else None,
            target=tracker.trace())

    def close(self) -> None:
        self.env.close()


def check_fault_config(cfg: EvalConfig) -> None:
    """Refuse an unknown fault, a rate outside [0, 1] or an empty onset window (run when an
    EvalConfig is made, so before any simulator or node starts)."""
    from vla_ros.sim.failures import SimFault

    if cfg.fault and cfg.fault != "random" and cfg.fault not in SimFault.MODES:
        raise PolicyConfigError(f"unknown fault '{cfg.fault}'; faults: random, "
                                f"{', '.join(SimFault.MODES)}")
    if not 0.0 <= cfg.fault_rate <= 1.0:
        raise PolicyConfigError(f"fault rate must be in [0, 1], got {cfg.fault_rate}")
    lo, hi = cfg.fault_onset
    if not 0.0 <= lo <= hi:
        raise PolicyConfigError(f"fault onset window must be 0 <= lo <= hi, got {lo}, {hi}")


def evaluate(policy: Policy, tasks: Sequence[str], cfg: EvalConfig | None = None,
             progress: Callable[[EpisodeResult], None] | None = None) -> list[TaskSummary]:
    """`cfg.episodes` closed-loop episodes of every task (seeds cfg.seed, cfg.seed + 1, …),
    straight against the simulator."""
    cfg = cfg or EvalConfig()
    return run_episodes(ClosedLoop(policy, cfg), tasks, cfg, progress)


def run_episodes(loop, tasks: Sequence[str], cfg: EvalConfig,
                 progress: Callable[[EpisodeResult], None] | None = None) -> list[TaskSummary]:
    """Episodes of every task on `loop` (a `ClosedLoop`, or the launched stack's
    `commands.stack.NodeLoop`), which is closed at the end."""
    out = []
    try:
        from vla_ros.sim.tasks import get_task

        seeds = {task: _layout_seeds(task, cfg) for task in tasks}  # bad options fail here
        for task in tasks:
            summary = TaskSummary(task, get_task(task).split)
            for seed in seeds[task]:
                result = loop.episode(task, seed, video=len(summary.results) < cfg.video_episodes)
                summary.results.append(result)
                if progress is not None:
                    progress(result)
            out.append(summary)
    finally:
        loop.close()
    return out


def _layout_seeds(task: str, cfg: EvalConfig) -> list[int]:
    """`cfg.episodes` layout seeds from `cfg.seed` on. With a background fixture, seeds
    whose scene does not fit in front of the cabinet are passed over (up to 10x as many
    tried); without one every seed is used, as always."""
    if not cfg.background_fixture:
        return [cfg.seed + i for i in range(cfg.episodes)]
    from vla_ros.sim.env import SimEnv
    from vla_ros.sim.tasks import LayoutError, get_task

    spec = get_task(task)
    if spec.target_kind not in ("cube", "cylinder"):
        raise PolicyConfigError(f"--background-fixture: {task} uses a cabinet itself; the "
                                "option is for tasks on loose objects")
    env, seeds = SimEnv(cfg.robot), []
    try:
        for seed in range(cfg.seed, cfg.seed + 10 * cfg.episodes):
            try:
                env.reset(seed=seed, task=spec, background_fixture=True)
            except LayoutError:
                continue
            seeds.append(seed)
            if len(seeds) == cfg.episodes:
                return seeds
    finally:
        env.close()
    raise PolicyConfigError(f"--background-fixture: only {len(seeds)} of {10 * cfg.episodes} "
                            f"{task} layouts from seed {cfg.seed} fit in front of a cabinet")


class ExpertLoop:
    """The scripted experts behind `ClosedLoop`'s interface: the ceiling on the same layouts
    (no policy: no checkpoint, features or videos)."""

    checkpoint_path = None
    video_fps = None

    def __init__(self, cfg: EvalConfig) -> None:
        os.environ.setdefault("MUJOCO_GL", "egl")
        from vla_ros.sim.env import SimEnv

        self.env = SimEnv(cfg.robot)
        self.background_fixture = cfg.background_fixture

    def episode(self, task: str, seed: int, video: bool = False) -> EpisodeResult:
        from vla_ros.sim.rollout import run_expert_episode

        start = time.perf_counter()
        roll = run_expert_episode(self.env, task, seed,
                                  background_fixture=self.background_fixture)
        return EpisodeResult(
            task=roll.task, split=roll.split, seed=roll.seed, instruction=roll.instruction,
            success=roll.success, duration=roll.duration, wall_s=time.perf_counter() - start,
            times=np.zeros((0,)), features=np.zeros((0, 0), np.float32),
            chunks=np.zeros((0, 0, 0)), done=np.zeros(0, bool))

    def close(self) -> None:
        self.env.close()


def write_videos(summaries: Sequence[TaskSummary], folder, fps: int) -> list:
    """One mp4 per episode that kept frames: `<task>_<seed>_<success|failure>.mp4`."""
    from vla_ros.data.video import write_mp4

    folder = Path(folder)
    written = []
    for s in summaries:
        for r in s.results:
            if r.frames:
                folder.mkdir(parents=True, exist_ok=True)
                outcome = "success" if r.success else "failure"
                written.append(write_mp4(folder / f"{r.task}_{r.seed}_{outcome}.mp4",
                                         r.frames, fps))
    return written


def markdown_table(summaries: Sequence[TaskSummary], title: str = "") -> str:
    """Per-task success rate, episode length and inference count, with a total row."""
    lines = [f"### {title}", ""] if title else []
    lines += ["| task | split | episodes | successes | success rate | mean sim s "
              "| chunks/episode |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    all_results = []
    for s in summaries:
        all_results += s.results
        lines.append(_row(s.task, s.split, s.results))
    if len(summaries) > 1:
        splits = sorted({s.split for s in summaries})
        lines.append(_row("**all**", "/".join(splits), all_results))
    return "\n".join(lines + failure_phase_table(summaries)) + "\n"


def failure_phase_table(summaries: Sequence[TaskSummary]) -> list[str]:
    """Markdown lines counting each task's traced failures by the phase they ended in
    (`target_trace.PHASES`): none when no failure was traced."""
    phases = target_trace.PHASES
    rows = []
    for s in summaries:
        traces = [r.target for r in s.results if not r.success and r.target is not None]
        if traces:
            counts = target_trace.phase_counts(traces)
            rows.append(f"| {s.task} | {len(traces)} | "
                        + " | ".join(str(counts[p]) for p in phases) + " |")
    if not rows:
        return []
    reach, moved = target_trace.REACH_M, target_trace.MOVED
    return ["", f"Failures by phase (reached: the gripper within {reach * 100:.0f} cm of the "
            f"target; moved: more than {moved * 100:.0f} cm, or a fixture's joint "
            f"{moved} m/rad):", "",
            "| task | failures | " + " | ".join(phases) + " |",
            "| --- | ---: | " + " | ".join("---:" for _ in phases) + " |"] + rows


def _row(name: str, split: str, results: Sequence[EpisodeResult]) -> str:
    n = len(results)
    k = sum(r.success for r in results)
    dur = np.mean([r.duration for r in results]) if results else 0.0
    inf = np.mean([r.inferences for r in results]) if results else 0.0
    return (f"| {name} | {split} | {n} | {k} | {k / max(n, 1):.0%} | {dur:.1f} | "
            f"{inf:.1f} |")
