"""Quality of service: the rclpy subset vla_ros uses, with ROS 2 compatibility rules.

The local backend honours depth/keep_last (oldest message dropped when a subscription's
queue is full), reliability and durability (transient_local publishers keep their last
`depth` messages for late-joining transient_local subscribers, i.e. latching).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Reliability(Enum):
    RELIABLE = "reliable"
    BEST_EFFORT = "best_effort"


class Durability(Enum):
    VOLATILE = "volatile"
    TRANSIENT_LOCAL = "transient_local"


class History(Enum):
    KEEP_LAST = "keep_last"
    KEEP_ALL = "keep_all"


@dataclass(frozen=True)
class QoSProfile:
    depth: int = 10
    reliability: Reliability = Reliability.RELIABLE
    durability: Durability = Durability.VOLATILE
    history: History = History.KEEP_LAST

    def __post_init__(self) -> None:
        if self.history is History.KEEP_LAST and self.depth < 1:
            raise ValueError(f"QoS keep_last needs depth >= 1, got {self.depth}")


def as_qos(qos: QoSProfile | int) -> QoSProfile:
    """rclpy accepts a bare int as shorthand for keep_last(depth)."""
    if isinstance(qos, QoSProfile):
        return qos
    if isinstance(qos, int) and not isinstance(qos, bool):
        return QoSProfile(depth=qos)
    raise TypeError(f"QoS must be a QoSProfile or an int depth, got {qos!r}")


def compatible(publisher: QoSProfile, subscription: QoSProfile) -> tuple[bool, str]:
    """ROS 2 request/offer rules: an offer weaker than the request does not connect."""
    if (
        publisher.reliability is Reliability.BEST_EFFORT
        and subscription.reliability is Reliability.RELIABLE
    ):
        return False, "publisher offers best_effort but subscription requests reliable"
    if (
        publisher.durability is Durability.VOLATILE
        and subscription.durability is Durability.TRANSIENT_LOCAL
    ):
        return False, "publisher offers volatile but subscription requests transient_local"
    return True, ""


SENSOR_DATA = QoSProfile(depth=5, reliability=Reliability.BEST_EFFORT)
"""Camera frames and joint states: newest wins, a late frame is worthless."""

LATCHED = QoSProfile(depth=1, durability=Durability.TRANSIENT_LOCAL)
"""Halt flags and configuration: a late subscriber must still see the last value."""

DEFAULT = QoSProfile(depth=10)
