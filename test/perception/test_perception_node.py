"""perception_node on the local backend: topic and folder sources, sync, stale, malformed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vla_ros.assets import PACKAGE_ROOT
from vla_ros.nodes.perception_node import PerceptionNode
from vla_ros.perception import CameraSourceError, PerceptionError
from vla_ros.runtime import SENSOR_DATA, Node, msgs
from vla_ros.runtime.clock import time_msg_to_seconds
from vla_ros.runtime.convert import image_to_msg, joint_state_msg, msg_to_image
from vla_ros.runtime.entry import create_local_node
from vla_ros.runtime.local import LocalContext


def stamp_of(msg) -> float:
    return time_msg_to_seconds(msg.header.stamp)


def values_of(diag_msgs, component="cameras") -> dict[str, str]:
    for array in reversed(diag_msgs):
        for status in array.status:
            if status.name.endswith(component):
                return {kv.key: kv.value for kv in status.values}
    raise AssertionError(f"no diagnostics for {component}")


class Rig:
    def __init__(self, tmp_params: dict, cameras=("scene", "wrist")):
        self.ctx = LocalContext(sim_time=True)
        params = {"cameras": list(cameras), "width": 32, "height": 24, **tmp_params}
        self.node = PerceptionNode(context=self.ctx, parameter_overrides=params)
        self.probe = Node("probe", context=self.ctx)
        self.out = {c: [] for c in cameras}
        self.diag = []
        for c in cameras:
            self.probe.create_subscription(msgs.Image, f"perception/{c}/image",
                                           self.out[c].append, SENSOR_DATA)
        self.probe.create_subscription(msgs.DiagnosticArray, "/diagnostics", self.diag.append,
                                       100)
        self.raw = {c: self.probe.create_publisher(msgs.Image, f"camera/{c}/image_raw",
                                                   SENSOR_DATA) for c in cameras}
        self.info = {c: self.probe.create_publisher(msgs.CameraInfo,
                                                    f"camera/{c}/camera_info", SENSOR_DATA)
                     for c in cameras}
        self.joints = self.probe.create_publisher(msgs.JointState, "joint_states", 100)

    def now(self) -> float:
        return self.ctx.clock.now_ns() * 1e-9

    def image(self, camera: str, stamp: float, value: int = 100, encoding="rgb8"):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:, :32] = value
        if encoding == "bgr8":
            frame = frame[..., ::-1].copy()
        self.raw[camera].publish(image_to_msg(frame, encoding, stamp=stamp,
                                              frame_id=f"{camera}_optical"))

    def joint_state(self, stamp: float):
        self.joints.publish(joint_state_msg(["j1"], [0.1], stamp=stamp))


@pytest.fixture
def rig():
    made = []

    def make(params=None, **kw):
        made.append(Rig(params or {}, **kw))
        return made[-1]

    yield make
    for r in made:
        r.ctx.shutdown()


def test_topic_frames_resized_cropped_and_stamped_at_capture(rig):
    r = rig({"sync": False, "crop": "center", "wrist.width": 16, "wrist.height": 16,
             "wrist.encoding": "mono8"})
    r.ctx.spin_for(1.0)
    r.image("scene", 0.95, value=200, encoding="bgr8")
    r.image("wrist", 0.97, value=200)
    r.ctx.spin_for(0.01)
    scene, wrist = r.out["scene"][-1], r.out["wrist"][-1]
    assert (scene.width, scene.height, scene.encoding) == (32, 24, "rgb8")
    assert (wrist.width, wrist.height, wrist.encoding) == (16, 16, "mono8")
    assert stamp_of(scene) == pytest.approx(0.95) and stamp_of(wrist) == pytest.approx(0.97)
    assert scene.header.frame_id == "scene_optical"
    image = msg_to_image(scene)
    # left half bright in BGR input → left half bright in RGB output, colour order kept
    assert image[:, :8].mean() > 150 and image[:, -8:].mean() < 50
    assert msg_to_image(wrist)[:, :4].mean() > 150  # centre square still has the bright half


def test_sync_groups_cameras_with_joint_states_within_skew(rig):
    r = rig({"max_skew": 0.02})
    r.ctx.spin_for(0.5)
    for i in range(30):  # joint states at 100 Hz; cameras at 10 Hz, wrist 7 ms later
        t = 0.5 + i * 0.01
        r.joint_state(t)
        if i % 10 == 0:
            r.image("scene", t - 0.004)
            r.image("wrist", t + 0.003)
        r.ctx.spin_for(0.01)
    assert len(r.out["scene"]) == 3 and len(r.out["wrist"]) == 3
    for scene, wrist in zip(r.out["scene"], r.out["wrist"], strict=True):
        assert abs(stamp_of(scene) - stamp_of(wrist)) <= 0.02
    # the wrist camera alone (no scene partner) never gets published
    r.image("wrist", r.now())
    r.joint_state(r.now())
    r.ctx.spin_for(0.05)
    assert len(r.out["wrist"]) == 3


def test_stale_frames_dropped_and_counted(rig):
    r = rig({"cameras": ["scene"], "max_age": 0.2, "sync": False}, cameras=("scene",))
    r.ctx.spin_for(2.0)
    r.image("scene", 1.5)   # 0.5 s old
    r.image("scene", 1.95)  # fresh
    r.ctx.spin_for(1.0)
    assert [stamp_of(m) for m in r.out["scene"]] == pytest.approx([1.95])
    values = values_of(r.diag)
    assert values["dropped_stale"] == "1" and values["frames_in"] == "2"
    assert values["frames_out"] == "1"


def test_unmatched_frames_expire_as_stale_in_sync(rig):
    r = rig({"cameras": ["scene"], "max_age": 0.2}, cameras=("scene",))
    r.ctx.spin_for(1.0)
    r.image("scene", 1.0)  # no joint_states ever arrive
    r.ctx.spin_for(1.0)
    assert r.out["scene"] == []
    assert values_of(r.diag)["dropped_stale"] == "1"


def test_malformed_images_rejected_without_crash(rig):
    r = rig({"cameras": ["scene"], "sync": False}, cameras=("scene",))
    r.ctx.spin_for(0.5)
    good = image_to_msg(np.zeros((48, 64, 3), np.uint8), stamp=0.5)
    bad_step = image_to_msg(np.zeros((48, 64, 3), np.uint8), stamp=0.5)
    bad_step.step = 10
    bad_size = image_to_msg(np.zeros((48, 64, 3), np.uint8), stamp=0.5)
    bad_size.height = 50
    bad_encoding = image_to_msg(np.zeros((48, 64, 3), np.uint8), stamp=0.5)
    bad_encoding.encoding = "yuv422"
    for msg in (bad_step, bad_size, bad_encoding, good):
        r.raw["scene"].publish(msg)
    r.ctx.spin_for(1.0)
    assert len(r.out["scene"]) == 1
    reasons = [s.message for a in r.diag for s in a.status if s.name.endswith(": scene")]
    assert any("step 10" in m for m in reasons)
    assert any("yuv422" in m for m in reasons)
    assert values_of(r.diag)["conversion_errors"] == "3"


def test_rectify_waits_for_camera_info_then_publishes(rig):
    r = rig({"cameras": ["scene"], "sync": False, "rectify": True}, cameras=("scene",))
    r.ctx.spin_for(0.5)
    r.image("scene", 0.5)
    r.ctx.spin_for(0.01)
    assert r.out["scene"] == []
    r.info["scene"].publish(msgs.CameraInfo(
        width=64, height=48, distortion_model="plumb_bob", d=np.array([-0.2, 0.05, 0, 0, 0.]),
        k=np.array([60.0, 0, 32, 0, 60, 24, 0, 0, 1]), r=np.eye(3).ravel(),
        p=np.array([60.0, 0, 32, 0, 0, 60, 24, 0, 0, 0, 1, 0])))
    r.image("scene", 0.51)
    r.ctx.spin_for(1.0)
    assert len(r.out["scene"]) == 1
    assert values_of(r.diag)["waiting_camera_info"] == "1"


def test_folder_source_rectified_from_a_calibration_file(rig, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.png"), np.full((48, 64, 3), 90, np.uint8))
    calib = tmp_path / "scene.yaml"
    calib.write_text("image_width: 64\nimage_height: 48\n"
                     "camera_matrix: {data: [60.0, 0, 32, 0, 60.0, 24, 0, 0, 1]}\n"
                     "distortion_coefficients: {data: [0.3, 0.1, 0, 0, 0]}\n")
    r = rig({"cameras": ["scene"], "sync": False, "rectify": True, "width": 0, "height": 0,
             "scene.source": "folder", "scene.source_path": str(frames),
             "scene.calibration_file": str(calib)}, cameras=("scene",))
    r.ctx.spin_for(0.15)
    image = msg_to_image(r.out["scene"][0])
    assert image.shape == (48, 64, 3)
    # pincushion undone: the centre keeps its value, the corners sample outside → black
    assert image[24, 32].mean() == pytest.approx(90, abs=2) and image[0, 0].sum() == 0


def test_folder_source_polled_at_rate_and_stamped_with_clock(rig, tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((20, 30, 3), 60 * i, np.uint8))
    r = rig({"cameras": ["scene"], "sync": False, "scene.source": "folder",
             "scene.source_path": str(tmp_path), "rate_hz": 4.0}, cameras=("scene",))
    r.ctx.spin_for(2.0)
    got = r.out["scene"]
    assert [stamp_of(m) for m in got] == pytest.approx([0.25, 0.5, 0.75])
    assert [int(msg_to_image(m).mean()) for m in got] == [0, 60, 120]
    assert any("no more frames" in s.message for a in r.diag for s in a.status)


def test_bad_sources_fail_at_start_naming_the_camera():
    ctx = LocalContext(sim_time=True)
    try:
        with pytest.raises(CameraSourceError, match="/nope/clip.mp4"):
            PerceptionNode(context=ctx, parameter_overrides={
                "cameras": ["scene"], "scene.source": "video",
                "scene.source_path": "/nope/clip.mp4"})
        with pytest.raises(PerceptionError, match="'scene.source' is 'usb'"):
            PerceptionNode(context=ctx, name="p2", parameter_overrides={
                "cameras": ["scene"], "scene.source": "usb"})
    finally:
        ctx.shutdown()


def test_config_file_loads_with_sane_defaults():
    ctx = LocalContext(sim_time=True)
    try:
        node = create_local_node(PerceptionNode, ctx,
                                 parameters=[PACKAGE_ROOT / "config" / "perception.yaml"])
        assert list(node.cameras) == ["scene", "wrist"]
        for cam in node.cameras.values():
            assert cam.source_kind == "topic"
            assert (cam.config.width, cam.config.height) == (128, 128)
        assert node.unused_parameter_overrides() == []
    finally:
        ctx.shutdown()


def test_mujoco_sim_cameras_through_perception():
    from vla_ros.nodes.mujoco_sim import MujocoSim

    ctx = LocalContext(sim_time=True)
    try:
        MujocoSim(context=ctx, parameter_overrides={
            "cameras": ["scene", "wrist"], "image_width": 64, "image_height": 48})
        PerceptionNode(context=ctx, parameter_overrides={
            "width": 32, "height": 32, "crop": "center", "max_skew": 0.01})
        probe = Node("probe", context=ctx)
        raw, out = [], {"scene": [], "wrist": []}
        probe.create_subscription(msgs.Image, "camera/scene/image_raw", raw.append, SENSOR_DATA)
        for c in out:
            probe.create_subscription(msgs.Image, f"perception/{c}/image", out[c].append,
                                      SENSOR_DATA)
        ctx.spin_for(1.05)
        assert len(out["scene"]) == len(out["wrist"]) == 10  # every 10 Hz frame, synced
        assert [stamp_of(m) for m in out["scene"]] == [stamp_of(m) for m in raw]
        image = msg_to_image(out["scene"][-1])
        assert image.shape == (32, 32, 3) and image.std() > 1.0
    finally:
        ctx.shutdown()
