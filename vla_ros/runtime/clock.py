"""Time: an rclpy-shaped Time/Clock pair, with a sim clock tests can step.

All internal times are integer nanoseconds, as in rcl, so sim time is exact and a run is
reproducible bit for bit.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass

from vla_ros.runtime import msgs

NS = 1_000_000_000


@dataclass(frozen=True, order=True)
class Time:
    nanoseconds: int = 0

    @classmethod
    def from_seconds(cls, seconds: float) -> Time:
        return cls(int(round(seconds * NS)))

    @classmethod
    def from_msg(cls, msg) -> Time:
        return cls(int(msg.sec) * NS + int(msg.nanosec))

    @property
    def seconds(self) -> float:
        return self.nanoseconds / NS

    def to_msg(self):
        return seconds_to_time_msg(self.nanoseconds / NS, nanoseconds=self.nanoseconds)

    def __sub__(self, other: Time) -> float:
        """Difference in seconds (rclpy returns a Duration; seconds is what we use)."""
        return (self.nanoseconds - other.nanoseconds) / NS


def seconds_to_time_msg(seconds: float, nanoseconds: int | None = None):
    """builtin_interfaces/Time from seconds; negative times are not representable in ROS."""
    ns = int(round(seconds * NS)) if nanoseconds is None else nanoseconds
    if ns < 0:
        raise ValueError(f"ROS time cannot be negative: {seconds} s")
    return msgs.Time(sec=ns // NS, nanosec=ns % NS)


def time_msg_to_seconds(msg) -> float:
    return int(msg.sec) + int(msg.nanosec) / NS


def seconds_to_duration_msg(seconds: float):
    ns = int(round(seconds * NS))
    return msgs.Duration(sec=ns // NS, nanosec=ns % NS)


def duration_msg_to_seconds(msg) -> float:
    return int(msg.sec) + int(msg.nanosec) / NS


class Clock:
    """Wall clock (ROS time without sim): nanoseconds since the epoch."""

    is_sim = False

    def now(self) -> Time:
        return Time(_time.time_ns())

    def now_ns(self) -> int:
        return _time.time_ns()


class SimClock(Clock):
    """Time that moves only when the executor (or a test) advances it."""

    is_sim = True

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now(self) -> Time:
        return Time(self._now)

    def now_ns(self) -> int:
        return self._now

    def set_ns(self, ns: int) -> None:
        if ns < self._now:
            raise ValueError(f"sim time cannot go backwards ({ns} < {self._now} ns)")
        self._now = ns
