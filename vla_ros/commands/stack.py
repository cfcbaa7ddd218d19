"""Closed-loop episodes through the real nodes: launch/sim.launch.xml on the local backend.

mujoco_sim → perception_node → policy_node → retarget_node → the simulated controllers, all
in one process under one sim clock, exactly what `vla-ros demo` and a robot run. A probe
node watches the topics the way an operator would (camera, task success, chunks,
features, safety) and resets every node between episodes through their `~/reset`
services. `vla-ros eval --runner nodes` and `vla-ros demo` both run on it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from vla_ros.runtime import LATCHED, SENSOR_DATA, Node, msgs
from vla_ros.runtime.clock import time_msg_to_seconds
from vla_ros.runtime.convert import msg_to_image, multiarray_to_array, trajectory_arrays
from vla_ros.runtime.parameters import Parameter

RESET_SERVICES = ("/mujoco_sim/reset", "/policy_node/reset", "/retarget_node/reset",
                  "/failure_detector/reset")
SETTLE_S = 0.5  # success must hold this long to end an episode early


@dataclass
class StackEpisode:
    """What the probe saw during one episode (times in s since the episode's reset)."""

    task: str
    instruction: str = ""
    success: bool = False
    duration: float = 0.0
    halted_at: float | None = None
    frames: list[np.ndarray] = field(default_factory=list)
    scores: list[tuple[float, float, float]] = field(default_factory=list)  # t, score, band
    chunk_times: list[float] = field(default_factory=list)  # observation time of each chunk
    chunks: list[np.ndarray] = field(default_factory=list)  # [H, D] per chunk
    features: list[np.ndarray] = field(default_factory=list)  # per chunk
    done: list[bool] = field(default_factory=list)  # task already solved at that chunk

    @property
    def chunk_count(self) -> int:
        return len(self.chunks)


class StackProbe(Node):
    """Watches the stack: camera, success, chunks and features, safety score and halt."""

    def __init__(self, context, keep_frames: bool = True) -> None:
        super().__init__("stack_probe", context=context)
        self.episode: StackEpisode | None = None
        self.keep_frames = keep_frames
        self.start = 0.0
        self.success_since: float | None = None
        self.success_now = False
        self.create_subscription(msgs.Image, "camera/scene/image_raw", self._on_image,
                                 SENSOR_DATA)
        self.create_subscription(msgs.Bool, "sim/task_success", self._on_success, 10)
        self.create_subscription(msgs.String, "instruction", self._on_instruction, LATCHED)
        self.create_subscription(msgs.JointTrajectory, "policy/action_chunk", self._on_chunk, 10)
        self.create_subscription(msgs.Float32MultiArray, "policy/features", self._on_features,
                                 10)
        self.create_subscription(msgs.Float32MultiArray, "safety/score", self._on_score, 10)
        self.create_subscription(msgs.Bool, "safety/halt", self._on_halt, LATCHED)
        self.resets = {name: self.create_client(msgs.Trigger, name) for name in RESET_SERVICES}

    def now(self) -> float:
        return self.get_clock().now().seconds

    def begin(self, episode: StackEpisode) -> None:
        """Reset every node that offers `~/reset` (the sim lays out the next episode)."""
        self.episode = episode  # the sim's reset relays the instruction
        for name, client in self.resets.items():
            if client.service_is_ready():
                response = client.call(msgs.Trigger.Request())
                if not response.success:
                    raise RuntimeError(f"{name} refused the reset: {response.message}")
        self.start, self.success_since, self.success_now = self.now(), None, False
        episode.frames.clear()

    def _on_image(self, msg) -> None:
        if self.episode is not None and self.keep_frames:
            self.episode.frames.append(msg_to_image(msg))

    def _on_success(self, msg) -> None:
        self.success_now = bool(msg.data)
        if self.episode is None:
            return
        if msg.data and self.success_since is None:
            self.success_since = self.now()
        elif not msg.data:
            self.success_since = None

    def _on_instruction(self, msg) -> None:
        if self.episode is not None:
            self.episode.instruction = msg.data

    def _on_chunk(self, msg) -> None:
        if self.episode is None:
            return
        _, positions, _ = trajectory_arrays(msg)
        self.episode.chunk_times.append(time_msg_to_seconds(msg.header.stamp) - self.start)
        self.episode.chunks.append(positions)
        self.episode.done.append(self.success_now)

    def _on_features(self, msg) -> None:
        if self.episode is not None:
            self.episode.features.append(multiarray_to_array(msg)[0].reshape(-1))

    def _on_score(self, msg) -> None:
        if self.episode is not None:
            values = multiarray_to_array(msg)[0].reshape(-1)
            if values.size >= 2:
                t = self.now() - self.start
                self.episode.scores.append((t, float(values[0]), float(values[1])))

    def _on_halt(self, msg) -> None:
        if self.episode is not None and msg.data and self.episode.halted_at is None:
            self.episode.halted_at = self.now() - self.start

    def succeeded(self) -> bool:
        return self.success_since is not None and self.now() - self.success_since >= SETTLE_S


def launch_stack(context, arguments: dict[str, str], keep_frames: bool = True
                 ) -> tuple[dict[str, Node], StackProbe]:
    """launch/sim.launch.xml with `arguments` on `context`: (its nodes by name, a probe)."""
    from vla_ros.commands.launch import find_launch_file
    from vla_ros.runtime.launcher import launch_local

    nodes = launch_local(find_launch_file("sim.launch.xml"), arguments, context)
    return {n.get_name(): n for n in nodes}, StackProbe(context, keep_frames=keep_frames)


def camera_fps(sim) -> int:
    """Frames per second of mujoco_sim's cameras (what the probe's frames are sampled at)."""
    return int(round(sim.get_parameter("camera_rate_hz").value))


def run_stack_episode(context, sim, probe: StackProbe, task: str, time_limit: float,
                      fault: str = "", seed: int | None = None) -> StackEpisode:
    """Set the sim's task, fault (and layout seed), reset every node, spin until the task
    is solved (and stays solved for SETTLE_S), or the time limit; a faulted episode runs
    until a second after the halt."""
    params = [Parameter("task", value=task), Parameter("fault", value=fault)]
    if seed is not None:
        params.append(Parameter("seed", value=int(seed)))
    for result in sim.set_parameters(params):
        if not result.successful:
            raise ValueError(f"mujoco_sim refused the episode: {result.reason}")
    episode = StackEpisode(task=task)
    probe.begin(episode)
    context.spin_some()
    while probe.now() - probe.start < time_limit:
        context.spin_for(0.1)
        if not fault and probe.succeeded():
            break
        if episode.halted_at is not None and probe.now() - probe.start > episode.halted_at + 1.0:
            break  # held for a second after the halt: enough to see it
    episode.success = bool(sim.task_success)
    episode.duration = probe.now() - probe.start
    return episode


class NodeLoop:
    """`ClosedLoop`'s interface (episode(task, seed) → EpisodeResult) on the launched stack.

    Only checkpoints run this way (the launch file's `policy_checkpoint`): the nodes load
    them exactly as on a robot."""

    def __init__(self, checkpoint: str, robot: str = "panda",
                 max_seconds: float | None = None) -> None:
        os.environ.setdefault("MUJOCO_GL", "egl")
        from vla_ros.runtime.local import LocalContext

        self.max_seconds = max_seconds
        self.context = LocalContext(sim_time=True, isolate_crashes=True)
        self.context.__enter__()
        try:
            nodes, self.probe = launch_stack(
                self.context, {"robot": robot, "task": "", "seed": "0",
                               "policy_checkpoint": str(checkpoint),
                               "failure_detector": "false"}, keep_frames=False)
            self.sim = nodes["mujoco_sim"]
            # what policy_node actually loaded ('' resolves to the shipped checkpoint)
            self.checkpoint_path = nodes["policy_node"].checkpoint_path
            self.video_fps = camera_fps(self.sim)
        except BaseException:
            self.context.__exit__(None, None, None)
            raise

    def episode(self, task: str, seed: int, video: bool = False):
        from vla_ros.policy.evaluate import EpisodeResult
        from vla_ros.sim.tasks import get_task

        spec = get_task(task)
        limit = spec.time_limit if self.max_seconds is None else min(spec.time_limit,
                                                                      self.max_seconds)
        self.probe.keep_frames = video
        wall = time.perf_counter()
        e = run_stack_episode(self.context, self.sim, self.probe, task, limit, seed=seed)
        n = min(len(e.chunks), len(e.features))  # a chunk's features follow it
        return EpisodeResult(
            task=spec.name, split=spec.split, seed=seed, instruction=e.instruction,
            success=e.success, duration=e.duration, wall_s=time.perf_counter() - wall,
            times=np.asarray(e.chunk_times[:n]),
            features=np.asarray(e.features[:n], dtype=np.float32).reshape(n, -1),
            chunks=np.asarray(e.chunks[:n], dtype=np.float32) if n else np.zeros((0, 0, 0)),
            done=np.asarray(e.done[:n], dtype=bool), frames=list(e.frames),
            target=self.sim.target_tracker.trace() if self.sim.target_tracker else None)

    def close(self) -> None:
        self.context.__exit__(None, None, None)
