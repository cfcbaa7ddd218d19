"""Parallel demonstration collection: scripted experts in worker processes, one dataset writer.

Each worker process owns one headless MuJoCo `SimEnv` (spawned, so nothing of the parent's
MuJoCo/OpenGL state is inherited; `MUJOCO_GL=egl` unless set) and runs whole expert
episodes, returning the `Rollout`. The parent is the only process that touches the dataset
(a LeRobotDataset v3 is single-writer: `DatasetWriter` holds a lock) and writes episodes in
plan order, whatever order the workers finish in, so a collection is reproducible from
`seed` alone: the same seed gives the same episodes, task strings and failure labels for
any number of workers.

By default only successful clean expert episodes are written (training demonstrations).
`keep_failures` writes every episode, with per-frame labels for failure detectors:
`episode.success` (bool), `failure.mode` (int64 code, 0 = none, see `FAILURE_CODES`;
also stored in meta/failure_modes.json) and `failure.active` (bool: the injected failure
had taken effect by that frame).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ACTION_SPACES = ("joint", "ee")
EE_ACTION_NAMES = ("x", "y", "z", "rx", "ry", "rz", "gripper")  # retarget's ee / axis_angle
SUCCESS_KEY = "episode.success"
FAILURE_MODE_KEY = "failure.mode"
FAILURE_ACTIVE_KEY = "failure.active"
SUMMARY_NAME = "meta/collect_summary.md"
FAILURE_CODES_NAME = "meta/failure_modes.json"


class CollectError(ValueError):
    """Bad collection request (unknown task, split, camera, fraction ...)."""


def failure_codes() -> dict[str, int]:
    """failure mode -> code stored in `failure.mode` (0 = no injected failure)."""
    from vla_ros.sim.failures import FAILURE_MODES

    return {"none": 0, **{m: i + 1 for i, m in enumerate(FAILURE_MODES)}}


@dataclass(frozen=True)
class CollectConfig:
    """What to collect. `image_size` is (height, width)."""

    tasks: tuple[str, ...]
    episodes_per_task: int = 10
    robot: str = "panda"
    cameras: tuple[str, ...] = ("scene", "wrist")
    image_size: tuple[int, int] = (128, 128)
    control_hz: float = 20.0
    seed: int = 0
    failures: float = 0.0  # fraction of each task's episodes run with an injected failure
    keep_failures: bool = False
    action: str = "joint"  # joint: joint position targets; ee: [x y z rx ry rz gripper]
    workers: int | None = None  # None: os.cpu_count(); 0: run in this process

    def __post_init__(self) -> None:
        if not self.tasks:
            raise CollectError("no tasks to collect")
        if self.episodes_per_task < 1:
            raise CollectError(f"episodes per task must be >= 1, got {self.episodes_per_task}")
        if not 0.0 <= self.failures <= 1.0:
            raise CollectError(f"--failures is a fraction in [0, 1], got {self.failures}")
        if self.action not in ACTION_SPACES:
            raise CollectError(f"action space {self.action!r} is not one of {ACTION_SPACES}")
        fps = self.control_hz
        if fps <= 0 or abs(fps - round(fps)) > 1e-9:
            raise CollectError(f"control_hz must be a positive whole number (the dataset fps), "
                               f"got {fps}")
        if self.workers is not None and self.workers < 0:
            raise CollectError(f"workers must be >= 0, got {self.workers}")
        h, w = self.image_size
        if h < 1 or w < 1:
            raise CollectError(f"image size must be positive, got {self.image_size}")

    @property
    def fps(self) -> int:
        return int(round(self.control_hz))

    @property
    def num_workers(self) -> int:
        return (os.cpu_count() or 1) if self.workers is None else self.workers


def resolve_tasks(spec: str) -> tuple[str, ...]:
    """`seen`, `unseen`, `all` or comma-separated task names -> task names (checked)."""
    from vla_ros.sim.tasks import TASKS, UnknownTaskError, get_task, tasks_in_split

    spec = spec.strip()
    if spec in ("seen", "unseen"):
        return tuple(tasks_in_split(spec))
    if spec == "all":
        return tuple(TASKS)
    names = tuple(dict.fromkeys(n.strip() for n in spec.split(",") if n.strip()))
    if not names:
        raise CollectError("--tasks is empty; give seen, unseen, all or task names")
    for name in names:
        try:
            get_task(name)
        except UnknownTaskError as exc:
            raise CollectError(str(exc)) from None
    return names


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: its place in the plan, task, layout seed and failure mode."""

    order: int
    task: str
    seed: int
    failure: str | None


