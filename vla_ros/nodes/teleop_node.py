"""teleop_node: a person (or a script) drives the robot.

Twist devices (`keyboard`, `gamepad`, `spacemouse`, `scripted`, and `expert`, which
steers the end effector — FK of `joint_states` — through waypoints) publish `teleop/twist`
(geometry_msgs/TwistStamped in the robot's base frame, m/s and rad/s) and `teleop/gripper`
(std_msgs/Float64, 0 open … 1 closed) at `rate_hz`; the retarget node turns the twist into
joint commands (servo mode). In `leader` mode the node mirrors a leader arm's
`leader/joint_states` in joint space onto the follower's `<controller>/joint_trajectory`
(one point, `time_from_start` = one period), with joint-name mapping, scale, offsets and
the follower's limits; a leader gripper joint drives `teleop/gripper` and, if set, the
follower's gripper controller.

The keyboard reads the terminal (`keyboard_input: tty`) or key events published on
`teleop/keys` (std_msgs/String; `keyboard_input: topic`) — the latter for web UIs, remote
operators and tests.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vla_ros.retarget.robot_config import RobotConfig, load_robot_config
from vla_ros.runtime import Diagnostics, Node, msgs
from vla_ros.runtime.clock import seconds_to_time_msg
from vla_ros.runtime.convert import ConversionError, joint_positions, trajectory_msg
from vla_ros.runtime.diagnostics import OK, WARN
from vla_ros.runtime.entry import node_main
from vla_ros.runtime.parameters import ParameterDescriptor
from vla_ros.teleop import (
    DEFAULT_SCRIPT,
    EvdevGamepad,
    Gamepad,
    JointMapping,
    KeyboardTeleop,
    LeaderFollower,
    ScriptedTeleop,
    SpaceMouse,
    TeleopConfigError,
    TeleopSource,
    TerminalKeyboard,
    TwistShaping,
    WaypointExpert,
    gripper_fraction,
    load_script,
    urdf_joint_limits,
    waypoints_from_flat,
)
from vla_ros.teleop.keyboard import key_name

DEVICES = ("keyboard", "gamepad", "spacemouse", "leader", "scripted", "expert")
# expert demo: 5 cm forward, 5 cm down and close, back to the start and open (x y z gripper;
# gripper < 0 = unchanged), relative to the start pose
DEFAULT_WAYPOINTS = [0.05, 0.0, 0.0, -1.0, 0.05, 0.0, -0.05, 1.0, 0.0, 0.0, 0.0, 0.0]
NAMED_KEYS = ("space", "enter", "esc")


class TeleopNode(Node):
    DEFAULT_NAME = "teleop_node"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.DEFAULT_NAME, **kwargs)
        ro = ParameterDescriptor(read_only=True)
        self.device = self.declare_parameter("device", "keyboard", ro).value
        if self.device not in DEVICES:
            raise TeleopConfigError(
                f"parameter 'device' is '{self.device}'; use one of {', '.join(DEVICES)}")
        rate = float(self.declare_parameter("rate_hz", 30.0, ro).value)
        if rate <= 0:
            raise TeleopConfigError(f"parameter 'rate_hz' must be > 0, got {rate}")
        self.period = 1.0 / rate
        robot = self.declare_parameter("robot", "panda", ro).value
        robot_config = self.declare_parameter("robot_config", "", ro).value
        self.robot: RobotConfig = load_robot_config(robot_config or robot)
        self.frame_id = (self.declare_parameter("frame_id", "", ro).value
                         or self.robot.base_frame or "base_link")
        self.shaping = TwistShaping(
            linear_scale=self.declare_parameter("linear_scale", 0.1, ro).value,
            angular_scale=self.declare_parameter("angular_scale", 0.5, ro).value,
            deadzone=self.declare_parameter("deadzone", 0.1, ro).value,
            max_linear=self.declare_parameter("max_linear", 0.25, ro).value,
            max_angular=self.declare_parameter("max_angular", 1.0, ro).value,
        )
        self.diag = Diagnostics(self, hardware_id=f"teleop:{self.device}")
        self.twist_pub = self.create_publisher(msgs.TwistStamped, "teleop/twist", 10)
        self.gripper_pub = self.create_publisher(msgs.Float64, "teleop/gripper", 10)
        self.p = self._declare_mode_parameters(ro)
        self.source: TeleopSource | None = None
        self.leader: LeaderFollower | None = None
        self.published = 0
        self._reported_done = False
        if self.device == "leader":
            self._setup_leader()
        else:
            self.source = self._make_source()
        self.create_timer(self.period, self.tick)

    # --- setup -------------------------------------------------------------------------
    def _declare_mode_parameters(self, ro: ParameterDescriptor) -> dict[str, Any]:
        """Every device's parameters, declared whatever the device, so one config file
        serves all modes (and none of its keys is reported unused)."""
        # Lists default to values that mean "unset" ([""]; ±inf limits): an empty list has
        # no ROS type, and rclpy cannot be given one portably.
        defaults: dict[str, Any] = {
            "key_hold_s": 0.3, "keyboard_input": "tty", "gamepad_index": 0,
            "gamepad_backend": "pygame", "gamepad_device": "", "script_file": "",
            "script_loop": False, "waypoints": DEFAULT_WAYPOINTS, "waypoints_relative": True,
            "waypoint_hold_s": 0.3, "expert_gain": 2.0, "expert_tolerance": 0.005,
            "leader_joints": [""], "follower_joints": [""],
            "joint_scales": [1.0], "joint_offsets": [0.0], "follower_lower": [-math.inf],
            "follower_upper": [math.inf], "limits_from_urdf": True, "max_velocity": 2.0,
            "controller": "arm_controller", "leader_timeout": 0.5,
            "leader_gripper_joint": "", "leader_gripper_open": 1.2,
            "leader_gripper_closed": -0.1, "mirror_gripper": True,
        }
        values = {name: self.declare_parameter(name, default, ro).value
                  for name, default in defaults.items()}
        for name in ("leader_joints", "follower_joints"):
            values[name] = [n for n in values[name] if n]
        return values

    def _make_source(self) -> TeleopSource:
        p = self.p
        hold, keyboard_input = float(p["key_hold_s"]), p["keyboard_input"]
        backend, pad_path, index = p["gamepad_backend"], p["gamepad_device"], p["gamepad_index"]
        script_file, loop = p["script_file"], bool(p["script_loop"])
        if self.device == "keyboard":
            # keys are on/off: no dead zone
            shaping = TwistShaping(self.shaping.linear_scale, self.shaping.angular_scale, 0.0,
                                   self.shaping.max_linear, self.shaping.max_angular)
            if keyboard_input == "topic":
                self.create_subscription(msgs.String, "teleop/keys", self.on_keys, 100)
                return KeyboardTeleop(shaping, hold)
            if keyboard_input != "tty":
                raise TeleopConfigError(f"parameter 'keyboard_input' is '{keyboard_input}'; "
                                        "use tty or topic")
            return TerminalKeyboard(shaping, hold)
        if self.device == "gamepad":
            if backend == "evdev":
                return EvdevGamepad(pad_path, shaping=self.shaping)
            if backend != "pygame":
                raise TeleopConfigError(f"parameter 'gamepad_backend' is '{backend}'; "
                                        "use pygame or evdev")
            return Gamepad(index, shaping=self.shaping)
        if self.device == "spacemouse":
            return SpaceMouse(shaping=self.shaping)
        if self.device == "expert":
            return self._make_expert()
        segments = load_script(script_file) if script_file else DEFAULT_SCRIPT
        return ScriptedTeleop(segments, loop=loop)

    def _make_expert(self) -> WaypointExpert:
        """Closed loop on the EE pose: FK of the measured joint_states."""
        from vla_ros.retarget.robot_model import RobotModel

        p = self.p
        expert = WaypointExpert(
            waypoints_from_flat(p["waypoints"], float(p["waypoint_hold_s"])),
            relative=bool(p["waypoints_relative"]), gain=float(p["expert_gain"]),
            max_speed=min(self.shaping.linear_scale, self.shaping.max_linear),
            tolerance=float(p["expert_tolerance"]),
            max_angular=min(self.shaping.angular_scale, self.shaping.max_angular))
        self.model = RobotModel(self.robot)
        self.create_subscription(msgs.JointState, "joint_states", self.on_expert_state, 10)
        return expert

    def on_expert_state(self, msg) -> None:
        try:
            joints = joint_positions(msg, self.model.joint_names)
        except ConversionError:
            return  # a joint_states of other joints (e.g. a gripper driver)
        self.source.observe(self.model.fk(self.model.q_from_joints(joints)))

    def _setup_leader(self) -> None:
        p = self.p
        follower = p["follower_joints"] or list(self.robot.joints)
        leader = p["leader_joints"] or follower
        mapping = JointMapping.build(
            leader, follower, scale=p["joint_scales"], offset=p["joint_offsets"],
            lower=p["follower_lower"], upper=p["follower_upper"],
            max_velocity=float(p["max_velocity"]))
        if p["limits_from_urdf"]:  # configured limits may only tighten the robot's own
            mapping = mapping.within(*urdf_joint_limits(self.robot.urdf_path(), follower))
        self.leader = LeaderFollower(mapping)
        controller = p["controller"]
        self.leader_timeout = float(p["leader_timeout"])
        # leader gripper → teleop/gripper (0..1) and the follower's gripper controller
        self.gripper_joint = p["leader_gripper_joint"]
        self.gripper_range = (float(p["leader_gripper_open"]), float(p["leader_gripper_closed"]))
        mirror = bool(p["mirror_gripper"])
        hand = self.robot.hand
        self.follower_gripper = None
        if self.gripper_joint and mirror and hand.joints and hand.controller_topic:
            self.follower_gripper = (hand.joints[0], hand.open[0], hand.closed[0])
            self.gripper_traj_pub = self.create_publisher(
                msgs.JointTrajectory, hand.controller_topic, 10)
        self.traj_pub = self.create_publisher(
            msgs.JointTrajectory, f"{controller}/joint_trajectory", 10)
        self.leader_state: tuple[list[str], np.ndarray, float] | None = None
        self.follower_q: np.ndarray | None = None
        self.synced = False  # has the rate limiter started from the follower's pose?
        self.create_subscription(msgs.JointState, "leader/joint_states", self.on_leader, 10)
        # the follower's own state: the first command starts from where it is
        self.create_subscription(msgs.JointState, "joint_states", self.on_follower, 10)

    # --- inputs --------------------------------------------------------------------------
    def now_s(self) -> float:
        return self.get_clock().now().seconds

    def on_keys(self, msg) -> None:
        """A String of key characters, or one key name (space, enter, esc)."""
        text = msg.data
        keys = [text.lower()] if text.lower() in NAMED_KEYS else [key_name(c) for c in text]
        now = self.now_s()
        for key in keys:
            self.source.press(key, now)  # type: ignore[union-attr]

    def on_follower(self, msg) -> None:
        try:
            self.follower_q = joint_positions(msg, self.leader.mapping.follower_joints)
        except ConversionError:
            self.follower_q = None  # a joint_states of other joints (e.g. a gripper driver)

    def on_leader(self, msg) -> None:
        self.leader_state = (list(msg.name), np.asarray(msg.position, float), self.now_s())

    # --- output --------------------------------------------------------------------------
    def tick(self) -> None:
        if self.leader is not None:
            self._tick_leader()
            return
        now = self.now_s()
        command = self.source.poll(now)  # type: ignore[union-attr]
        stamp = seconds_to_time_msg(now)
        self.twist_pub.publish(msgs.TwistStamped(
            header=msgs.Header(stamp=stamp, frame_id=self.frame_id),
            twist=msgs.Twist(linear=_vector3(command.linear),
                             angular=_vector3(command.angular))))
        if command.gripper is not None:
            self.gripper_pub.publish(msgs.Float64(data=float(command.gripper)))
        self.published += 1
        if getattr(self.source, "done", False) and not self._reported_done:
            self._reported_done = True
            self.diag.report("expert", OK, "expert reached its last waypoint")

    def _tick_leader(self) -> None:
        now = self.now_s()
        if self.leader_state is None:
            self.get_logger().warning("no leader/joint_states yet", throttle_duration_sec=5.0)
            return
        names, positions, received = self.leader_state
        if now - received > self.leader_timeout:
            self.diag.report("leader", WARN, f"leader/joint_states silent for "
                             f"{now - received:.2f} s; follower holds")
            self.synced = False  # on resume, start again from the follower's pose
            return
        if not self.synced:
            self.leader.reset(self.follower_q)
            self.synced = True
        try:
            target = self.leader.step(names, positions, self.period)
            gripper = None
            if self.gripper_joint:
                index = names.index(self.gripper_joint) if self.gripper_joint in names else -1
                if index < 0:
                    raise TeleopConfigError(
                        f"leader joint_states lacks gripper joint '{self.gripper_joint}'")
                gripper = gripper_fraction(positions[index], *self.gripper_range)
        except TeleopConfigError as err:
            self.diag.reject("leader", str(err))
            return
        joints = list(self.leader.mapping.follower_joints)
        self.traj_pub.publish(trajectory_msg(joints, target[None], [self.period]))
        if gripper is not None:
            self.gripper_pub.publish(msgs.Float64(data=gripper))
            if self.follower_gripper is not None:
                joint, open_q, closed_q = self.follower_gripper
                q = open_q + gripper * (closed_q - open_q)
                self.gripper_traj_pub.publish(trajectory_msg([joint], [[q]], [self.period]))
        self.published += 1
        if self.leader.clamped.any():
            clamped = [j for j, c in zip(joints, self.leader.clamped, strict=True) if c]
            self.diag.report("leader", WARN, f"follower joints clamped to limits: {clamped}")
        elif self.published % max(1, round(1.0 / self.period)) == 0:
            self.diag.report("leader", OK, "mirroring", published=self.published)

    def destroy_node(self) -> None:
        if self.source is not None:
            self.source.close()
        super().destroy_node()


def _vector3(v: np.ndarray):
    return msgs.Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))


NODE_CLASS = TeleopNode
main = node_main(TeleopNode)
