"""Camera sources and image preprocessing (core: numpy/OpenCV, no ROS imports).

Sources (device / video / folder) yield `Frame(image RGB uint8, stamp)`; `preprocess`
crops, resizes and converts; `Rectifier` undistorts from CameraInfo values;
`ApproximateSync` pairs camera frames with joint states by stamp.
"""

from vla_ros.perception.errors import (
    CalibrationError,
    CameraSourceError,
    PerceptionError,
    PreprocessError,
)
from vla_ros.perception.preprocess import Crop, PreprocessConfig, from_rgb, preprocess, to_rgb
from vla_ros.perception.rectify import Calibration, Rectifier, load_calibration
from vla_ros.perception.sources import (
    SOURCE_KINDS,
    DeviceSource,
    Frame,
    FrameSource,
    ImageFolderSource,
    VideoFileSource,
    open_source,
)
from vla_ros.perception.sync import ApproximateSync, Stamped

__all__ = [
    "SOURCE_KINDS",
    "ApproximateSync",
    "Calibration",
    "CalibrationError",
    "CameraSourceError",
    "Crop",
    "DeviceSource",
    "Frame",
    "FrameSource",
    "ImageFolderSource",
    "PerceptionError",
    "PreprocessConfig",
    "PreprocessError",
    "Rectifier",
    "Stamped",
    "VideoFileSource",
    "from_rgb",
    "load_calibration",
    "open_source",
    "preprocess",
    "to_rgb",
]
