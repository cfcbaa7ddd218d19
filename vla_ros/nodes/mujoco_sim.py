"""mujoco_sim: the embedded MuJoCo simulation, standing in for ros2_control.

On a robot, ros2_control_node + joint_trajectory_controller take
`<controller>/joint_trajectory` and publish `joint_states`. Here this node does the same
with a simulated robot: it reads the *same* controllers YAML the robot uses
(config/controllers/<robot>_controllers.yaml), runs one trajectory controller per
joint_trajectory_controller entry with ros2_control's semantics, steps MuJoCo, and
publishes `joint_states`, `camera/<name>/image_raw` + `camera_info` and `/clock`.
With a `task`, it lays the task out, publishes its instruction (latched) and whether the
success predicate holds (`sim/task_success`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import yaml

from vla_ros.assets import share_dir
from vla_ros.runtime import LATCHED, SENSOR_DATA, Diagnostics, Node, msgs
from vla_ros.runtime.clock import seconds_to_time_msg
from vla_ros.runtime.convert import ConversionError, image_to_msg, trajectory_arrays
from vla_ros.runtime.diagnostics import OK, WARN
from vla_ros.runtime.entry import node_main
from vla_ros.runtime.parameters import ParameterDescriptor, SetParametersResult

os.environ.setdefault("MUJOCO_GL", "egl")

from vla_ros.sim.env import SimEnv  # noqa: E402  (MUJOCO_GL must be set before mujoco loads)
from vla_ros.sim.failures import SimFault  # noqa: E402
from vla_ros.sim.target_trace import TargetTracker  # noqa: E402
from vla_ros.sim.trajectory_controller import (  # noqa: E402
    JointTrajectoryController,
    TrajectoryError,
    TrajectoryPoint,
)

JTC_TYPE = "joint_trajectory_controller/JointTrajectoryController"


def read_trajectory_controllers(path: Path) -> dict[str, list[str]]:
    """controller name -> joints, for every joint_trajectory_controller in a ros2_control YAML."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"cannot read controllers file {path}: {err}") from err
    try:
        manager = data["controller_manager"]["ros__parameters"]
    except (KeyError, TypeError):
        raise ValueError(f"{path}: no controller_manager: ros__parameters section") from None
    controllers = {}
    for name, entry in manager.items():
        if isinstance(entry, dict) and entry.get("type") == JTC_TYPE:
            try:
                controllers[name] = list(data[name]["ros__parameters"]["joints"])
            except (KeyError, TypeError):
                raise ValueError(f"{path}: controller '{name}' lists no joints") from None
    if not controllers:
        raise ValueError(f"{path}: no {JTC_TYPE} controllers")
    return controllers


