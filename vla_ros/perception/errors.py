"""Perception errors: each names the camera, file or field that is wrong."""

from __future__ import annotations


class PerceptionError(ValueError):
    """Base class of every perception problem."""


class CameraSourceError(PerceptionError):
    """A camera source cannot be opened or read (missing device, file or folder)."""


class PreprocessError(PerceptionError):
    """A preprocessing setting or input frame that cannot be honoured (crop, size, encoding)."""


class CalibrationError(PerceptionError):
    """CameraInfo values that cannot rectify an image (wrong sizes, unknown model)."""
