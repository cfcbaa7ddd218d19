"""policy_node: camera images + joint states + instruction → action chunks and SAFE features.

At `rate_hz` the node assembles the newest observation and runs the policy once
(`trigger: timer`, the built-in default), or, with `trigger: frame` (as config/policy.yaml
sets it), as soon as every camera has delivered a processed frame newer than those of the
last inference, at most `rate_hz` times a second (a frame set that comes sooner is skipped
unless the rate allows it within a twentieth of a period):
  subscribes  perception/<camera>/image (sensor_msgs/Image, one per policy camera),
              joint_states (sensor_msgs/JointState), instruction (std_msgs/String),
              safety/halt (std_msgs/Bool, latched)
  publishes   policy/action_chunk (trajectory_msgs/JointTrajectory: joint_names = action
              dimensions, point k at time_from_start (k+1)*dt, header stamp = observation
              time), policy/features (std_msgs/Float32MultiArray, label "chunk_id=N",
              N from 1 again after ~/reset), /diagnostics
  services    ~/reset (clears a halt, resets the policy), ~/halt (std_srvs/Trigger)

It never guesses: a camera or joint state that is missing, older than `max_age`, or
malformed yields no chunk and a diagnostic saying which input and why. After a halt
(safety/halt true or ~/halt) it neither infers nor publishes until ~/reset.

Why `trigger: frame`: a free-running timer is not in phase with the cameras, so a frame
waits up to a whole period (100 ms at 10 Hz) for the next tick before inference starts;
triggered by the frames, camera → chunk latency is the processing time alone
(bench/policy.py --only latency measures both in closed loop). Each frame set is used by
one inference attempt at most; joint_states never trigger (the newest one is read). In
frame mode the `rate_hz` timer is only a watchdog: when no frame set has triggered for two
periods it checks the inputs so a missing or stale camera still gets its diagnostic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.policy.errors import PolicyError, PolicyInputError
from vla_ros.policy.interface import (
    ActionChunk,
    Observation,
    Policy,
    features_label,
    resize_image,
)
from vla_ros.policy.registry import make_policy
from vla_ros.runtime import LATCHED, SENSOR_DATA, Diagnostics, Node, msgs
from vla_ros.runtime.clock import time_msg_to_seconds
from vla_ros.runtime.convert import (
    ConversionError,
    joint_positions,
    msg_to_image,
    multiarray_msg,
    trajectory_msg,
)
from vla_ros.runtime.diagnostics import ERROR, OK, WARN
from vla_ros.runtime.entry import node_main
from vla_ros.runtime.parameters import ParameterDescriptor, SetParametersResult

ChunkHook = Callable[[ActionChunk], ActionChunk | None]

# name: (default, description); config/policy.yaml sets them for launches.
PARAMETERS: dict[str, tuple[Any, str]] = {
    "policy_type": ("builtin", "builtin | remote | lerobot (see vla_ros.policy.registry)"),
    "checkpoint": ("", "checkpoint folder; '' = checkpoints/<robot> if shipped, else "
                       "checkpoints/default"),
    "device": ("cpu", "cpu | cuda | cuda:N | auto"),
    "backend": ("", "builtin network runner: eager | jit | compile; '' = the default"),
    "policy_args": ("", "JSON object of extra policy options (e.g. a remote server's host)"),
    "robot": ("", "robot name; picks checkpoints/<robot> when no checkpoint is given"),
    "rate_hz": (10.0, "inference rate (chunks per second at most)"),
    "trigger": ("timer", "timer: infer every 1/rate_hz on the newest inputs | frame: infer "
                         "when every camera has a frame newer than the last inference's "
                         "(still at most rate_hz chunks/s)"),
    "max_age": (0.5, "oldest usable image or joint state, in seconds"),
    "instruction": ("", "instruction used until one arrives on the 'instruction' topic"),
    "horizon": (0, "publish only the first N steps of each chunk; 0 = the whole chunk"),
    "execution_strategy": ("", "strategy applied to each chunk before publishing; '' = "
                               "publish as predicted (execution normally happens downstream)"),
    "resize_images": (True, "resize camera images of another size to the policy's image "
                            "size (area interpolation, as in training); false: reject them"),
    "state_joints": ([""], "joint_states names read as the policy state, in order; [''] = "
                           "the policy's own state names"),
}
_RUNTIME_SETTABLE = {"max_age", "instruction"}
TRIGGERS = ("timer", "frame")
RETRY_DIVISOR = 20  # frame mode: a capped frame set is retried every period / 20


class PolicyNode(Node):
    DEFAULT_NAME = "policy_node"

    def __init__(self, policy: Policy | None = None, **kwargs: Any) -> None:
        """`policy` injects a ready Policy (tests, embedding); else parameters build one."""
        super().__init__(self.DEFAULT_NAME, **kwargs)
        v = {name: self.declare_parameter(name, default, ParameterDescriptor(
                 description=text, read_only=name not in _RUNTIME_SETTABLE)).value
             for name, (default, text) in PARAMETERS.items()}
        self.policy_type = str(v["policy_type"])
        self.robot = str(v["robot"])
        rate = float(v["rate_hz"])
        self.max_age = float(v["max_age"])
        self.instruction = str(v["instruction"])
        self.horizon = int(v["horizon"])
        self.strategy_name = str(v["execution_strategy"])
        self.resize_images = bool(v["resize_images"])
        state_joints = [str(j) for j in v["state_joints"]]
        self.trigger = str(v["trigger"])
        if self.trigger not in TRIGGERS:
            raise ValueError(f"{self.get_name()}: trigger must be one of {', '.join(TRIGGERS)}, "
                             f"got {self.trigger!r}")
        if rate <= 0 or self.max_age <= 0:
            raise ValueError(f"{self.get_name()}: rate_hz and max_age must be > 0, got "
                             f"{rate}, {self.max_age}")
        if self.horizon < 0:
            raise ValueError(f"{self.get_name()}: horizon must be >= 0, got {self.horizon}")

        self.policy = policy if policy is not None else self._make_policy(
            str(v["checkpoint"]), str(v["device"]), str(v["backend"]), str(v["policy_args"]))
        meta = self.policy.metadata
        self.cameras = list(meta.cameras)
        self.image_size = tuple(int(x) for x in meta.image_size)
        self.state_joints = [j for j in state_joints if j] or list(meta.state_names)
        if len(self.state_joints) != meta.state_dim:
            raise ValueError(f"{self.get_name()}: state_joints has {len(self.state_joints)} "
                             f"names but the policy state has {meta.state_dim}")
        self.chunk_hook: ChunkHook | None = self._load_hook(self.strategy_name)

        self.diag = Diagnostics(self)
        self._images: dict[str, Any] = {}
        self._joints: Any = None
        self.halted = False
        self.chunk_id = 0
        self._latency_ewma = float("nan")
        # trigger=frame: image stamps of the last attempt, its clock time (ns), the cap
        self._used: dict[str, float] = {}
        self._last_attempt_ns: int | None = None
        self._period_ns = int(round(1e9 / rate))
        for cam in self.cameras:
            self.create_subscription(msgs.Image, f"perception/{cam}/image",
                                     lambda msg, cam=cam: self._on_image(cam, msg),
                                     SENSOR_DATA)
        self.create_subscription(msgs.JointState, "joint_states", self._on_joints, SENSOR_DATA)
        self.create_subscription(msgs.String, "instruction", self._on_instruction, 10)
        self.create_subscription(msgs.Bool, "safety/halt", self._on_halt, LATCHED)
        self.chunk_pub = self.create_publisher(msgs.JointTrajectory, "policy/action_chunk", 10)
        self.features_pub = self.create_publisher(msgs.Float32MultiArray, "policy/features", 10)
        self.create_service(msgs.Trigger, "~/reset", self._on_reset)
        self.create_service(msgs.Trigger, "~/halt", self._on_halt_service)
        if self.trigger == "timer":
            self.timer = self.create_timer(1.0 / rate, self.tick)
        else:
            self.timer = self.create_timer(1.0 / rate, self._watchdog)
            self._retry = self.create_timer(1.0 / rate / RETRY_DIVISOR, self._on_frames)
            self._retry.cancel()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(
            f"{self.policy_type} policy: cameras {self.cameras}, state {self.state_joints}, "
            f"actions {list(meta.action_names)}, horizon {meta.horizon} x {meta.dt:.3f} s, "
            f"{rate:g} Hz, trigger {self.trigger}"
        )

    # ------------------------------------------------------------------ set-up
    def _make_policy(self, checkpoint: str, device: str, backend: str, args: str) -> Policy:
        try:
            options = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.get_name()}: policy_args is not JSON: {exc}") from None
        if not isinstance(options, dict):
            raise ValueError(f"{self.get_name()}: policy_args must be a JSON object")
        if self.policy_type == "builtin":
            options.setdefault("checkpoint", checkpoint or self._default_checkpoint())
            options.setdefault("device", device)
            if backend:
                options.setdefault("backend", backend)
        elif checkpoint:
            options.setdefault("checkpoint", checkpoint)
        return make_policy(self.policy_type, **options)

    def _default_checkpoint(self) -> str:
        from vla_ros.policy.vla import default_checkpoint_path

        default = default_checkpoint_path()
        per_robot = default.parent / self.robot if self.robot else None
        return str(per_robot if per_robot and (per_robot / "config.json").is_file() else default)

    def _load_hook(self, name: str) -> ChunkHook | None:
        """Execution-strategy hook: `vla_ros.policy.strategies.chunk_hook(name, metadata)`."""
        if not name:
            return None
        import importlib

        try:
            strategies = importlib.import_module("vla_ros.policy.strategies")
        except ModuleNotFoundError:
            raise ValueError(f"{self.get_name()}: execution_strategy {name!r} needs "
                             "vla_ros.policy.strategies, which is not installed") from None
        factory = getattr(strategies, "chunk_hook", None)
        if factory is None:
            raise ValueError(f"{self.get_name()}: vla_ros.policy.strategies has no "
                             "chunk_hook(name, metadata) to build execution strategies")
        return factory(name, self.policy.metadata)

    # --------------------------------------------------------------- callbacks
    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        for prm in params:
            if prm.name == "max_age":
                if not float(prm.value) > 0:
                    return SetParametersResult(False, f"max_age must be > 0, got {prm.value}")
                self.max_age = float(prm.value)
            elif prm.name == "instruction":
                self.instruction = str(prm.value).strip()
        return SetParametersResult(True)

    def _on_image(self, cam: str, msg: Any) -> None:
        self._images[cam] = msg
        if self.trigger == "frame":
            self._on_frames()

    def _on_joints(self, msg: Any) -> None:
        self._joints = msg

    def _on_instruction(self, msg: Any) -> None:
        text = str(msg.data).strip()
        if not text:
            self.diag.reject("instruction", "empty instruction ignored")
            return
        if text != self.instruction:
            self.get_logger().info(f"instruction: {text!r}")
        self.instruction = text

    def _on_halt(self, msg: Any) -> None:
        if bool(msg.data) and not self.halted:
            self._halt("safety/halt")

    def _on_halt_service(self, request: Any, response: Any) -> Any:
        self._halt("~/halt service")
        response.success = True
        response.message = "halted: no chunks until ~/reset"
        return response

    def _halt(self, source: str) -> None:
        self.halted = True
        self.get_logger().warning(f"halted by {source}: no inference until ~/reset")
        self.diag.report("policy", WARN, f"halted by {source}", chunks=self.chunk_id)

    def _on_reset(self, request: Any, response: Any) -> Any:
        self.halted = False
        self.chunk_id = 0  # restarts per episode: the failure detector sees the boundary
        self.policy.reset()
        reset_hook = getattr(self.chunk_hook, "reset", None)
        if callable(reset_hook):
            reset_hook()
        self.diag.report("policy", OK, "reset: inferring again")
        response.success = True
        response.message = "policy reset; halt cleared"
        return response

    # ------------------------------------------------------- trigger: frame
    def _new_frame_set(self) -> dict[str, float] | None:
        """Every camera's image stamp when each is newer than the last attempt's, else None."""
        stamps = {}
        for cam in self.cameras:
            msg = self._images.get(cam)
            if msg is None:
                return None
            stamp = time_msg_to_seconds(msg.header.stamp)
            if stamp <= self._used.get(cam, float("-inf")):
                return None
            stamps[cam] = stamp
        return stamps

    def _on_frames(self) -> None:
        """A frame arrived (or the short retry fired): infer once per new frame set, at most
        once per 1/rate_hz. A set that comes too soon is retried (every period/20) only when
        the rate allows it within period/20; otherwise it is skipped and the next frame
        triggers, so a rate below the camera's never feeds the policy a waiting, aged frame."""
        stamps = None if self.halted else self._new_frame_set()
        if stamps is None:
            self._retry.cancel()
            return
        now = self.get_clock().now().nanoseconds
        if self._last_attempt_ns is not None:
            wait = self._period_ns - (now - self._last_attempt_ns)
            if wait > self._period_ns // RETRY_DIVISOR:
                self._retry.cancel()
                self._used = stamps  # skipped: too early and too long to hold
                return
            if wait > 0:
                if self._retry.is_canceled():
                    self._retry.reset()
                return
        self._retry.cancel()
        self._used = stamps
        self._last_attempt_ns = now
        self.tick()

    def _watchdog(self) -> None:
        """trigger=frame: with no frame set for two periods, diagnose the inputs (no chunk)."""
        if self.halted:
            return
        now = self.get_clock().now().nanoseconds
        if self._last_attempt_ns is None or now - self._last_attempt_ns > 2 * self._period_ns:
            self.observation()  # reports a missing or stale input on /diagnostics

    # ------------------------------------------------------------------ tick
    def tick(self) -> None:
        if self.halted:
            return
        obs = self.observation()
        if obs is None:
            return
        start = time.perf_counter()
        try:
            chunk = self.policy.infer(obs)
        except PolicyInputError as exc:
            self.diag.reject("observation", str(exc))
            return
        except PolicyError as exc:
            self.diag.count("policy_errors")
            self.diag.report("policy", ERROR, f"inference failed: {exc}")
            return
        if self.halted:  # a halt that arrived while inferring (ros backend, other thread)
            return
        if self.chunk_hook is not None:
            chunk = self.chunk_hook(chunk)
            if chunk is None:
                return
        self.publish(chunk)
        self._note_latency(time.perf_counter() - start)

    def observation(self) -> Observation | None:
        """The newest complete, fresh observation, or None after a diagnostic."""
        now = self.get_clock().now().seconds
        stamps = []
        images = {}
        for cam in self.cameras:
            msg = self._images.get(cam)
            if msg is None:
                return self._missing("images", f"no image yet from camera '{cam}' "
                                               f"(perception/{cam}/image)")
            stamp = self._fresh(f"camera '{cam}' image", msg.header.stamp, now)
            if stamp is None:
                return None
            try:
                image = msg_to_image(msg)
            except ConversionError as exc:
                return self._reject("images", f"camera '{cam}': {exc}")
            if msg.encoding == "bgr8":
                image = np.ascontiguousarray(image[:, :, ::-1])
            elif msg.encoding != "rgb8":
                return self._reject("images", f"camera '{cam}': encoding {msg.encoding} "
                                              "is not rgb8/bgr8")
            if self.resize_images and image.ndim == 3 and image.shape[:2] != self.image_size:
                image = resize_image(image, self.image_size)
            images[cam] = image
            stamps.append(stamp)
        if self._joints is None:
            return self._missing("joint_states", "no joint_states received yet")
        stamp = self._fresh("joint_states", self._joints.header.stamp, now)
        if stamp is None:
            return None
        try:
            state = joint_positions(self._joints, self.state_joints)
        except ConversionError as exc:
            return self._reject("joint_states", str(exc))
        stamps.append(stamp)
        if not self.instruction:
            return self._missing("instruction", "no instruction (publish on 'instruction' "
                                                "or set the instruction parameter)")
        # The chunk is anchored at the oldest input it was computed from.
        return Observation(images=images, state=state, instruction=self.instruction,
                           stamp=min(stamps))

    def _fresh(self, what: str, stamp_msg: Any, now: float) -> float | None:
        stamp = time_msg_to_seconds(stamp_msg)
        if stamp == 0.0:
            self._reject("stale", f"{what} has no header stamp (0); cannot judge its age")
            return None
        age = now - stamp
        if age > self.max_age:
            self._reject("stale", f"{what} is {age:.3f} s old (max_age {self.max_age} s)",
                         age=round(age, 4))
            return None
        if age < -self.max_age:
            self._reject("stale", f"{what} is stamped {-age:.3f} s in the future; clocks "
                                  "disagree (use_sim_time?)", age=round(age, 4))
            return None
        return stamp

    def _reject(self, component: str, reason: str, **values: Any) -> None:
        """Count, log (throttled) and publish why no chunk was made; always None."""
        self.diag.reject(component, reason, **values)
        return None

    _missing = _reject

    # ---------------------------------------------------------------- publish
    def publish(self, chunk: ActionChunk) -> None:
        steps = chunk.horizon if self.horizon == 0 else min(self.horizon, chunk.horizon)
        self.chunk_id += 1
        self.chunk_pub.publish(trajectory_msg(chunk.names, chunk.actions[:steps],
                                              chunk.times[:steps], stamp=chunk.stamp))
        if chunk.features is not None:
            self.features_pub.publish(multiarray_msg(
                np.asarray(chunk.features, dtype=np.float32).reshape(-1),
                labels=[features_label(self.chunk_id)]))
        self.diag.count("chunks")

    def _note_latency(self, seconds: float) -> None:
        a = 0.1
        prev = self._latency_ewma
        self._latency_ewma = seconds if prev != prev else (1 - a) * prev + a * seconds
        if self.chunk_id == 1 or self.chunk_id % 100 == 0:
            self.diag.report("policy", OK, "inferring", chunks=self.chunk_id,
                             latency_ms=round(self._latency_ewma * 1e3, 2))

    @property
    def checkpoint_path(self) -> Path | None:
        return getattr(self.policy, "checkpoint_path", None)


NODE_CLASS = PolicyNode
main = node_main(PolicyNode)
