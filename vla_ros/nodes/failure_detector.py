"""failure_detector: SAFE failure detection on the policy's features; halts on alarm.

Topics      in   policy/features (std_msgs/Float32MultiArray, one per inference call, layout
                 label "chunk_id=N"), policy/action_chunk (trajectory_msgs/JointTrajectory;
                 only for detectors that read actions, e.g. stac), policy/episode
                 (std_msgs/String, optional: any message starts a new episode)
            out  safety/score (std_msgs/Float32MultiArray [score, threshold] per step),
                 safety/halt (std_msgs/Bool, transient_local = latched), /diagnostics
Services    ~/reset (clear the alarm, publish halt False, new episode), ~/halt (operator halt)
Parameters  checkpoint (detector directory from `vla-ros safety train`), feature_dim (0:
            take the checkpoint's; else must match), policy_id ('' : not checked; else must
            match the checkpoint's), alpha (0: the calibrated level; else re-derive the
            band), on_missing_detector ('warn' | 'halt').

Per feature message the monitor scores the step and compares it with the conformal band;
the first score above the band publishes halt=True at once, in the same callback, so the
halt leaves within the control period that produced the alarming features. The alarm
latches until ~/reset. Features of the wrong size, NaN/inf values or an unreadable
message are not skipped: they publish a halt too, with the reason in /diagnostics (a
detector that cannot see is no detector).

Episode boundaries: a new episode (detector state cleared, step count back to 0) starts
when the chunk id in the features' layout label does not increase (the policy restarted
counting after its reset), when a message arrives on policy/episode, or on ~/reset. A new
episode does not clear a latched alarm; only ~/reset does (an operator acknowledges it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.assets import share_dir
from vla_ros.policy.interface import parse_features_label
from vla_ros.runtime import LATCHED, Diagnostics, Node, msgs
from vla_ros.runtime.convert import (
    ConversionError,
    multiarray_msg,
    multiarray_to_array,
    trajectory_arrays,
)
from vla_ros.runtime.diagnostics import ERROR, OK, WARN
from vla_ros.runtime.entry import node_main
from vla_ros.runtime.parameters import ParameterDescriptor
from vla_ros.safety.checkpoint import load_detector
from vla_ros.safety.errors import DetectorInputError
from vla_ros.safety.monitor import FailureMonitor

SCORE_LABEL = "score,threshold"


def resolve_checkpoint(path: str) -> Path:
    """Absolute, relative to the working directory, or relative to the package share."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    return share_dir() / p


