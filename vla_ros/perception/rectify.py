"""Rectification from a CameraInfo's K, D, R, P with OpenCV, maps cached per calibration.

`cv2.initUndistortRectifyMap` costs milliseconds; `cv2.remap` with its maps is cheap. The
maps are rebuilt only when the calibration (or the image size) changes, which on a real
camera is never after the first message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from vla_ros.perception.errors import CalibrationError

DISTORTION_MODELS = ("plumb_bob", "rational_polynomial", "equidistant", "")


@dataclass(frozen=True)
class Calibration:
    """The fields of sensor_msgs/CameraInfo that rectification needs."""

    width: int
    height: int
    K: np.ndarray  # 3x3
    D: np.ndarray  # (n,)
    R: np.ndarray  # 3x3
    P: np.ndarray  # 3x4
    distortion_model: str = "plumb_bob"

    @classmethod
    def from_arrays(cls, width: int, height: int, k, d, r, p,
                    distortion_model: str = "plumb_bob") -> Calibration:
        """Flat CameraInfo arrays (k 9, d n, r 9, p 12) → checked Calibration."""
        def shaped(name: str, values, shape: tuple[int, int]) -> np.ndarray:
            array = np.asarray(values, dtype=np.float64).reshape(-1)
            if array.size != shape[0] * shape[1]:
                raise CalibrationError(f"CameraInfo.{name} has {array.size} values, "
                                       f"expected {shape[0] * shape[1]}")
            return array.reshape(shape)

        if distortion_model not in DISTORTION_MODELS:
            raise CalibrationError(f"CameraInfo distortion_model '{distortion_model}' "
                                   f"unsupported; use one of {DISTORTION_MODELS[:-1]}")
        if width <= 0 or height <= 0:
            raise CalibrationError(f"CameraInfo size {width}x{height} has no pixels")
        K = shaped("k", k, (3, 3))
        if K[0, 0] == 0 or K[1, 1] == 0:
            raise CalibrationError("CameraInfo.k is uncalibrated (zero focal length)")
        R = shaped("r", r, (3, 3))
        if not R.any():
            R = np.eye(3)  # an all-zero R means "not set": monocular cameras use identity
        P = shaped("p", p, (3, 4))
        if not P.any():
            P = np.hstack([K, np.zeros((3, 1))])
        D = np.asarray(d, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(np.concatenate([K.ravel(), D, R.ravel(), P.ravel()]))):
            raise CalibrationError("CameraInfo holds NaN or infinite values")
        return cls(int(width), int(height), K, D, R, P, distortion_model or "plumb_bob")

    def key(self) -> tuple:
        return (self.width, self.height, self.distortion_model, self.K.tobytes(),
                self.D.tobytes(), self.R.tobytes(), self.P.tobytes())


class Rectifier:
    """Undistort + rectify images; keeps the maps of the most recent calibration(s)."""

    def __init__(self, max_cached: int = 4) -> None:
        self._maps: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._max = max_cached
        self.builds = 0  # how many map sets were computed (tests check the cache works)

    def maps(self, calib: Calibration) -> tuple[np.ndarray, np.ndarray]:
        key = calib.key()
        cached = self._maps.get(key)
        if cached is not None:
            return cached
        size = (calib.width, calib.height)
        newK = calib.P[:, :3]
        if calib.distortion_model == "equidistant":
            if calib.D.size < 4:
                raise CalibrationError("equidistant model needs 4 distortion coefficients")
            m1, m2 = cv2.fisheye.initUndistortRectifyMap(
                calib.K, calib.D[:4], calib.R, newK, size, cv2.CV_16SC2)
        else:
            m1, m2 = cv2.initUndistortRectifyMap(calib.K, calib.D, calib.R, newK, size,
                                                 cv2.CV_16SC2)
        if len(self._maps) >= self._max:
            self._maps.pop(next(iter(self._maps)))
        self._maps[key] = (m1, m2)
        self.builds += 1
        return m1, m2

    def rectify(self, image: np.ndarray, calib: Calibration) -> np.ndarray:
        if image.shape[1] != calib.width or image.shape[0] != calib.height:
            raise CalibrationError(
                f"image is {image.shape[1]}x{image.shape[0]} but its CameraInfo says "
                f"{calib.width}x{calib.height}")
        m1, m2 = self.maps(calib)
        return cv2.remap(image, m1, m2, interpolation=cv2.INTER_LINEAR)


def load_calibration(path: str | Path) -> Calibration:
    """A camera_calibration / camera_info_manager YAML file (what `cameracalibrator` writes:
    image_width, image_height, camera_matrix, distortion_model, distortion_coefficients,
    rectification_matrix, projection_matrix) → Calibration. For cameras that do not publish
    CameraInfo (USB devices, video files)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise CalibrationError(f"cannot read calibration file {path}: {err}") from None
    if not isinstance(raw, dict):
        raise CalibrationError(f"{path}: expected a mapping of calibration fields")

    def matrix(key: str, required: bool = True):
        entry = raw.get(key)
        if entry is None and not required:
            return np.zeros(0)
        try:
            return np.asarray(entry["data"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise CalibrationError(f"{path}: '{key}' needs a 'data' list of numbers") from None

    try:
        width, height = int(raw["image_width"]), int(raw["image_height"])
    except (KeyError, TypeError, ValueError):
        raise CalibrationError(f"{path}: image_width and image_height are required") from None
    try:
        return Calibration.from_arrays(
            width, height, matrix("camera_matrix"), matrix("distortion_coefficients", False),
            _or_zeros(matrix("rectification_matrix", False), 9),
            _or_zeros(matrix("projection_matrix", False), 12),
            raw.get("distortion_model", "plumb_bob"))
    except CalibrationError as err:
        raise CalibrationError(f"{path}: {err}") from None


def _or_zeros(values: np.ndarray, size: int) -> np.ndarray:
    return values if values.size else np.zeros(size)
