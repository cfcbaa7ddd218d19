"""Exceptions of the retargeting package: every message says what is wrong and where."""

from __future__ import annotations


class RetargetError(ValueError):
    """Bad input to retargeting or IK: wrong action dimension, NaN/inf, unknown names."""


class RobotConfigError(RetargetError):
    """A robot config file (config/robots/<name>.yaml) is missing, malformed or names a
    frame/joint its URDF does not have. The message starts with the file and the item."""

    def __init__(self, path: object, item: str, problem: str) -> None:
        self.path = path
        self.item = item
        self.problem = problem
        super().__init__(f"{path}: {item}: {problem}")


class UnknownRobotError(RetargetError, KeyError):
    """No config/robots/<name>.yaml for the requested robot."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class IKError(RetargetError):
    """The IK problem is ill-posed (unknown frame, wrong vector size) or the QP failed."""
