"""perception_node: camera frames → cropped, resized, time-synced `perception/<name>/image`.

Per camera the source is a ROS topic (`camera/<name>/image_raw` [+ `camera_info`]), an
OpenCV device, a video file or an image folder (polled at `rate_hz`, stamped with the node
clock at capture). Frames are converted to RGB, optionally rectified from CameraInfo,
cropped, resized and converted to the output encoding, then — with `sync` — grouped with
the other cameras and `joint_states` by approximate time (without `sync`, each frame is
published as soon as it is processed), so the policy and the recorder
see frames and a joint state of the same instant. Frames older than `max_age` are dropped,
malformed images are rejected; all of it is counted on `/diagnostics`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from vla_ros.perception import (
    SOURCE_KINDS,
    ApproximateSync,
    Calibration,
    CalibrationError,
    Crop,
    FrameSource,
    PerceptionError,
    PreprocessConfig,
    Rectifier,
    load_calibration,
    open_source,
    preprocess,
    to_rgb,
)
from vla_ros.runtime import SENSOR_DATA, Diagnostics, Node, msgs
from vla_ros.runtime.clock import time_msg_to_seconds
from vla_ros.runtime.convert import ConversionError, image_to_msg, msg_to_image
from vla_ros.runtime.diagnostics import OK, WARN
from vla_ros.runtime.entry import node_main
from vla_ros.runtime.parameters import ParameterDescriptor

JOINTS = "joint_states"
COUNTERS = ("frames_in", "frames_out", "dropped_stale", "dropped_unsynced",
            "conversion_errors", "waiting_camera_info")


@dataclass
class Camera:
    """One camera's settings and state inside the node."""

    name: str
    source_kind: str
    source_path: str
    config: PreprocessConfig
    rectify: bool
    source: FrameSource | None = None
    calibration: Calibration | None = None
    ended: bool = False


