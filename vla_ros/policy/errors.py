"""Exceptions of the policy layer: each message says what is wrong and where."""

from __future__ import annotations


class PolicyError(RuntimeError):
    """Base class of every policy problem (input, checkpoint, configuration)."""


class PolicyInputError(PolicyError, ValueError):
    """An observation the policy cannot use: missing camera, wrong image shape, NaN state."""


class CheckpointError(PolicyError, ValueError):
    """A checkpoint folder that cannot be loaded safely and exactly as saved."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class PolicyConfigError(PolicyError, ValueError):
    """A policy or training configuration with an unknown, missing or invalid field."""
