"""Camera sources that are not ROS topics: an OpenCV device, a video file, an image folder.

Each yields `Frame(image, stamp)` with `image` HxWx3 RGB uint8 — the one layout the rest of
the pipeline accepts — so the node treats every source alike. A ROS topic source is handled
by the node itself (messages arrive by callback, not by polling).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vla_ros.perception.errors import CameraSourceError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp")
SOURCE_KINDS = ("topic", "device", "video", "folder")


@dataclass(frozen=True)
class Frame:
    """One captured image (HxWx3 RGB uint8) and its capture time in seconds."""

    image: np.ndarray
    stamp: float


class FrameSource(Protocol):
    """What the node polls: `read()` gives the next frame, or None when none is ready/left."""

    name: str

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


def bgr_to_rgb_frame(image: np.ndarray, where: str) -> np.ndarray:
    """OpenCV's BGR / gray / BGRA → HxWx3 RGB uint8; anything else is an error naming `where`."""
    if image is None or image.size == 0:
        raise CameraSourceError(f"{where}: empty frame")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.dtype != np.uint8:
        raise CameraSourceError(f"{where}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    raise CameraSourceError(f"{where}: unsupported frame shape {image.shape}")


class DeviceSource:
    """A live camera through OpenCV (USB/V4L2 index like `0`, or a path like /dev/video2).

    Stamps are wall-clock seconds at `read()`: the driver's own timestamps are not
    portable across backends, and a frame is grabbed right when it is read.
    """

    def __init__(self, device: str | int, name: str = "camera",
                 width: int = 0, height: int = 0) -> None:
        self.name = name
        target = _device_target(device)
        if isinstance(target, str) and not Path(target).exists():
            raise CameraSourceError(f"camera '{name}': device {target} does not exist")
        self._cap = cv2.VideoCapture(target)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraSourceError(
                f"camera '{name}': cannot open video device {device!r} "
                "(not connected, busy, or no permission)")
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok:
            return None
        return Frame(bgr_to_rgb_frame(image, f"camera '{self.name}'"), time.time())

    def close(self) -> None:
        self._cap.release()


def _device_target(device: str | int) -> str | int:
    if isinstance(device, int):
        return device
    text = str(device).strip()
    if not text:
        raise CameraSourceError("empty camera device; give an index like 0 or a path like "
                                "/dev/video0")
    return int(text) if text.isdigit() else text


class VideoFileSource:
    """Frames of a video file in order; the stamp is the frame's position in the file (s)
    plus `start`, so a replay keeps the recording's timing."""

    def __init__(self, path: str | Path, name: str = "camera", loop: bool = False,
                 start: float = 0.0) -> None:
        self.name = name
        self.path = Path(path)
        self.loop = loop
        self.start = start
        if not self.path.is_file():
            raise CameraSourceError(f"camera '{name}': video file {self.path} does not exist")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraSourceError(f"camera '{name}': cannot decode video file {self.path}")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and np.isfinite(fps) and fps > 0 else 30.0
        self._index = 0
        self._offset = 0.0  # seconds added per completed loop

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok and self.loop and self._index > 0:
            self._offset += self._index / self.fps
            self._index = 0
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok:
            return None
        stamp = self.start + self._offset + self._index / self.fps
        self._index += 1
        return Frame(bgr_to_rgb_frame(image, f"video {self.path} frame {self._index - 1}"),
                     stamp)

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource:
    """The images of a folder in sorted file-name order, stamped `start + i / rate_hz`."""

    def __init__(self, folder: str | Path, name: str = "camera", rate_hz: float = 10.0,
                 loop: bool = False, start: float = 0.0) -> None:
        self.name = name
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise CameraSourceError(f"camera '{name}': image folder {self.folder} does not exist")
        self.files = sorted(p for p in self.folder.iterdir()
                            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self.files:
            raise CameraSourceError(
                f"camera '{name}': image folder {self.folder} holds no images "
                f"({', '.join(IMAGE_SUFFIXES)})")
        if rate_hz <= 0:
            raise CameraSourceError(f"camera '{name}': rate_hz must be > 0, got {rate_hz}")
        self.period = 1.0 / rate_hz
        self.loop = loop
        self.start = start
        self._count = 0

    def read(self) -> Frame | None:
        index = self._count % len(self.files) if self.loop else self._count
        if index >= len(self.files):
            return None
        path = self.files[index]
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise CameraSourceError(f"camera '{self.name}': cannot decode image {path}")
        stamp = self.start + self._count * self.period
        self._count += 1
        return Frame(bgr_to_rgb_frame(image, f"image {path}"), stamp)

    def close(self) -> None:
        pass


def open_source(kind: str, path: str, name: str = "camera", rate_hz: float = 10.0,
                loop: bool = False) -> FrameSource:
    """Open a polled source by kind (device | video | folder); `topic` is the node's job."""
    if kind == "device":
        return DeviceSource(path, name)
    if kind == "video":
        return VideoFileSource(path, name, loop=loop)
    if kind == "folder":
        return ImageFolderSource(path, name, rate_hz=rate_hz, loop=loop)
    if kind == "topic":
        raise CameraSourceError(f"camera '{name}': a topic source is subscribed, not opened")
    raise CameraSourceError(
        f"camera '{name}': unknown source '{kind}'; use one of {', '.join(SOURCE_KINDS)}")


def iter_frames(source: FrameSource) -> Iterator[Frame]:
    """All frames of a finite source (video, folder) until it runs out."""
    while (frame := source.read()) is not None:
        yield frame