class FailureDetectorNode(Node):
    DEFAULT_NAME = "failure_detector"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.DEFAULT_NAME, **kwargs)
        ro = ParameterDescriptor(read_only=True)
        checkpoint = str(self.declare_parameter("checkpoint", "", ro).value)
        feature_dim = int(self.declare_parameter("feature_dim", 0, ro).value)
        policy_id = str(self.declare_parameter("policy_id", "", ro).value)
        alpha = float(self.declare_parameter("alpha", 0.0, ro).value)
        self.on_missing = str(self.declare_parameter("on_missing_detector", "warn", ro).value)
        if self.on_missing not in ("warn", "halt"):
            raise ValueError(f"on_missing_detector must be 'warn' or 'halt', "
                             f"got {self.on_missing!r}")
        self.diag = Diagnostics(self)
        self.halt_pub = self.create_publisher(msgs.Bool, "safety/halt", LATCHED)
        self.score_pub = self.create_publisher(msgs.Float32MultiArray, "safety/score", 10)
        self.monitor: FailureMonitor | None = None
        self.feature_dim = feature_dim
        if checkpoint:
            # A bad checkpoint is a start-up error (DetectorCheckpointError names why).
            bundle = load_detector(resolve_checkpoint(checkpoint), feature_dim=feature_dim,
                                   policy_id=policy_id, alpha=alpha if alpha > 0 else None)
            if bundle.band is None:
                raise ValueError(f"{checkpoint}: detector has no calibrated band; run "
                                 "`vla-ros safety train` (it calibrates) and use its output")
            self.monitor = FailureMonitor(bundle.detector, bundle.band)
            self.feature_dim = bundle.detector.feature_dim
            self.get_logger().info(
                f"watching policy/features with {bundle.detector.name} "
                f"(D={self.feature_dim}, policy {bundle.policy_id!r}, "
                f"alpha={bundle.band.alpha})")
            self.diag.report("detector", OK, f"{bundle.detector.name} ready",
                             alpha=bundle.band.alpha)
        else:
            self.get_logger().error("no detector checkpoint configured: failure detection is "
                                    "OFF (set the 'checkpoint' parameter)")
            self.diag.report("detector", ERROR, "no detector checkpoint: detection OFF")
        self.halted = False
        self.reason = ""
        self.last_chunk_id: int | None = None
        self._chunk: np.ndarray | None = None
        self.create_subscription(msgs.Float32MultiArray, "policy/features", self.on_features, 10)
        if self.monitor is not None and self.monitor.detector.needs_actions:
            self.create_subscription(msgs.JointTrajectory, "policy/action_chunk",
                                     self.on_action_chunk, 10)
        self.create_subscription(msgs.String, "policy/episode", self.on_episode, 10)
        self.create_service(msgs.Trigger, "~/reset", self.on_reset)
        self.create_service(msgs.Trigger, "~/halt", self.on_halt_service)
        self.halt_pub.publish(msgs.Bool(data=False))  # late joiners see the current state

    # ------------------------------------------------------------------ inputs
    def on_action_chunk(self, msg: Any) -> None:
        try:
            _, positions, _ = trajectory_arrays(msg)
        except (ConversionError, ValueError) as exc:
            self.fail_safe(f"unreadable policy/action_chunk: {exc}")
            return
        self._chunk = positions

    def on_episode(self, msg: Any) -> None:
        self.new_episode(f"policy/episode {msg.data!r}")

    def on_features(self, msg: Any) -> None:
        if self.monitor is None:
            if self.on_missing == "halt":
                self.fail_safe("features arrive but no detector checkpoint is configured")
            else:
                self.diag.count("unmonitored_steps")
                if self.diag.counters["unmonitored_steps"] % 100 == 1:
                    self.diag.report("detector", ERROR, "features arrive but no detector "
                                     "checkpoint is configured: detection OFF")
            return
        try:
            array, labels = multiarray_to_array(msg)
        except ConversionError as exc:
            self.fail_safe(f"unreadable policy/features message: {exc}")
            return
        chunk_id = self._chunk_id(labels)
        if chunk_id is not None:
            if self.last_chunk_id is not None and chunk_id <= self.last_chunk_id:
                self.new_episode(f"chunk id restarted ({self.last_chunk_id} -> {chunk_id})")
            self.last_chunk_id = chunk_id
        chunk = None
        if self.monitor.detector.needs_actions:
            chunk, self._chunk = self._chunk, None
        try:
            step = self.monitor.step(np.asarray(array).reshape(-1), chunk)
        except DetectorInputError as exc:
            self.fail_safe(f"bad policy/features (chunk {chunk_id}): {exc}")
            return
        # Halt first: it is the message that matters when the alarm fires.
        if step.new_alarm:
            self.halt(f"failure alarm: score {step.score:.4g} > band {step.threshold:.4g} "
                      f"at step {step.step} (chunk {chunk_id})", ERROR,
                      score=round(step.score, 6), threshold=round(step.threshold, 6),
                      step=step.step)
        self.score_pub.publish(multiarray_msg(np.array([step.score, step.threshold]),
                                              labels=[SCORE_LABEL]))

    def _chunk_id(self, labels: list[str]) -> int | None:
        if len(labels) == 1:
            try:
                return parse_features_label(labels[0])
            except ValueError as exc:
                self.diag.reject("features_label", f"{exc}; episode boundaries come only "
                                 "from policy/episode and ~/reset")
        return None

    # ------------------------------------------------------------------ halting
    def halt(self, reason: str, level: int = ERROR, **values: Any) -> None:
        """Publish halt=True (latched) and say why in /diagnostics."""
        self.halted = True
        self.reason = reason
        self.halt_pub.publish(msgs.Bool(data=True))
        self.get_logger().error(f"HALT: {reason}")
        self.diag.count("halts")
        self.diag.report("halt", level, reason, **values)

    def fail_safe(self, reason: str) -> None:
        """Input the detector cannot judge: halt rather than watch blind."""
        self.diag.count("bad_inputs")
        if not self.halted:
            self.halt(f"fail-safe: {reason}")
        else:
            self.diag.report("input", ERROR, reason)

    def new_episode(self, why: str) -> None:
        if self.monitor is not None:
            self.monitor.reset()
            if self.halted:  # keep the latched alarm; only ~/reset clears it
                self.monitor.alarm = True
        self.last_chunk_id = None
        self._chunk = None
        self.diag.report("episode", OK, f"new episode: {why}")

    def on_reset(self, request: Any, response: Any) -> Any:
        self.halted = False
        self.reason = ""
        self.new_episode("~/reset")
        self.halt_pub.publish(msgs.Bool(data=False))
        self.diag.report("halt", OK, "reset: alarm cleared")
        response.success = True
        response.message = "alarm cleared, halt=False published, new episode"
        return response

    def on_halt_service(self, request: Any, response: Any) -> Any:
        self.halt("operator halt (~/halt)", WARN)
        response.success = True
        response.message = "halt=True published (latched) until ~/reset"
        return response


NODE_CLASS = FailureDetectorNode
main = node_main(FailureDetectorNode)