def plan_jobs(config: CollectConfig) -> list[EpisodeJob]:
    """The episodes of a collection, in the order they are written.

    Seeds depend on (seed, task name, episode number) only, so adding a task or episodes
    does not change the others. round(failures * N) of each task's episodes get a failure
    mode, cycling through the modes in a seeded order.
    """
    from vla_ros.sim.failures import FAILURE_MODES

    jobs: list[EpisodeJob] = []
    n = config.episodes_per_task
    for task in config.tasks:
        key = zlib.crc32(task.encode())
        rng = np.random.default_rng([config.seed, key])
        n_fail = int(round(config.failures * n))
        failing = set(rng.permutation(n)[:n_fail].tolist())
        modes = [FAILURE_MODES[i] for i in rng.permutation(len(FAILURE_MODES))]
        k = 0
        for i in range(n):
            seed = int(np.random.SeedSequence([config.seed, key, i]).generate_state(1)[0])
            failure = None
            if i in failing:
                failure, k = modes[k % len(modes)], k + 1
            jobs.append(EpisodeJob(len(jobs), task, seed, failure))
    return jobs


# -------------------------------------------------------------------------- workers
_ENV: Any = None
_ENV_KEY: tuple | None = None


def _env_for(config: CollectConfig) -> Any:
    """This process's SimEnv, built on first use and kept for all its episodes (a scene costs
    ~0.1 s). Built lazily inside the job, not in a pool initializer, so that a bad camera
    reaches the parent as an exception instead of a pool that keeps respawning workers."""
    global _ENV, _ENV_KEY
    key = (config.robot, config.cameras)
    if _ENV is None or key != _ENV_KEY:
        os.environ.setdefault("MUJOCO_GL", "egl")
        from vla_ros.sim.env import SimEnv

        env = SimEnv(config.robot)
        unknown = [c for c in config.cameras if c not in env.camera_names]
        if unknown:
            raise CollectError(f"unknown camera(s) {unknown}; the scene has {env.camera_names}")
        _ENV, _ENV_KEY = env, key
    return _ENV


@dataclass
class EpisodeOutcome:
    """A finished job: its rollout, or the error that stopped it."""

    job: EpisodeJob
    rollout: Any = None  # vla_ros.sim.rollout.Rollout
    error: str = ""
    seconds: float = 0.0


def run_job(job: EpisodeJob, config: CollectConfig) -> EpisodeOutcome:
    """One episode in this process (what every worker runs)."""
    from vla_ros.sim.rollout import run_expert_episode

    env = _env_for(config)
    h, w = config.image_size
    start = time.perf_counter()
    try:
        rollout = run_expert_episode(env, job.task, job.seed, control_hz=config.control_hz,
                                     failure=job.failure, cameras=config.cameras,
                                     image_size=(w, h))
    except Exception as exc:  # an expert or layout failure costs one episode, not the run
        return EpisodeOutcome(job, error=f"{type(exc).__name__}: {exc}",
                              seconds=time.perf_counter() - start)
    return EpisodeOutcome(job, rollout, seconds=time.perf_counter() - start)