class MujocoSim(Node):
    DEFAULT_NAME = "mujoco_sim"

    def __init__(self, **kwargs) -> None:
        super().__init__(self.DEFAULT_NAME, **kwargs)
        ro = ParameterDescriptor(read_only=True)
        self.robot_name = self.declare_parameter("robot", "panda", ro).value
        controllers_file = self.declare_parameter("controllers_file", "", ro).value
        self.task_name = self.declare_parameter("task", "").value
        self.seed = int(self.declare_parameter("seed", 0).value)
        self._seed_set = False  # `seed` set since the last reset (see _on_reset)
        control_hz = self.declare_parameter("control_rate_hz", 100.0, ro).value
        state_hz = self.declare_parameter("joint_state_rate_hz", 50.0, ro).value
        self.cameras = list(self.declare_parameter("cameras", ["scene", "wrist"], ro).value)
        self.width = int(self.declare_parameter("image_width", 128, ro).value)
        self.height = int(self.declare_parameter("image_height", 128, ro).value)
        camera_hz = self.declare_parameter("camera_rate_hz", 10.0, ro).value
        self.publish_clock = self.declare_parameter("publish_clock", True, ro).value
        # Fault injection for demos and detector tests (read at each reset).
        self.declare_parameter("fault", "")
        self.declare_parameter("fault_onset_s", 2.0)
        # Fraction of camera frames not published (a flaky camera link); changeable live.
        self.declare_parameter("camera_drop_probability", 0.0)
        self._drop_rng = np.random.default_rng(self.seed)
        self.frames_dropped = 0

        self.env = SimEnv(self.robot_name)
        unknown = [c for c in self.cameras if c not in self.env.camera_names]
        if unknown:
            raise ValueError(f"unknown camera(s) {unknown}; the scene has {self.env.camera_names}")
        path = Path(controllers_file) if controllers_file else (
            share_dir() / "config" / "controllers" / f"{self.robot_name}_controllers.yaml")
        self.control_dt = 1.0 / control_hz
        self.substeps = max(1, round(self.control_dt / self.env.timestep))
        self.diag = Diagnostics(self, hardware_id=f"mujoco:{self.robot_name}")
        self.controllers: dict[str, JointTrajectoryController] = {}
        for name, joints in read_trajectory_controllers(path).items():
            self._add_controller(name, joints)

        self.joint_state_pub = self.create_publisher(msgs.JointState, "joint_states", 10)
        self.clock_pub = self.create_publisher(msgs.Clock, "/clock", 10)
        self.instruction_pub = self.create_publisher(msgs.String, "instruction", LATCHED)
        self.success_pub = self.create_publisher(msgs.Bool, "sim/task_success", 10)
        self.image_pubs = {c: self.create_publisher(msgs.Image, f"camera/{c}/image_raw",
                                                    SENSOR_DATA) for c in self.cameras}
        self.info_pubs = {c: self.create_publisher(msgs.CameraInfo, f"camera/{c}/camera_info",
                                                   SENSOR_DATA) for c in self.cameras}
        self.create_service(msgs.Trigger, "~/reset", self._on_reset)
        self.add_on_set_parameters_callback(self._check_parameters)
        self.steps = 0
        self.task_success = False
        self._offset = 0.0
        self._state_every = max(1, round(control_hz / state_hz))
        self._camera_every = max(1, round(control_hz / camera_hz))
        self.reset_episode(self.seed)
        self.create_timer(self.control_dt, self.tick)

    # --- setup --------------------------------------------------------------------------
    def _add_controller(self, name: str, joints: list[str]) -> None:
        missing = [j for j in joints if j not in self.env.joint_names]
        if missing:
            raise ValueError(f"controller '{name}' names joints {missing} that robot "
                             f"'{self.robot_name}' does not have")
        idx = self.env.joint_indices(joints)
        controller = JointTrajectoryController(
            joints, self.env.lower[idx], self.env.upper[idx],
            initial_positions=self.env.joint_positions()[idx], start_time=self.env.time)
        self.controllers[name] = controller
        self.create_subscription(
            msgs.JointTrajectory, f"{name}/joint_trajectory",
            lambda msg, n=name: self._on_trajectory(n, msg), 10)

    def reset_episode(self, seed: int) -> None:
        """Robot home, task laid out anew; controllers hold the home pose."""
        self.instance = self.env.reset(seed=seed, task=self.task_name or None)
        # Stamps are env time + offset, so they continue from the node clock across resets.
        self._offset = self.now_s() - self.env.time
        q = self.env.joint_positions()
        for controller in self.controllers.values():
            controller.reset(q[self.env.joint_indices(controller.joint_names)], self.now_s())
        if self.instance is not None:
            self.instruction_pub.publish(msgs.String(data=self.instance.instruction))
        self.task_success = False
        # what happened to the task's target, step by step (read by `vla-ros eval --runner
        # nodes`; None without a task)
        self.target_tracker = (None if self.instance is None else
                               TargetTracker(self.env, self.instance.target, self.instance.goal))
        mode = self.get_parameter("fault").value
        onset = self.get_parameter("fault_onset_s").value
        self.fault = SimFault(mode, onset, seed) if mode else None

    def now_s(self) -> float:
        return self.get_clock().now().seconds

    # --- callbacks ----------------------------------------------------------------------
    def _on_trajectory(self, controller_name: str, msg) -> None:
        controller = self.controllers[controller_name]
        try:
            names, positions, times = trajectory_arrays(msg)
            velocities = None
            if msg.points and all(len(p.velocities) == len(names) for p in msg.points):
                velocities = [np.asarray(p.velocities, float) for p in msg.points]
            points = [TrajectoryPoint(positions[i], float(times[i]),
                                      None if velocities is None else velocities[i])
                      for i in range(len(times))]
            stamp = msg.header.stamp
            start = stamp.sec + stamp.nanosec * 1e-9
            result = controller.command(names, points, now=self.now_s(),
                                        start_time=start or None)
        except (ConversionError, TrajectoryError) as err:
            self.diag.reject(controller_name, f"trajectory rejected: {err}")
            return
        for warning in result.warnings:
            self.diag.report(controller_name, WARN, warning)

    def _check_parameters(self, parameters) -> SetParametersResult:
        """Refuse an unknown `task` or `fault` at set time, not at the next reset."""
        from vla_ros.sim.tasks import TASKS

        for p in parameters:
            if p.name == "task" and p.value and p.value not in TASKS:
                return SetParametersResult(
                    successful=False,
                    reason=f"unknown task '{p.value}'; tasks: {', '.join(sorted(TASKS))}")
            if p.name == "fault" and p.value and p.value not in SimFault.MODES:
                return SetParametersResult(
                    successful=False,
                    reason=f"unknown fault '{p.value}'; faults: {', '.join(SimFault.MODES)}")
        if any(p.name == "seed" for p in parameters):
            self._seed_set = True
        return SetParametersResult(successful=True)

    def _on_reset(self, request, response):
        # `task` may have been set since the last episode (ros2 param set / set_parameters).
        self.task_name = self.get_parameter("task").value
        # A `seed` set since the last reset lays out that episode; otherwise the next seed.
        self.seed = int(self.get_parameter("seed").value) if self._seed_set else self.seed + 1
        self._seed_set = False
        self.reset_episode(self.seed)
        response.success = True
        response.message = (f"reset with seed {self.seed}"
                            + (f": {self.instance.instruction}" if self.instance else ""))
        return response

    def tick(self) -> None:
        now = self.now_s()
        if self.fault is not None:
            target = self.instance.target if self.instance is not None else None
            if self.fault.update(self.env, target, self.env.time):
                self.diag.report("fault", WARN, f"injected fault '{self.fault.mode}' at "
                                 f"t={self.env.time:.2f} s")
        for controller in self.controllers.values():
            q, _ = controller.sample(now)
            self.env.set_position_targets(controller.joint_names, q)
        self.env.step(self.substeps)
        self.steps += 1
        if self.target_tracker is not None:
            self.target_tracker.update()
        stamp = seconds_to_time_msg(self.env.time + self._offset)
        if self.publish_clock:
            self.clock_pub.publish(msgs.Clock(clock=stamp))
        if self.steps % self._state_every == 0:
            self.joint_state_pub.publish(msgs.JointState(
                header=msgs.Header(stamp=stamp), name=list(self.env.joint_names),
                position=self.env.joint_positions(), velocity=self.env.joint_velocities(),
                effort=self.env.joint_efforts()))
            if self.instance is not None:
                self.task_success = self._check_success()
                self.success_pub.publish(msgs.Bool(data=bool(self.task_success)))
        if self.steps % self._camera_every == 0:
            self._publish_cameras(stamp)

    def _check_success(self) -> bool:
        from vla_ros.sim.tasks import get_task

        return get_task(self.instance.task).success(self.env, self.instance)

    def _publish_cameras(self, stamp) -> None:
        drop = self.get_parameter("camera_drop_probability").value
        for camera in self.cameras:
            if drop > 0.0 and self._drop_rng.random() < drop:
                self.frames_dropped += 1
                continue
            frame = self.env.render(camera, self.width, self.height)
            if self.fault is not None:
                frame = self.fault.corrupt(frame, self.env.time)
            t = stamp.sec + stamp.nanosec * 1e-9
            image = image_to_msg(frame, "rgb8", stamp=t, frame_id=f"{camera}_camera")
            self.image_pubs[camera].publish(image)
            self.info_pubs[camera].publish(self._camera_info(camera, image.header))

    def _camera_info(self, camera: str, header):
        intr = self.env.camera_intrinsics(camera, self.width, self.height)
        return msgs.CameraInfo(
            header=header, height=self.height, width=self.width,
            distortion_model="plumb_bob", d=np.asarray(intr.D, float).reshape(-1),
            k=np.asarray(intr.K, float).reshape(-1), r=np.eye(3).reshape(-1),
            p=np.asarray(intr.P, float).reshape(-1))

    def destroy_node(self) -> None:
        self.diag.report("sim", OK, "shutting down")
        super().destroy_node()
        self.env.close()


NODE_CLASS = MujocoSim
main = node_main(MujocoSim)
