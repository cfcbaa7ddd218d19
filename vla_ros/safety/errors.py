"""Errors of the safety package: each names the file, rollout or field that is wrong."""

from __future__ import annotations


class SafetyError(Exception):
    """Base class of every error raised by vla_ros.safety."""


class RolloutDataError(SafetyError, ValueError):
    """A rollout dataset is malformed (shapes, NaN, schema version, missing fields)."""


class DetectorInputError(SafetyError, ValueError):
    """A feature/action given to a detector has the wrong shape or holds NaN/inf."""


class DetectorCheckpointError(SafetyError, ValueError):
    """A detector checkpoint is missing, malformed, or made for another policy."""


class CalibrationError(SafetyError, ValueError):
    """Too few or unusable calibration rollouts for the requested conformal level."""
