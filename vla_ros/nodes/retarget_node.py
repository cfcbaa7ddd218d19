"""retarget_node: policy action chunks and teleop twists -> joint trajectories for the controllers.

  subscribes  policy/action_chunk (trajectory_msgs/JointTrajectory: joint_names = the action
              space's dimension names, any column order; one point per chunk step),
              teleop/twist (geometry_msgs/TwistStamped, base frame), teleop/gripper
              (std_msgs/Float64, 0 open ... 1 closed), joint_states (sensor_msgs/JointState),
              safety/halt (std_msgs/Bool, latched)
  publishes   <controller>/joint_trajectory (the robot's joint names, one point per chunk
              step with the chunk's time_from_start and header stamp),
              <gripper_controller>/joint_trajectory (the gripper/hand joints),
              /diagnostics (every rejected input with its reason, unreachable targets)
  services    ~/reset (clears a halt), ~/halt (std_srvs/Trigger)

Each chunk is retargeted row by row with IK warm-started from the measured joint state and
then from the previous row's solution (`vla_ros.retarget.Retargeter`). A chunk with a
non-finite value, the wrong names or a malformed point is refused whole: nothing is
published and the reason goes to /diagnostics. Targets are always finite and inside the
joint limits; an unreachable pose still moves as far as it can, with a warning.

An EMPTY JointTrajectory stops a joint_trajectory_controller (and the sim's controller) where
it is. It is sent at once on halt (after which chunks and twists are ignored until ~/reset)
and by the watchdog when a running trajectory has had no valid chunk for `command_timeout`.
A non-zero twist (servo mode, integrated at `servo_rate_hz` into one-point trajectories)
takes precedence over chunks while it is fresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vla_ros.assets import share_dir
from vla_ros.retarget.action_space import ActionSpace
from vla_ros.retarget.errors import RetargetError
from vla_ros.retarget.retargeter import Retargeter, RetargetResult
from vla_ros.retarget.robot_model import RobotModel
from vla_ros.runtime import LATCHED, SENSOR_DATA, Diagnostics, Node, msgs
from vla_ros.runtime.clock import duration_msg_to_seconds, time_msg_to_seconds
from vla_ros.runtime.convert import ConversionError, joint_positions, trajectory_msg
from vla_ros.runtime.diagnostics import ERROR, OK, WARN
from vla_ros.runtime.entry import node_main
from vla_ros.runtime.parameters import ParameterDescriptor

JTC_TYPE = "joint_trajectory_controller/JointTrajectoryController"
TOPIC_SUFFIX = "/joint_trajectory"

# name: (default, description); config/retarget.yaml sets them for launches.
PARAMETERS: dict[str, tuple[Any, str]] = {
    "robot": ("panda", "robot name: config/robots/<robot>.yaml"),
    "robot_config": ("", "robot config YAML path; '' = config/robots/<robot>.yaml"),
    "action_space": ("", "action space declared in the robot config; '' = its default"),
    "controller": ("", "arm controller name (publishes <controller>/joint_trajectory); "
                       "'' = from the robot config's controller_topic"),
    "gripper_controller": ("", "gripper/hand controller name; '' = from the robot config's "
                               "hand.controller_topic; 'none' = never command the hand"),
    "controllers_file": ("", "ros2_control YAML giving each controller's joints; '' = "
                             "config/controllers/<robot>_controllers.yaml when present"),
    "command_timeout": (0.5, "s without a valid chunk while a trajectory runs -> hold"),
    "servo_rate_hz": (50.0, "rate at which twists are integrated into trajectories"),
    "twist_timeout": (0.2, "s; an older twist no longer drives the robot"),
    "max_linear_speed": (0.5, "m/s; faster twists are scaled down to it (with a warning)"),
    "max_angular_speed": (2.0, "rad/s; faster twists are scaled down to it"),
    "max_joint_state_age": (0.5, "s; chunks and twists need joint_states this recent"),
    "ik_max_steps": (40, "QP iterations per chunk step at most"),
    "position_tolerance": (1e-3, "m; IK converged / target reached"),
    "orientation_tolerance": (1e-2, "rad; IK converged / target reached"),
}


def controller_joints(path: Path) -> dict[str, list[str]]:
    """controller name -> joints, for each joint_trajectory_controller of a ros2_control YAML."""
    try:
        data = yaml.safe_load(path.read_text())
        manager = data["controller_manager"]["ros__parameters"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read controllers from {path}: {exc}") from None
    out = {}
    for name, entry in manager.items():
        if isinstance(entry, dict) and entry.get("type") == JTC_TYPE:
            try:
                out[name] = [str(j) for j in data[name]["ros__parameters"]["joints"]]
            except (KeyError, TypeError):
                raise ValueError(f"{path}: controller '{name}' lists no joints") from None
    return out


def _prefix(topic: str | None) -> str:
    """`arm_controller/joint_trajectory` -> `arm_controller`."""
    if not topic:
        return ""
    return topic[: -len(TOPIC_SUFFIX)] if topic.endswith(TOPIC_SUFFIX) else topic


class RetargetNode(Node):
    DEFAULT_NAME = "retarget_node"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.DEFAULT_NAME, **kwargs)
        v = {name: self.declare_parameter(name, default, ParameterDescriptor(
                 description=text, read_only=True)).value
             for name, (default, text) in PARAMETERS.items()}  # fmt: skip
        self.command_timeout = float(v["command_timeout"])
        self.twist_timeout = float(v["twist_timeout"])
        self.max_state_age = float(v["max_joint_state_age"])
        servo_hz = float(v["servo_rate_hz"])
        self.max_speeds = (float(v["max_linear_speed"]), float(v["max_angular_speed"]))
        for key in ("command_timeout", "twist_timeout", "max_joint_state_age", "servo_rate_hz",
                    "max_linear_speed", "max_angular_speed"):
            if not float(v[key]) > 0:
                raise ValueError(f"{self.get_name()}: {key} must be > 0, got {v[key]!r}")

        self.robot = RobotModel.load(str(v["robot_config"]) or str(v["robot"]))
        cfg = self.robot.config
        try:
            self.space = ActionSpace.for_robot(self.robot, str(v["action_space"]) or None)
        except RetargetError as exc:
            raise ValueError(f"{self.get_name()}: {exc}") from None
        self.retargeter = Retargeter(
            self.robot, self.space, max_steps=int(v["ik_max_steps"]),
            tol_pos=float(v["position_tolerance"]), tol_rot=float(v["orientation_tolerance"]))
        self.arm_controller = str(v["controller"]) or _prefix(cfg.controller_topic)
        gripper = str(v["gripper_controller"]) or _prefix(cfg.hand.controller_topic)
        self.gripper_controller = "" if gripper == "none" else gripper
        self.gripper_joints = self._gripper_joints(str(v["controllers_file"]))

        self.diag = Diagnostics(self, hardware_id=f"retarget:{cfg.name}")
        # state first: a latched halt may be delivered as soon as its subscription exists
        self.halted = False
        self._joints: np.ndarray | None = None
        self._hand: np.ndarray | None = None
        self._joints_time = -np.inf
        self._twist: np.ndarray | None = None
        self._twist_time = -np.inf
        self._teleop_gripper: float | None = None
        self._sent_gripper: float | None = None
        self._last_chunk_time = -np.inf
        self._trajectory_end = -np.inf
        self._running = False
        self._last_reject: dict[str, float] = {}
        self.chunks_published = 0
        self.arm_pub = self.create_publisher(
            msgs.JointTrajectory, f"{self.arm_controller}/joint_trajectory", 10)
        self.gripper_pub = None
        if self.gripper_controller and self.gripper_joints:
            self.gripper_pub = self.create_publisher(
                msgs.JointTrajectory, f"{self.gripper_controller}/joint_trajectory", 10)
        self.create_subscription(msgs.JointTrajectory, "policy/action_chunk", self.on_chunk, 10)
        self.create_subscription(msgs.TwistStamped, "teleop/twist", self.on_twist, 10)
        self.create_subscription(msgs.Float64, "teleop/gripper", self.on_gripper, 10)
        self.create_subscription(msgs.JointState, "joint_states", self.on_joint_states,
                                 SENSOR_DATA)
        self.create_subscription(msgs.Bool, "safety/halt", self.on_halt, LATCHED)
        self.create_service(msgs.Trigger, "~/reset", self.on_reset)
        self.create_service(msgs.Trigger, "~/halt", self.on_halt_service)
        self.servo_period = 1.0 / servo_hz
        self.create_timer(self.servo_period, self.servo_tick)
        self.create_timer(min(0.05, self.command_timeout / 4), self.watchdog_tick)

        self.get_logger().info(
            f"{cfg.name}: action space {self.space.describe()} -> "
            f"{self.arm_controller}/joint_trajectory"
            + (f" + {self.gripper_controller}/joint_trajectory {self.gripper_joints}"
               if self.gripper_pub else ""))  # fmt: skip

    def _gripper_joints(self, controllers_file: str) -> list[str]:
        """Hand joints the gripper controller commands (a mimic finger is not commanded)."""
        hand = list(self.robot.hand_joint_names)
        if not self.gripper_controller or not hand:
            return []
        robot = self.robot.config.name
        path = Path(controllers_file) if controllers_file else (
            share_dir() / "config" / "controllers" / f"{robot}_controllers.yaml")
        if not path.is_file():
            if controllers_file:
                raise ValueError(f"{self.get_name()}: controllers_file {path} not found")
            return hand
        joints = controller_joints(path).get(self.gripper_controller)
        if joints is None:
            return hand
        unknown = [j for j in joints if j not in hand]
        if unknown:
            raise ValueError(f"{self.get_name()}: {path}: {self.gripper_controller} joints "
                             f"{unknown} are not hand joints of {robot} ({hand})")
        return joints

    # --- inputs ----------------------------------------------------------------------------
    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_joint_states(self, msg) -> None:
        names = set(msg.name)
        if not names.intersection(self.robot.joint_names):
            return  # another publisher's joints (e.g. a separate hand driver)
        try:
            self._joints = joint_positions(msg, self.robot.joint_names)
        except ConversionError as exc:
            self.diag.reject("joint_states", f"unusable joint_states: {exc}")
            return
        self._joints_time = self.now_s()
        if names.issuperset(self.robot.hand_joint_names):
            try:
                self._hand = joint_positions(msg, self.robot.hand_joint_names)
            except ConversionError:
                self._hand = None

    def _measured(self, what: str) -> np.ndarray | None:
        """Fresh measured joints, or None after rejecting `what` with the reason."""
        if self._joints is None:
            self.diag.reject(what, "no joint_states received yet: cannot retarget")
            return None
        age = self.now_s() - self._joints_time
        if age > self.max_state_age:
            self.diag.reject(what, f"joint_states are {age:.2f} s old "
                                   f"(max_joint_state_age {self.max_state_age} s)")
            return None
        return self._joints

    def on_twist(self, msg) -> None:
        t = msg.twist
        twist = np.array([t.linear.x, t.linear.y, t.linear.z,
                          t.angular.x, t.angular.y, t.angular.z], dtype=float)
        if not np.all(np.isfinite(twist)):
            self._reject_throttled("twist", f"twist holds NaN/inf: {twist.tolist()}")
            return
        for part, limit, unit in ((twist[:3], self.max_speeds[0], "m/s"),
                                  (twist[3:], self.max_speeds[1], "rad/s")):
            biggest = float(np.max(np.abs(part)))
            if biggest == 0.0:
                continue
            speed = biggest * float(np.linalg.norm(part / biggest))  # no overflow at 1e308
            if speed > limit:
                part *= limit / speed
                self.diag.count("twists_scaled")
                self.get_logger().warning(
                    f"twist of {speed:.3g} {unit} scaled down to {limit} {unit}",
                    throttle_duration_sec=1.0)
        self._twist = twist
        self._twist_time = self.now_s()

    def on_gripper(self, msg) -> None:
        value = float(msg.data)
        if not np.isfinite(value):
            self.diag.reject("gripper", f"gripper command is not finite: {value}")
            return
        self._teleop_gripper = value

    def _reject_throttled(self, component: str, reason: str, period: float = 1.0) -> None:
        """Reject on /diagnostics at most once per `period` (a stream of twists would flood
        it); every rejection is still counted."""
        now = self.now_s()
        if now - self._last_reject.get(component, -np.inf) >= period:
            self._last_reject[component] = now
            self.diag.reject(component, reason)
        else:
            self.diag.count(f"rejected_{component}")

    def servo_active(self) -> bool:
        """A fresh, non-zero twist: the operator is driving."""
        return (self._twist is not None and bool(np.any(self._twist != 0.0))
                and self.now_s() - self._twist_time <= self.twist_timeout)

    # --- chunks ------------------------------------------------------------------------------
    def on_chunk(self, msg) -> None:
        if self.halted:
            self._reject_throttled("chunk", "halted (safety/halt or ~/halt): chunks are "
                                            "ignored until ~/reset")
            return
        if self.servo_active():
            self._reject_throttled("chunk", "teleop twist active: it overrides policy chunks")
            return
        try:
            rows, times = self._chunk_arrays(msg)
        except RetargetError as exc:
            self.diag.reject("chunk", f"chunk rejected: {exc}")
            return
        stamp = msg.header.stamp
        start = time_msg_to_seconds(stamp)
        now = self.now_s()
        if start and start + float(times[-1]) <= now:
            self.diag.reject("chunk", f"chunk rejected: it ends in the past (stamp {start:.3f} s"
                                      f" + last time_from_start {times[-1]:.3f} s <= now "
                                      f"{now:.3f} s): the policy is too slow or its clock is off")
            return
        q = self._measured("chunk")
        if q is None:
            return
        if self._hand is not None:
            self.retargeter.reset(q, self._hand)
        try:
            results = self.retargeter.step_chunk(rows, q, times)
        except RetargetError as exc:
            self.diag.reject("chunk", f"chunk rejected: {exc}")
            return
        self._report(results)
        self._publish(results, times, stamp)
        self._last_chunk_time = now
        self._trajectory_end = (start or now) + float(times[-1])
        self._running = True
        self.chunks_published += 1

    def _chunk_arrays(self, msg) -> tuple[np.ndarray, np.ndarray]:
        """Chunk -> (rows [H, dim] in the space's column order, times [H]); every problem
        is a `RetargetError` naming the step and dimension."""
        names = list(msg.joint_names)
        order = self.space.column_order(names)
        if not msg.points:
            raise RetargetError("the chunk has no points")
        rows = np.empty((len(msg.points), self.space.dim))
        times = np.empty(len(msg.points))
        for k, point in enumerate(msg.points):
            values = np.asarray(point.positions, dtype=float)
            if values.shape != (len(names),):
                raise RetargetError(
                    f"step {k} has {values.size} positions for {len(names)} names")
            rows[k] = self.space.check_row(values[order], f"step {k}")
            times[k] = duration_msg_to_seconds(point.time_from_start)
        if times[0] < 0 or np.any(np.diff(times) <= 0):
            raise RetargetError(
                f"time_from_start must be >= 0 and strictly increasing, got {times.tolist()}")
        return rows, times

    def _report(self, results: list[RetargetResult]) -> None:
        far = [(k, r) for k, r in enumerate(results) if not r.reached]
        if far:
            k, r = max(far, key=lambda item: item[1].pos_err)
            self.diag.count("unreachable_steps", len(far))
            message = (f"unreachable target: {len(far)}/{len(results)} chunk steps not reached "
                       f"(worst: step {k}, {r.pos_err * 1000:.1f} mm, {r.rot_err:.3f} rad); "
                       "moving as far as the limits allow")
            self.get_logger().warning(message, throttle_duration_sec=1.0)
            self.diag.report("ik", WARN, message, worst_position_error_m=f"{r.pos_err:.4f}")
        clipped = sorted({name for r in results for name in r.clipped})
        limited = sum(r.velocity_limited for r in results)
        if clipped or limited:
            message = ((f"clipped into limits: {clipped}; " if clipped else "")
                       + (f"{limited} step(s) slowed to the velocity limits" if limited else ""))
            self.diag.count("clipped_chunks")
            self.diag.report("limits", WARN, message.rstrip("; "))

    def _publish(self, results: list[RetargetResult], times: np.ndarray, stamp=None) -> None:
        joints = np.stack([r.joints for r in results])
        traj = trajectory_msg(self.robot.joint_names, joints, times)
        if stamp is not None:
            traj.header.stamp = stamp
        self.arm_pub.publish(traj)
        if self.gripper_pub is not None and results[0].hand is not None:
            hand_names = self.robot.hand_joint_names
            idx = [hand_names.index(j) for j in self.gripper_joints]
            hand = np.stack([r.hand[idx] for r in results])
            grip = trajectory_msg(self.gripper_joints, hand, times)
            if stamp is not None:
                grip.header.stamp = stamp
            self.gripper_pub.publish(grip)

    # --- servo -----------------------------------------------------------------------------
    def servo_tick(self) -> None:
        if self.halted:
            if self.servo_active():
                self._reject_throttled("twist", "halted: twists are ignored until ~/reset")
            return
        gripper = self._teleop_gripper if self.retargeter.has_grip else None
        gripper_changed = gripper is not None and (
            self._sent_gripper is None or abs(gripper - self._sent_gripper) > 1e-3)
        if not self.servo_active():
            if gripper_changed:
                self._servo_gripper(gripper)
            return
        q = self._measured("twist")
        if q is None:
            return
        try:
            result = self.retargeter.twist_step(self._twist, gripper, q, self.servo_period)
        except RetargetError as exc:
            self.diag.reject("twist", f"twist rejected: {exc}")
            return
        if not result.reached:
            self.diag.report("ik", WARN, f"servo target not reachable "
                                         f"({result.pos_err * 1000:.1f} mm): moving as far "
                                         "as the limits allow")
        self._running = False  # the servo stream replaces any running chunk
        self._publish([result], np.array([self.servo_period]))
        if result.hand is not None:
            self._sent_gripper = gripper

    def _servo_gripper(self, gripper: float) -> None:
        if self.gripper_pub is None:
            return
        hand = self.retargeter.hand_for_grip(gripper)
        names = self.robot.hand_joint_names
        values = np.array([[hand[names.index(j)] for j in self.gripper_joints]])
        self.gripper_pub.publish(trajectory_msg(self.gripper_joints, values,
                                                [self.servo_period]))
        self._sent_gripper = gripper

    # --- halt, hold, reset -------------------------------------------------------------------
    def stop_controllers(self) -> None:
        """Empty trajectories: the controllers stop and hold where they are."""
        self.arm_pub.publish(msgs.JointTrajectory(joint_names=list(self.robot.joint_names)))
        if self.gripper_pub is not None:
            self.gripper_pub.publish(msgs.JointTrajectory(joint_names=list(self.gripper_joints)))
        self._running = False

    def watchdog_tick(self) -> None:
        if not self._running:
            return
        now = self.now_s()
        if now > self._trajectory_end:
            self._running = False  # finished on its own: the controller holds its end point
            return
        silent = now - self._last_chunk_time
        if silent > self.command_timeout:
            self.stop_controllers()
            self.diag.count("timeouts")
            self.diag.report("watchdog", WARN, f"no valid chunk for {silent:.2f} s "
                                               f"(command_timeout {self.command_timeout} s): "
                                               "holding position")

    def halt(self, source: str) -> None:
        first = not self.halted
        self.halted = True
        self.stop_controllers()
        if first:
            self.get_logger().error(f"halt from {source}: stopped; call ~/reset to resume")
            self.diag.report("halt", ERROR, f"halted by {source}: trajectories stopped, "
                                            "chunks and twists ignored until ~/reset")

    def on_halt(self, msg) -> None:
        if bool(msg.data):
            self.halt("safety/halt")

    def on_halt_service(self, request, response):
        self.halt("~/halt")
        response.success = True
        response.message = "halted"
        return response

    def on_reset(self, request, response):
        was = self.halted
        self.halted = False
        self._twist = None
        self._running = False
        if self._joints is not None:
            self.retargeter.reset(self._joints)
        self.diag.report("halt", OK, "reset: accepting chunks and twists")
        response.success = True
        response.message = "halt cleared" if was else "not halted"
        return response


NODE_CLASS = RetargetNode
main = node_main(RetargetNode)
