"""`/diagnostics` publishing: why a node rejected input or stopped, for people and tools.

Every rejection in vla_ros (bad chunk, stale image, alarm) is reported here as a
diagnostic_msgs/DiagnosticStatus with counters, so rqt_robot_monitor on a robot and
`vla-ros topics echo /diagnostics` here show the same thing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from vla_ros.runtime import msgs

OK, WARN, ERROR, STALE = 0, 1, 2, 3


class Diagnostics:
    """Per-node diagnostics: `report()` publishes at once; counters ride along as values."""

    def __init__(self, node: Any, hardware_id: str = "") -> None:
        self._node = node
        self._hardware_id = hardware_id
        self._pub = node.create_publisher(msgs.DiagnosticArray, "/diagnostics", 10)
        self.counters: Counter[str] = Counter()
        self.last: dict[str, tuple[int, str]] = {}

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def report(self, component: str, level: int, message: str, **values: Any) -> None:
        name = f"{self._node.get_name()}: {component}"
        self.last[component] = (level, message)
        pairs = {**{k: v for k, v in self.counters.items()}, **values}
        status = msgs.DiagnosticStatus(
            level=level,
            name=name,
            message=message,
            hardware_id=self._hardware_id,
            values=[msgs.KeyValue(key=str(k), value=str(v)) for k, v in sorted(pairs.items())],
        )
        self._pub.publish(msgs.DiagnosticArray(
            header=msgs.Header(stamp=self._node.get_clock().now().to_msg()), status=[status]
        ))

    def reject(self, component: str, reason: str, **values: Any) -> None:
        """Count a rejected input, log it (throttled) and publish a WARN."""
        self.count(f"rejected_{component}")
        self._node.get_logger().warning(f"{component}: {reason}", throttle_duration_sec=1.0)
        self.report(component, WARN, reason, **values)
