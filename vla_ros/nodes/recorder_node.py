"""recorder_node: record demonstrations from the running graph into a LeRobotDataset v3.

  subscribes  joint_states (sensor_msgs/JointState) -> observation.state
              perception/<cam>/image (sensor_msgs/Image, rgb8/bgr8) -> observation.images.<cam>
              the action topic(s), by `action_source`:
                trajectory: <controller>/joint_trajectory (first point; topics concatenated)
                chunk:      policy/action_chunk (first step of each chunk)
                twist:      teleop/twist (TwistStamped -> vx vy vz wx wy wz)
              instruction (std_msgs/String, latched) -> the episode's task text
  services    ~/start_episode, ~/stop_episode (save), ~/discard_episode (std_srvs/Trigger)
  publishes   /diagnostics (frames, skipped ticks per stream, rejected messages, episodes)

Samples are taken on the dataset's 1/fps grid by `vla_ros.data.recorder.EpisodeRecorder`
(latest sample before each tick, stale streams skip the tick). Message stamps are used
when set (policy chunks carry the observation time), the receive time otherwise. State
and action names are taken from the parameters or from the first messages; the dataset
is created (or appended to, if compatible) at the first frame. A folder holding
something else is refused at startup. On shutdown an episode in progress is discarded;
earlier episodes are untouched (each was committed atomically).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.data.recorder import (
    STATE,
    EpisodeRecorder,
    RecorderConfig,
    RecorderError,
    check_dataset_folder,
    image_stream,
    select,
)
from vla_ros.runtime import LATCHED, SENSOR_DATA, Diagnostics, Node, msgs
from vla_ros.runtime.clock import time_msg_to_seconds
from vla_ros.runtime.convert import ConversionError, msg_to_image, trajectory_arrays
from vla_ros.runtime.diagnostics import ERROR, OK, WARN
from vla_ros.runtime.entry import node_main
from vla_ros.runtime.parameters import ParameterDescriptor

ACTION_SOURCES = {
    "trajectory": ["arm_controller/joint_trajectory", "gripper_controller/joint_trajectory"],
    "chunk": ["policy/action_chunk"],
    "twist": ["teleop/twist"],
}
TWIST_NAMES = ["vx", "vy", "vz", "wx", "wy", "wz"]

PARAMETERS: dict[str, tuple[Any, str]] = {
    "dataset": ("", "LeRobotDataset v3 folder (created, or appended to if compatible)"),
    "fps": (20, "dataset frame rate; observations are sampled on its 1/fps grid"),
    "robot": ("panda", "robot_type stored in the dataset"),
    "cameras": (["scene", "wrist"], "cameras to record; [''] = none"),
    "image_topic": ("perception/{camera}/image", "image topic per camera ({camera} replaced)"),
    "image_width": (128, "expected image width (other sizes are rejected)"),
    "image_height": (128, "expected image height"),
    "state_joints": ([""], "joint_states names recorded as the state, in order; [''] = all "
                           "names of the first joint_states message"),
    "action_source": ("trajectory", "trajectory | chunk | twist"),
    "action_topics": ([""], "action topics; [''] = the source's defaults"),
    "action_hold": (True, "an action holds until the next one (set-points); false: actions "
                          "go stale like observations"),
    "controllers_file": ("", "ros2_control YAML naming each controller's joints (trajectory "
                             "actions of a controller never commanded yet start at its joints' "
                             "positions); '' = config/controllers/<robot>_controllers.yaml"),
    "task": ("", "task text of every episode; '' = the latest `instruction` message"),
    "bag": ("", "also write the recorded topics to this rosbag2 MCAP folder (local backend)"),
    "max_age": (0.0, "s; a stream older than this at a tick skips the frame (0 = 3/fps)"),
    "latency": (0.05, "s; a tick is sampled this long after it passed (late messages count)"),
    "max_skip_fraction": (0.1, "more skipped ticks than this fraction discard the episode"),
    "max_gap": (1.0, "s without a complete frame discards the episode at once"),
    "diagnostics_rate_hz": (1.0, "diagnostics publishing rate"),
}


class RecorderNode(Node):
    DEFAULT_NAME = "recorder_node"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.DEFAULT_NAME, **kwargs)
        v = {name: self.declare_parameter(name, default, ParameterDescriptor(
                 description=text, read_only=name != "task")).value
             for name, (default, text) in PARAMETERS.items()}
        me = self.get_name()
        self.root = Path(str(v["dataset"])) if v["dataset"] else None
        if self.root is None:
            raise ValueError(f"{me}: parameter 'dataset' is empty; give the folder to record to")
        self.fps = int(v["fps"])
        self.robot = str(v["robot"])
        self.cameras = [str(c) for c in v["cameras"] if c]
        self.size = (int(v["image_height"]), int(v["image_width"]))
        self.state_joints = [str(j) for j in v["state_joints"] if j] or None
        source = str(v["action_source"])
        if source not in ACTION_SOURCES:
            raise ValueError(f"{me}: action_source {source!r} is not one of "
                             f"{sorted(ACTION_SOURCES)}")
        topics = [str(t) for t in v["action_topics"] if t] or ACTION_SOURCES[source]
        self.action_source = source
        self.action_topics = topics
        self.action_names: dict[str, list[str] | None] = {
            t: (list(TWIST_NAMES) if source == "twist" else None) for t in topics}
        if source == "trajectory":
            joints = self._controller_joints(str(v["controllers_file"]))
            for t in topics:
                self.action_names[t] = joints.get(t.rpartition("/joint_trajectory")[0])
        self._last_joint_state: tuple[float, list[str], np.ndarray] | None = None
        self.task_param = str(v["task"])
        self.instruction = ""
        if self.fps <= 0 or min(self.size) <= 0:
            raise ValueError(f"{me}: fps and image size must be positive")
        self._check_dataset()  # refuse a wrong folder now, not at the first episode
        max_age = float(v["max_age"])
        self.recorder = EpisodeRecorder(self._open_writer, RecorderConfig(
            fps=self.fps, cameras=tuple(self.cameras),
            action_streams=tuple(f"action:{t}" for t in topics),
            max_age_s=max_age if max_age > 0 else None, latency_s=float(v["latency"]),
            max_skip_fraction=float(v["max_skip_fraction"]), max_gap_s=float(v["max_gap"]),
            hold_streams=tuple(f"action:{t}" for t in topics) if v["action_hold"] else ()))
        self.writer = None
        self.diag = Diagnostics(self, hardware_id=f"dataset:{self.root}")
        self.bag = None
        if v["bag"]:
            self._open_bag(Path(str(v["bag"])))

        self.create_subscription(msgs.JointState, "joint_states", self._on_joint_state, 50)
        for cam in self.cameras:
            topic = str(v["image_topic"]).format(camera=cam)
            self.create_subscription(msgs.Image, topic,
                                     lambda m, c=cam, t=topic: self._on_image(c, t, m),
                                     SENSOR_DATA)
        for topic in topics:
            if source == "twist":
                self.create_subscription(msgs.TwistStamped, topic,
                                         lambda m, t=topic: self._on_twist(t, m), 50)
            else:
                self.create_subscription(msgs.JointTrajectory, topic,
                                         lambda m, t=topic: self._on_trajectory(t, m), 50)
        self.create_subscription(msgs.String, "instruction", self._on_instruction, LATCHED)
        self.create_service(msgs.Trigger, "~/start_episode", self._on_start)
        self.create_service(msgs.Trigger, "~/stop_episode", self._on_stop)
        self.create_service(msgs.Trigger, "~/discard_episode", self._on_discard)
        self.create_timer(0.5 / self.fps, self._tick)
        self.create_timer(1.0 / float(v["diagnostics_rate_hz"]), self._report)
        self.get_logger().info(f"recording to {self.root} at {self.fps} fps, cameras "
                               f"{self.cameras}, actions from {topics}")

    # ------------------------------------------------------------------- setup
    def _check_dataset(self) -> None:
        if not check_dataset_folder(self.root):
            return
        from vla_ros.data.meta import read_info

        info = read_info(self.root)
        cams = sorted(k.rpartition(".")[2] for k, f in info["features"].items()
                      if f.get("dtype") == "video")
        problems = []
        if info["fps"] != self.fps:
            problems.append(f"fps {info['fps']} (parameter fps is {self.fps})")
        if cams != sorted(self.cameras):
            problems.append(f"cameras {cams} (parameter cameras is {self.cameras})")
        if problems:
            from vla_ros.data.errors import IncompatibleDatasetError

            raise IncompatibleDatasetError(
                f"{self.root}: cannot append, the dataset has " + "; ".join(problems))

    def _controller_joints(self, path: str) -> dict[str, list[str]]:
        """controller -> joints from a ros2_control YAML ({} when there is none)."""
        import yaml

        from vla_ros.assets import share_dir

        file = Path(path) if path else (
            share_dir() / "config" / "controllers" / f"{self.robot}_controllers.yaml")
        if not file.is_file():
            if path:
                raise ValueError(f"{self.get_name()}: controllers_file {file} does not exist")
            return {}
        data = yaml.safe_load(file.read_text()) or {}
        out = {}
        for name, entry in data.items():
            joints = (entry or {}).get("ros__parameters", {}).get("joints") \
                if isinstance(entry, dict) else None
            if name != "controller_manager" and isinstance(joints, list):
                out[name] = [str(j) for j in joints]
        return out

    def _seed_idle_controllers(self, now: float) -> None:
        """A controller that was never commanded holds its joints where they are: use the
        latest joint_states as its action until its first trajectory arrives."""
        if self.action_source != "trajectory" or self._last_joint_state is None:
            return
        stamp, names, position = self._last_joint_state
        for topic in self.action_topics:
            stream, joints = f"action:{topic}", self.action_names[topic]
            if joints and not self.recorder.has_sample(stream):
                try:
                    self.recorder.push(stream, stamp, select(names, position, joints, topic))
                except RecorderError as exc:
                    self.diag.reject("action", f"cannot seed {topic}: {exc}")

    def _open_writer(self):
        from vla_ros.data import DatasetWriter

        missing = [t for t, names in self.action_names.items() if names is None]
        if missing or self.state_joints is None:  # cannot happen: a frame needs every stream
            raise RecorderError(f"no names yet for {missing or ['joint_states']}")
        actions = [n for t in self.action_topics for n in self.action_names[t]]
        self.writer = DatasetWriter(self.root, fps=self.fps, state_names=self.state_joints,
                                    action_names=actions,
                                    cameras={c: self.size for c in self.cameras},
                                    robot_type=self.robot)
        return self.writer

    def _open_bag(self, path: Path) -> None:
        if self.context.backend != "local":
            self.get_logger().warning("parameter 'bag' is for the local backend; on ROS use "
                                      "`ros2 bag record -s mcap`")
            return
        from vla_ros.runtime.bag import BagTee

        self.bag = BagTee(path)

    def _tee(self, topic: str, msg: Any) -> None:
        if self.bag is not None:
            self.bag.write(self.resolve_topic_name(topic), msg.__msgtype__, msg,
                           self.get_clock().now().nanoseconds)

    # ----------------------------------------------------------------- inputs
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _stamp(self, header: Any) -> float:
        t = time_msg_to_seconds(header.stamp)
        return t if t > 0 else self._now()

    def _on_joint_state(self, msg: Any) -> None:
        self._tee("joint_states", msg)
        names = list(msg.name)
        if self.state_joints is None:
            if not names:
                return self.diag.reject("joint_states", "JointState without names")
            self.state_joints = names
        try:
            q = select(names, np.asarray(msg.position, float), self.state_joints, "joint_states")
        except (RecorderError, IndexError) as exc:
            return self.diag.reject("joint_states", str(exc))
        if not np.all(np.isfinite(q)):
            return self.diag.reject("joint_states", "non-finite joint positions")
        stamp = self._stamp(msg.header)
        self._last_joint_state = (stamp, names, np.asarray(msg.position, float))
        self.recorder.push(STATE, stamp, q)

    def _on_image(self, camera: str, topic: str, msg: Any) -> None:
        self._tee(topic, msg)
        try:
            image = msg_to_image(msg)
        except ConversionError as exc:
            return self.diag.reject(f"image/{camera}", f"{topic}: {exc}")
        if msg.encoding == "bgr8":
            image = image[..., ::-1]
        elif msg.encoding != "rgb8":
            return self.diag.reject(f"image/{camera}", f"{topic}: encoding {msg.encoding} "
                                    "(rgb8 or bgr8 expected)")
        if image.shape[:2] != self.size:
            return self.diag.reject(f"image/{camera}", f"{topic}: image is "
                                    f"{image.shape[1]}x{image.shape[0]}, expected "
                                    f"{self.size[1]}x{self.size[0]} (image_width/height)")
        self.recorder.push(image_stream(camera), self._stamp(msg.header),
                           np.ascontiguousarray(image, dtype=np.uint8))

    def _on_trajectory(self, topic: str, msg: Any) -> None:
        self._tee(topic, msg)
        try:
            names, positions, _ = trajectory_arrays(msg)
        except ConversionError as exc:
            return self.diag.reject("action", f"{topic}: {exc}")
        if not len(positions):  # an empty trajectory stops the controller: no new target
            return
        known = self.action_names[topic]
        if known is None:
            known = self.action_names[topic] = list(names)
        try:
            value = select(names, positions[0], known, topic)
        except RecorderError as exc:
            return self.diag.reject("action", str(exc))
        self.recorder.push(f"action:{topic}", self._stamp(msg.header), value)

    def _on_twist(self, topic: str, msg: Any) -> None:
        self._tee(topic, msg)
        t = msg.twist
        value = np.array([t.linear.x, t.linear.y, t.linear.z,
                          t.angular.x, t.angular.y, t.angular.z], dtype=float)
        if not np.all(np.isfinite(value)):
            return self.diag.reject("action", f"{topic}: non-finite twist")
        self.recorder.push(f"action:{topic}", self._stamp(msg.header), value)

    def _on_instruction(self, msg: Any) -> None:
        self._tee("instruction", msg)
        self.instruction = str(msg.data)
        if not self.task_param:
            self.recorder.set_task(self.instruction)

    # ------------------------------------------------------------------- loop
    def _tick(self) -> None:
        try:
            result = self.recorder.advance(self._now())
        except Exception as exc:  # writer refused a frame or the dataset: drop the episode
            return self._fail(exc)
        if result is not None:
            self.get_logger().warning(f"episode discarded: {result.reason}")
            self.diag.count("episodes_discarded")
            self.diag.report("episode", WARN, f"discarded: {result.reason}")

    def _fail(self, exc: Exception) -> str:
        reason = f"{type(exc).__name__}: {exc}"
        if self.recorder.recording:
            self.recorder.discard(reason)
        self.diag.count("episodes_failed")
        self.diag.report("episode", ERROR, reason)
        self.get_logger().error(f"episode dropped: {reason}")
        return reason

    def _report(self) -> None:
        rec = self.recorder
        level, text = (OK, f"recording {rec.task!r}: {rec.frames} frames") if rec.recording \
            else (OK, "idle")
        self.diag.report("recorder", level, text, episodes_saved=sum(
            r.saved for r in rec.results), frames=rec.frames)

    # --------------------------------------------------------------- services
    def _on_start(self, request: Any, response: Any) -> Any:
        task = self.task_param or self.instruction
        try:
            self.recorder.start(task, self._now())
            self._seed_idle_controllers(self._now())
        except RecorderError as exc:
            response.success, response.message = False, str(exc)
            return response
        response.success, response.message = True, f"recording episode: {task!r}"
        self.get_logger().info(response.message)
        return response

    def _on_stop(self, request: Any, response: Any) -> Any:
        try:
            result = self.recorder.stop(self._now())
        except RecorderError as exc:
            response.success, response.message = False, str(exc)
            return response
        except Exception as exc:
            response.success, response.message = False, self._fail(exc)
            return response
        skipped = result.skipped_ticks
        if result.saved:
            self.diag.count("episodes_saved")
            response.success = True
            response.message = (f"saved episode {result.index}: {result.frames} frames, "
                                f"{skipped} ticks skipped")
        else:
            self.diag.count("episodes_discarded")
            response.success, response.message = False, f"discarded: {result.reason}"
        self.get_logger().info(response.message)
        self.diag.report("episode", OK if result.saved else WARN, response.message)
        return response

    def _on_discard(self, request: Any, response: Any) -> Any:
        try:
            result = self.recorder.discard("discarded by request")
        except RecorderError as exc:
            response.success, response.message = False, str(exc)
            return response
        self.diag.count("episodes_discarded")
        response.success = True
        response.message = f"discarded the episode ({result.frames} frames)"
        return response

    # --------------------------------------------------------------- shutdown
    def destroy_node(self) -> None:
        """Discard an episode in progress (never half-saved), release the dataset lock."""
        recorder = getattr(self, "recorder", None)
        if recorder is not None and recorder.recording:
            recorder.discard("node shut down mid-episode")
            self.get_logger().warning("shut down mid-episode: the partial episode was discarded")
        if getattr(self, "writer", None) is not None:
            self.writer.close()
            self.writer = None
        if getattr(self, "bag", None) is not None:
            self.bag.close()
            self.bag = None
        super().destroy_node()


NODE_CLASS = RecorderNode
main = node_main(RecorderNode)
