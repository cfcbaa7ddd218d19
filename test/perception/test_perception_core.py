"""Perception core: sources, preprocessing, rectification, approximate-time sync."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vla_ros.perception import (
    ApproximateSync,
    Calibration,
    CalibrationError,
    CameraSourceError,
    Crop,
    DeviceSource,
    ImageFolderSource,
    PreprocessConfig,
    PreprocessError,
    Rectifier,
    VideoFileSource,
    open_source,
    preprocess,
    to_rgb,
)
from vla_ros.perception.sources import iter_frames


def gradient(h: int = 48, w: int = 64) -> np.ndarray:
    """RGB test image: red rises left→right, green top→bottom, blue constant."""
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    image[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    image[..., 2] = 77
    return image


# --- sources ---------------------------------------------------------------------------
def test_folder_source_sorted_rgb_and_stamped(tmp_path):
    colours = {"b.png": (0, 255, 0), "a.png": (255, 0, 0), "c.jpg": (0, 0, 255)}
    for name, rgb in colours.items():
        image = np.full((8, 10, 3), rgb, np.uint8)
        cv2.imwrite(str(tmp_path / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.txt").write_text("not an image")
    source = ImageFolderSource(tmp_path, "scene", rate_hz=5.0)
    frames = list(iter_frames(source))
    assert [f.stamp for f in frames] == pytest.approx([0.0, 0.2, 0.4])
    for frame, name in zip(frames, ["a.png", "b.png", "c.jpg"], strict=True):
        assert frame.image.shape == (8, 10, 3) and frame.image.dtype == np.uint8
        assert np.abs(frame.image[4, 5].astype(int) - colours[name]).max() < 10


def test_video_source_reads_frames_in_order(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (32, 24))
    assert writer.isOpened()
    for level in (0, 100, 200):
        writer.write(np.full((24, 32, 3), (level, 0, 0), np.uint8))  # BGR: blue rises
    writer.release()
    frames = list(iter_frames(VideoFileSource(path, "wrist")))
    assert len(frames) == 3
    assert [f.stamp for f in frames] == pytest.approx([0.0, 0.05, 0.10])
    blues = [int(f.image[..., 2].mean()) for f in frames]  # RGB: blue is channel 2
    assert blues[0] < blues[1] < blues[2] and abs(blues[2] - 200) < 15
    assert all(f.image[..., 0].mean() < 15 for f in frames)


def test_video_source_loops_with_increasing_stamps(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (16, 16))
    for _ in range(2):
        writer.write(np.zeros((16, 16, 3), np.uint8))
    writer.release()
    source = VideoFileSource(path, loop=True)
    stamps = [source.read().stamp for _ in range(5)]
    assert stamps == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


@pytest.mark.parametrize("kind, path, needle", [
    ("video", "/nonexistent/clip.mp4", "/nonexistent/clip.mp4"),
    ("folder", "/nonexistent/frames", "/nonexistent/frames"),
    ("device", "/dev/video99", "/dev/video99"),
    ("device", "97", "97"),
    ("webcam", "x", "unknown source 'webcam'"),
])
def test_missing_sources_name_what_is_missing(kind, path, needle):
    with pytest.raises(CameraSourceError) as err:
        open_source(kind, path, name="scene")
    assert needle in str(err.value) and "scene" in str(err.value)


def test_empty_folder_and_bad_file_are_errors(tmp_path):
    with pytest.raises(CameraSourceError, match="no images"):
        ImageFolderSource(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    source = ImageFolderSource(tmp_path)
    with pytest.raises(CameraSourceError, match="broken.png"):
        source.read()
    with pytest.raises(CameraSourceError, match="empty camera device"):
        DeviceSource("")


# --- preprocessing ---------------------------------------------------------------------
def test_centre_crop_keeps_output_aspect_and_middle():
    image = gradient(48, 64)
    out = preprocess(image, PreprocessConfig(16, 16, Crop.parse("center")))
    assert out.shape == (16, 16, 3)
    # a centre square of a 64-wide image spans columns 8..56: red covers the middle range
    red = out[..., 0].astype(int)
    assert red[:, 0].mean() > 20 and red[:, -1].mean() < 235
    full = preprocess(image, PreprocessConfig(16, 16))  # squashed, whole width
    assert full[:, 0, 0].mean() < red[:, 0].mean()


def test_box_crop_takes_exactly_that_window():
    image = gradient(48, 64)
    out = preprocess(image, PreprocessConfig(0, 0, Crop.parse("10, 5, 20, 30")))
    np.testing.assert_array_equal(out, image[5:35, 10:30])
    with pytest.raises(PreprocessError, match="does not fit a 64x48"):
        preprocess(image, PreprocessConfig(0, 0, Crop.parse("50,0,20,10")))


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "0,0,-1,5"])
def test_bad_crop_text_is_rejected(text):
    with pytest.raises(PreprocessError, match="crop"):
        Crop.parse(text)


def test_colour_conversions_round_trip():
    image = gradient()
    bgr = preprocess(image, PreprocessConfig(0, 0, encoding="bgr8"))
    np.testing.assert_array_equal(bgr[..., ::-1], image)
    np.testing.assert_array_equal(to_rgb(bgr, "bgr8"), image)
    mono = preprocess(image, PreprocessConfig(0, 0, encoding="mono8"))
    assert mono.shape == image.shape[:2]
    expected = 0.299 * image[..., 0] + 0.587 * image[..., 1] + 0.114 * image[..., 2]
    assert np.abs(mono - expected).max() <= 1.0
    assert to_rgb(mono, "mono8").shape == image.shape
    with pytest.raises(PreprocessError, match="HxWx3"):
        to_rgb(mono, "rgb8")
    with pytest.raises(PreprocessError, match="yuv"):
        PreprocessConfig(encoding="yuv422")


# --- rectification ---------------------------------------------------------------------
def _calibration(d=(0.0, 0, 0, 0, 0), w=64, h=48) -> Calibration:
    k = [50.0, 0, w / 2, 0, 50.0, h / 2, 0, 0, 1]
    p = [50.0, 0, w / 2, 0, 0, 50.0, h / 2, 0, 0, 0, 1, 0]
    return Calibration.from_arrays(w, h, k, d, np.eye(3).ravel(), p)


def test_zero_distortion_rectification_is_identity_and_cached():
    rectifier = Rectifier()
    image = gradient()
    out = rectifier.rectify(image, _calibration())
    assert np.abs(out[2:-2, 2:-2].astype(int) - image[2:-2, 2:-2]).max() <= 1
    rectifier.rectify(image, _calibration())
    assert rectifier.builds == 1
    rectifier.rectify(image, _calibration(d=(-0.2, 0.05, 0, 0, 0)))
    assert rectifier.builds == 2


def test_rectification_undoes_distortion_of_points():
    calib = _calibration(d=(-0.3, 0.1, 0, 0, 0))
    image = np.zeros((48, 64, 3), np.uint8)
    # where does the ideal pixel (56, 40) land on the distorted sensor?
    ideal = np.array([[[56.0, 40.0]]])
    normalized = cv2.undistortPoints(ideal, calib.K, np.zeros(5))  # to normalized coords
    pts3 = cv2.convertPointsToHomogeneous(normalized)
    distorted, _ = cv2.projectPoints(pts3, np.zeros(3), np.zeros(3), calib.K, calib.D)
    u, v = np.round(distorted.ravel()).astype(int)
    assert (u, v) != (56, 40)
    cv2.circle(image, (int(u), int(v)), 2, (255, 255, 255), -1)
    out = Rectifier().rectify(image, calib)
    ys, xs = np.nonzero(out[..., 0] > 100)
    assert abs(xs.mean() - 56) < 1.5 and abs(ys.mean() - 40) < 1.5


def test_bad_calibrations_are_rejected():
    with pytest.raises(CalibrationError, match=r"CameraInfo\.k has 4"):
        Calibration.from_arrays(64, 48, [1, 2, 3, 4], [0] * 5, np.eye(3).ravel(), [0] * 12)
    with pytest.raises(CalibrationError, match="zero focal"):
        Calibration.from_arrays(64, 48, [0] * 9, [0] * 5, [0] * 9, [0] * 12)
    with pytest.raises(CalibrationError, match="says 64x48"):
        Rectifier().rectify(np.zeros((10, 10, 3), np.uint8), _calibration())


# --- approximate sync ------------------------------------------------------------------
def test_sync_pairs_each_frame_with_nearest_joint_state():
    sync = ApproximateSync(["scene", "joints"], max_skew=0.015)
    sets = []
    for i in range(50):  # joint states at 100 Hz
        t = i * 0.01
        sets += sync.add("joints", t + 0.001, f"j{i}")
        if i % 10 == 3:  # a camera frame at 10 Hz that arrives a bit late
            sets += sync.add("scene", t - 0.006, f"img{i}")
    assert len(sets) == 5
    for matched in sets:
        spread = abs(matched["scene"].stamp - matched["joints"].stamp)
        assert spread <= 0.015
        assert spread == pytest.approx(0.003, abs=1e-9)  # the nearest state was chosen


def test_sync_never_exceeds_max_skew_and_counts_unsynced():
    rng = np.random.default_rng(3)
    sync = ApproximateSync(["a", "b", "c"], max_skew=0.02)
    events = []
    for name, rate in (("a", 30.0), ("b", 30.0), ("c", 100.0)):
        times = np.cumsum(rng.uniform(0.5, 1.5, 200) / rate)
        events += [(t, name) for t in times]
    sets = []
    for t, name in sorted(events):
        sets += sync.add(name, t, None)
    assert sets
    for matched in sets:
        stamps = [s.stamp for s in matched.values()]
        assert max(stamps) - min(stamps) <= 0.02 + 1e-12
    assert sum(sync.dropped_unsynced.values()) > 0
    for prev, nxt in zip(sets, sets[1:], strict=False):
        assert all(nxt[k].stamp > prev[k].stamp for k in prev)


def test_sync_prunes_stale_and_refuses_out_of_order():
    sync = ApproximateSync(["cam", "joints"], max_skew=0.01, max_age=0.1)
    sync.add("cam", 1.0, "old")
    assert sync.prune(now=1.05) == 0
    assert sync.prune(now=1.2) == 1 and sync.dropped_stale["cam"] == 1
    sync.add("joints", 2.0, "j")
    assert sync.add("joints", 1.5, "late") == [] and sync.dropped_out_of_order["joints"] == 1
    with pytest.raises(Exception, match="unknown sync stream 'depth'"):
        sync.add("depth", 2.0, None)


def test_calibration_file_in_camera_calibration_format(tmp_path):
    from vla_ros.perception import load_calibration

    path = tmp_path / "wrist.yaml"
    path.write_text("""
image_width: 64
image_height: 48
camera_name: wrist
camera_matrix: {rows: 3, cols: 3, data: [50.0, 0, 32, 0, 50.0, 24, 0, 0, 1]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [-0.2, 0.05, 0, 0, 0]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [50.0, 0, 32, 0, 0, 50.0, 24, 0, 0, 0, 1, 0]}
""")
    calib = load_calibration(path)
    assert (calib.width, calib.height) == (64, 48)
    np.testing.assert_allclose(calib.D, [-0.2, 0.05, 0, 0, 0])
    assert calib.P.shape == (3, 4) and calib.K[0, 0] == 50.0
    path.write_text("image_width: 64\nimage_height: 48\ncamera_matrix: {data: [1, 2]}\n")
    with pytest.raises(CalibrationError, match=r"wrist.yaml: CameraInfo\.k has 2"):
        load_calibration(path)
    with pytest.raises(CalibrationError, match="cannot read calibration file"):
        load_calibration(tmp_path / "missing.yaml")