class PerceptionNode(Node):
    DEFAULT_NAME = "perception_node"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.DEFAULT_NAME, **kwargs)
        ro = ParameterDescriptor(read_only=True)
        names = list(self.declare_parameter("cameras", ["scene", "wrist"], ro).value)
        width = int(self.declare_parameter("width", 128, ro).value)
        height = int(self.declare_parameter("height", 128, ro).value)
        crop = self.declare_parameter("crop", "", ro).value
        encoding = self.declare_parameter("encoding", "rgb8", ro).value
        rectify = bool(self.declare_parameter("rectify", False, ro).value)
        self.max_age = float(self.declare_parameter("max_age", 0.5).value)
        self.max_skew = float(self.declare_parameter("max_skew", 0.05, ro).value)
        rate_hz = float(self.declare_parameter("rate_hz", 10.0, ro).value)
        self.sync_enabled = bool(self.declare_parameter("sync", True, ro).value)
        queue_size = int(self.declare_parameter("queue_size", 30, ro).value)
        loop = bool(self.declare_parameter("loop", False, ro).value)
        diag_hz = float(self.declare_parameter("diagnostics_rate_hz", 1.0, ro).value)
        if not names or len(set(names)) != len(names):
            raise PerceptionError(f"parameter 'cameras' must list distinct names, got {names}")
        if rate_hz <= 0:
            raise PerceptionError(f"parameter 'rate_hz' must be > 0, got {rate_hz}")

        self.diag = Diagnostics(self, hardware_id="cameras:" + ",".join(names))
        self.rectifier = Rectifier()
        self.counters: Counter[str] = Counter({k: 0 for k in COUNTERS})
        self.cameras: dict[str, Camera] = {}
        for name in names:
            p = f"{name}."
            kind = self.declare_parameter(p + "source", "topic", ro).value
            if kind not in SOURCE_KINDS:
                raise PerceptionError(f"camera '{name}': parameter '{p}source' is '{kind}'; "
                                      f"use one of {', '.join(SOURCE_KINDS)}")
            path = self.declare_parameter(p + "source_path", "", ro).value
            config = PreprocessConfig(
                width=int(self.declare_parameter(p + "width", width, ro).value),
                height=int(self.declare_parameter(p + "height", height, ro).value),
                crop=Crop.parse(self.declare_parameter(p + "crop", crop, ro).value),
                encoding=self.declare_parameter(p + "encoding", encoding, ro).value,
            )
            cam = Camera(name, kind, path, config,
                         bool(self.declare_parameter(p + "rectify", rectify, ro).value))
            calibration_file = self.declare_parameter(p + "calibration_file", "", ro).value
            if calibration_file:  # cameras that publish no CameraInfo
                cam.calibration = load_calibration(calibration_file)
            if kind != "topic":
                cam.source = open_source(kind, path, name, rate_hz=rate_hz, loop=loop)
            self.cameras[name] = cam

        self.sync = ApproximateSync([*names, JOINTS], self.max_skew, queue_size,
                                    max_age=self.max_age)
        self.pubs = {n: self.create_publisher(msgs.Image, f"perception/{n}/image", SENSOR_DATA)
                     for n in names}
        for name, cam in self.cameras.items():
            if cam.source_kind == "topic":
                self.create_subscription(
                    msgs.Image, f"camera/{name}/image_raw",
                    lambda msg, n=name: self.on_image(n, msg), SENSOR_DATA)
            if cam.rectify and cam.calibration is None:
                self.create_subscription(
                    msgs.CameraInfo, f"camera/{name}/camera_info",
                    lambda msg, n=name: self.on_camera_info(n, msg), SENSOR_DATA)
        if self.sync_enabled:
            self.create_subscription(msgs.JointState, JOINTS, self.on_joint_state, 100)
        if any(c.source is not None for c in self.cameras.values()):
            self.create_timer(1.0 / rate_hz, self.poll_sources)
        self.create_timer(1.0 / diag_hz, self.report)

    # --- inputs ---------------------------------------------------------------------
    def now_s(self) -> float:
        return self.get_clock().now().seconds

    def on_camera_info(self, name: str, msg) -> None:
        try:
            self.cameras[name].calibration = Calibration.from_arrays(
                int(msg.width), int(msg.height), msg.k, msg.d, msg.r, msg.p,
                msg.distortion_model)
        except CalibrationError as err:
            self.diag.reject(f"{name}/camera_info", str(err))

    def on_image(self, name: str, msg) -> None:
        self.counters["frames_in"] += 1
        stamp = time_msg_to_seconds(msg.header.stamp) or self.now_s()
        try:
            image = to_rgb(msg_to_image(msg), msg.encoding)
        except (ConversionError, PerceptionError) as err:
            self.counters["conversion_errors"] += 1
            self.diag.reject(name, f"image rejected: {err}", **self.counters)
            return
        self.accept(name, image, stamp, msg.header.frame_id or f"{name}_camera")

    def poll_sources(self) -> None:
        for name, cam in self.cameras.items():
            if cam.source is None or cam.ended:
                continue
            try:
                frame = cam.source.read()
            except PerceptionError as err:
                self.counters["conversion_errors"] += 1
                self.diag.reject(name, str(err), **self.counters)
                continue
            if frame is None:
                cam.ended = True
                self.diag.report(name, WARN, f"{cam.source_kind} source "
                                 f"'{cam.source_path}' has no more frames")
                continue
            self.counters["frames_in"] += 1
            self.accept(name, frame.image, self.now_s(), f"{name}_camera")

    def on_joint_state(self, msg) -> None:
        stamp = time_msg_to_seconds(msg.header.stamp) or self.now_s()
        self._emit(self.sync.add(JOINTS, stamp, None))

    # --- processing -------------------------------------------------------------------
    def accept(self, name: str, image: np.ndarray, stamp: float, frame_id: str) -> None:
        """An RGB frame captured at `stamp`: drop if stale, process, publish or sync."""
        cam = self.cameras[name]
        if self.now_s() - stamp > self.max_age:
            self.counters["dropped_stale"] += 1
            return
        try:
            if cam.rectify:
                if cam.calibration is None:
                    self.counters["waiting_camera_info"] += 1
                    self.get_logger().warning(
                        f"{name}: rectify is on but no camera/{name}/camera_info yet; "
                        "dropping frames", throttle_duration_sec=5.0)
                    return
                image = self.rectifier.rectify(image, cam.calibration)
            out = preprocess(image, cam.config)
            msg = image_to_msg(out, cam.config.encoding, stamp=stamp, frame_id=frame_id)
        except (PerceptionError, ConversionError) as err:
            self.counters["conversion_errors"] += 1
            self.diag.reject(name, f"image rejected: {err}", **self.counters)
            return
        if not self.sync_enabled:
            self._publish(name, msg)
            return
        self._emit(self.sync.add(name, stamp, msg))

    def _emit(self, sets) -> None:
        for matched in sets:
            for name, entry in matched.items():
                if name != JOINTS:
                    self._publish(name, entry.item)

    def _publish(self, name: str, msg) -> None:
        self.pubs[name].publish(msg)
        self.counters["frames_out"] += 1

    # --- diagnostics ------------------------------------------------------------------
    def counter_values(self) -> dict[str, int]:
        """Node counters plus the sync's drops of camera frames (joint states are many and
        expected to go unmatched, so they are not counted as drops)."""
        self.sync.prune(self.now_s())
        values = dict(self.counters)
        values["dropped_stale"] += sum(self.sync.dropped_stale[n] for n in self.cameras)
        values["dropped_unsynced"] += sum(
            self.sync.dropped_unsynced[n] + self.sync.dropped_overflow[n]
            + self.sync.dropped_out_of_order[n] for n in self.cameras)
        return values

    def report(self) -> None:
        values = self.counter_values()
        bad = values["conversion_errors"] + values["dropped_stale"] + values["dropped_unsynced"]
        ended = [n for n, c in self.cameras.items() if c.ended]
        level = WARN if ended or (values["frames_in"] and bad > values["frames_out"]) else OK
        message = (f"{values['frames_out']} of {values['frames_in']} frames published"
                   + (f"; sources ended: {ended}" if ended else ""))
        self.diag.report("cameras", level, message, **values)

    def destroy_node(self) -> None:
        for cam in self.cameras.values():
            if cam.source is not None:
                cam.source.close()
        super().destroy_node()


NODE_CLASS = PerceptionNode
main = node_main(PerceptionNode)