def run_jobs(config: CollectConfig, jobs: Sequence[EpisodeJob]) -> Iterator[EpisodeOutcome]:
    """Outcomes in plan order; workers run ahead while the caller writes.

    At most 2 x workers episodes are in flight, so finished rollouts (with their images)
    do not pile up in the parent's memory.
    """
    workers = min(config.num_workers, len(jobs))
    if workers == 0:
        for job in jobs:
            yield run_job(job, config)
        return
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    os.environ.setdefault("MUJOCO_GL", "egl")  # spawned workers inherit it
    ctx = multiprocessing.get_context("spawn")
    queue = list(jobs)[::-1]
    running: dict[Any, EpisodeJob] = {}
    done: dict[int, EpisodeOutcome] = {}
    next_order = 0
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        try:
            while queue or running or done:
                while queue and len(running) + len(done) < 2 * workers:
                    job = queue.pop()
                    running[pool.submit(run_job, job, config)] = job
                if next_order not in done:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        job = running.pop(future)
                        try:
                            outcome = future.result()
                        except BrokenProcessPool as exc:
                            raise CollectError(
                                f"a worker process died while running {job.task} seed "
                                f"{job.seed} ({exc}); episodes written so far are kept. From a "
                                "script, call collect() under `if __name__ == '__main__':` "
                                "(workers are spawned and re-import the main module)") from exc
                        done[outcome.job.order] = outcome
                while next_order in done:
                    yield done.pop(next_order)
                    next_order += 1
        except BaseException:
            for future in running:
                future.cancel()
            raise


# ------------------------------------------------------------------------- writing
def _action_columns(rollout: Any) -> list[int]:
    """Columns of the expert's joint targets that a controller takes: each joint once, and
    no mimic followers (the Panda's second finger follows the first), so the action space
    equals what the retarget node commands through the arm and gripper controllers."""
    from vla_ros.sim.robots import get_robot

    followers = set(get_robot(rollout.robot).mimic)
    seen: dict[str, int] = {}
    for i, n in enumerate(rollout.action_joint_names):
        if n not in followers:
            seen.setdefault(n, i)
    return list(seen.values())


def action_names(rollout: Any, space: str) -> list[str]:
    if space == "ee":
        return list(EE_ACTION_NAMES)
    return [rollout.action_joint_names[i] for i in _action_columns(rollout)]


def actions(rollout: Any, space: str) -> np.ndarray:
    if space == "ee":
        return np.asarray(rollout.action_ee)
    return np.asarray(rollout.action_joints)[:, _action_columns(rollout)]


def open_writer(root: Path, config: CollectConfig, rollout: Any):
    """Create (or append to, if compatible) the dataset, with names from the first rollout."""
    from vla_ros.data import DatasetWriter, ExtraFeature

    extras = None
    if config.keep_failures:
        extras = {SUCCESS_KEY: ExtraFeature("bool"), FAILURE_MODE_KEY: ExtraFeature("int64"),
                  FAILURE_ACTIVE_KEY: ExtraFeature("bool")}
    cameras = {c: tuple(config.image_size) for c in config.cameras}
    return DatasetWriter(root, fps=config.fps, state_names=list(rollout.joint_names),
                         action_names=action_names(rollout, config.action), cameras=cameras,
                         robot_type=config.robot, extras=extras)


def write_rollout(writer: Any, rollout: Any, config: CollectConfig) -> int:
    """One rollout as one episode; returns its episode index."""
    acts = actions(rollout, config.action)
    code = failure_codes()[rollout.failure_mode or "none"]
    onset = rollout.failure_onset
    for t in range(len(rollout.times)):
        extra = {}
        if config.keep_failures:
            active = onset is not None and rollout.times[t] >= onset - 1e-9
            extra = {SUCCESS_KEY: bool(rollout.success), FAILURE_MODE_KEY: code,
                     FAILURE_ACTIVE_KEY: bool(active)}
        images = {c: rollout.images[c][t] for c in config.cameras}
        writer.add_frame(rollout.joint_positions[t], acts[t], images or None,
                         task=rollout.instruction, **extra)
    return writer.save_episode()


# ------------------------------------------------------------------------- summary
@dataclass
class TaskTally:
    episodes: int = 0
    successes: int = 0
    clean: int = 0
    clean_successes: int = 0
    injected: int = 0
    errors: int = 0
    written: int = 0
    frames: int = 0
    seconds: float = 0.0

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def expert_success_rate(self) -> float:
        return self.clean_successes / self.clean if self.clean else float("nan")


