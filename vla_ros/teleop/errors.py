"""Teleop errors: each names the device, key, joint or setting that is wrong."""

from __future__ import annotations


class TeleopError(ValueError):
    """Base class of every teleop problem."""


class TeleopDeviceError(TeleopError, RuntimeError):
    """An input device is missing: library not installed, nothing plugged in, no terminal."""


class TeleopConfigError(TeleopError):
    """A mapping setting that cannot work (lengths differ, unknown joint, bad limits)."""
