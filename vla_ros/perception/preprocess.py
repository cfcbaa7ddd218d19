"""Preprocessing: colour conversion, centre/explicit crop, resize — in that order.

The policy sees a fixed-size image (e.g. 128x128 RGB); cameras deliver whatever they
deliver. Cropping before resizing keeps the aspect ratio honest: a centre crop cuts the
input to the output's aspect ratio, so objects are not squashed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vla_ros.perception.errors import PreprocessError

OUTPUT_ENCODINGS = ("rgb8", "bgr8", "mono8")
INPUT_ENCODINGS = ("rgb8", "bgr8", "mono8", "rgba8", "bgra8")


@dataclass(frozen=True)
class Crop:
    """`mode` 'none' | 'center' | 'box'; a box is (x, y, w, h) in input pixels."""

    mode: str = "none"
    box: tuple[int, int, int, int] = (0, 0, 0, 0)

    @classmethod
    def parse(cls, text: str | None) -> Crop:
        """'' / 'none' → no crop, 'center' → centre crop to the output aspect, 'x,y,w,h' → box."""
        text = (text or "").strip().lower()
        if text in ("", "none"):
            return cls()
        if text in ("center", "centre"):
            return cls("center")
        parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
        try:
            x, y, w, h = (int(p) for p in parts)
        except ValueError:
            raise PreprocessError(
                f"crop '{text}' is not 'center', 'none' or 'x,y,w,h' in pixels") from None
        if x < 0 or y < 0 or w <= 0 or h <= 0:
            raise PreprocessError(f"crop box {(x, y, w, h)} needs x, y >= 0 and w, h > 0")
        return cls("box", (x, y, w, h))


@dataclass(frozen=True)
class PreprocessConfig:
    """Output size (0 keeps the input size), crop and output encoding."""

    width: int = 128
    height: int = 128
    crop: Crop = Crop()
    encoding: str = "rgb8"
    interpolation: int = cv2.INTER_AREA

    def __post_init__(self) -> None:
        if self.encoding not in OUTPUT_ENCODINGS:
            raise PreprocessError(
                f"output encoding '{self.encoding}' unsupported; use one of {OUTPUT_ENCODINGS}")
        if self.width < 0 or self.height < 0 or (self.width == 0) != (self.height == 0):
            raise PreprocessError(
                f"output size {self.width}x{self.height}: give both > 0, or both 0 to keep "
                "the input size")


def to_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    """Any supported input encoding → HxWx3 RGB uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise PreprocessError(f"{encoding} image must be uint8, got {image.dtype}")
    if encoding == "mono8":
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        _need(image.ndim == 2, encoding, image.shape, "HxW")
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    channels = 4 if encoding in ("rgba8", "bgra8") else 3
    _need(image.ndim == 3 and image.shape[2] == channels, encoding, image.shape,
          f"HxWx{channels}")
    if encoding == "rgb8":
        return image
    code = {"bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB,
            "bgra8": cv2.COLOR_BGRA2RGB}.get(encoding)
    if code is None:
        raise PreprocessError(
            f"input encoding '{encoding}' unsupported; use one of {INPUT_ENCODINGS}")
    return cv2.cvtColor(image, code)


def _need(ok: bool, encoding: str, shape: tuple, layout: str) -> None:
    if not ok:
        raise PreprocessError(f"{encoding} image must be {layout}, got shape {shape}")


def from_rgb(image: np.ndarray, encoding: str) -> np.ndarray:
    """HxWx3 RGB → the output encoding (rgb8 as is, bgr8 swapped, mono8 luminance)."""
    if encoding == "rgb8":
        return image
    if encoding == "bgr8":
        return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if encoding == "mono8":
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    raise PreprocessError(f"output encoding '{encoding}' unsupported; use {OUTPUT_ENCODINGS}")


def crop_box(shape: tuple[int, ...], crop: Crop, out_w: int, out_h: int
             ) -> tuple[int, int, int, int]:
    """The (x, y, w, h) a crop takes from an image of `shape`; a box must fit inside it."""
    height, width = shape[:2]
    if crop.mode == "none":
        return 0, 0, width, height
    if crop.mode == "center":
        if not out_w:
            side = min(width, height)
            return (width - side) // 2, (height - side) // 2, side, side
        # largest window of the output's aspect ratio that fits
        w = min(width, round(height * out_w / out_h))
        h = min(height, round(w * out_h / out_w))
        return (width - w) // 2, (height - h) // 2, w, h
    x, y, w, h = crop.box
    if x + w > width or y + h > height:
        raise PreprocessError(
            f"crop box x={x} y={y} w={w} h={h} does not fit a {width}x{height} image")
    return x, y, w, h


def preprocess(image: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """HxWx3 RGB uint8 → cropped, resized image in `config.encoding`."""
    x, y, w, h = crop_box(image.shape, config.crop, config.width, config.height)
    out = image[y:y + h, x:x + w]
    if config.width and (w, h) != (config.width, config.height):
        interpolation = config.interpolation if (config.width < w) else cv2.INTER_LINEAR
        out = cv2.resize(out, (config.width, config.height), interpolation=interpolation)
    return np.ascontiguousarray(from_rgb(out, config.encoding))