@dataclass
class CollectSummary:
    root: Path
    config: CollectConfig
    tasks: dict[str, TaskTally] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    episode_indices: list[int] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(t.written for t in self.tasks.values())

    def rows(self) -> list[list[str]]:
        rows = []
        total = TaskTally()
        for name, t in self.tasks.items():
            rows.append(self._row(name, t))
            for key in vars(total):
                setattr(total, key, getattr(total, key) + getattr(t, key))
        rows.append(self._row("all", total))
        return rows

    @staticmethod
    def _row(name: str, t: TaskTally) -> list[str]:
        expert = "-" if not t.clean else f"{t.expert_success_rate:.0%}"
        return [name, str(t.episodes), f"{t.success_rate:.0%}", expert, str(t.injected),
                str(t.errors), str(t.written), str(t.frames),
                f"{t.seconds / max(t.episodes, 1):.1f}"]

    HEADER = ["task", "episodes", "success", "expert success", "failures injected", "errors",
              "written", "frames", "s/episode"]

    def markdown(self) -> str:
        c = self.config
        lines = [
            "# Collection summary", "",
            f"- dataset: `{self.root}`",
            f"- robot {c.robot}, cameras {list(c.cameras)} at {c.image_size[0]}x"
            f"{c.image_size[1]}, {c.fps} fps, action space `{c.action}`",
            f"- {c.episodes_per_task} episodes per task, seed {c.seed}, failures {c.failures:g}, "
            f"{'all episodes kept' if c.keep_failures else 'successful clean episodes kept'}",
            f"- {c.num_workers} worker process(es), {self.wall_s:.1f} s wall", "",
            "| " + " | ".join(self.HEADER) + " |",
            "|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(self.HEADER)))
            + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows()]
        if self.errors:
            lines += ["", "Errors:", *[f"- {e}" for e in self.errors]]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- entry
def collect(root: str | Path, config: CollectConfig,
            progress: Callable[[int], Any] | bool = True) -> CollectSummary:
    """Run the plan, write the dataset at `root`, save and return the summary.

    `progress`: True for a tqdm bar on stderr, False for none, or a callable taking the
    number of finished episodes (for other front ends).
    """
    from vla_ros.data.recorder import check_dataset_folder
    from vla_ros.sim.robots import UnknownRobotError, get_robot

    try:
        get_robot(config.robot)
    except UnknownRobotError as exc:
        raise CollectError(str(exc)) from None
    root = Path(root)
    check_dataset_folder(root)  # refuse a foreign folder before minutes of simulation
    jobs = plan_jobs(config)
    summary = CollectSummary(root, config, {t: TaskTally() for t in config.tasks})
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="ep", desc="collect", dynamic_ncols=True)
    start = time.perf_counter()
    writer = None
    try:
        for done, outcome in enumerate(run_jobs(config, jobs), start=1):
            tally = summary.tasks[outcome.job.task]
            tally.episodes += 1
            tally.seconds += outcome.seconds
            tally.injected += outcome.job.failure is not None
            if outcome.error:
                tally.errors += 1
                summary.errors.append(f"{outcome.job.task} seed {outcome.job.seed}: "
                                      f"{outcome.error}")
            else:
                r = outcome.rollout
                tally.successes += r.success
                if outcome.job.failure is None:
                    tally.clean += 1
                    tally.clean_successes += r.success
                keep = config.keep_failures or (r.success and outcome.job.failure is None)
                if keep:
                    if writer is None:
                        writer = open_writer(root, config, r)
                    summary.episode_indices.append(write_rollout(writer, r, config))
                    tally.written += 1
                    tally.frames += len(r.times)
            if bar is not None:
                ok = sum(t.successes for t in summary.tasks.values())
                bar.set_postfix(success=f"{ok}/{done}", written=summary.written)
                bar.update(1)
            elif callable(progress):
                progress(done)
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    summary.wall_s = time.perf_counter() - start
    if writer is not None:
        (root / SUMMARY_NAME).write_text(summary.markdown())
        if config.keep_failures:
            (root / FAILURE_CODES_NAME).write_text(json.dumps(failure_codes(), indent=2) + "\n")
    return summary
