"""An rclpy-shaped runtime with two backends: `local` (in-process, sim clock) and `ros`.

Node code imports only from here: `Node`, `msgs`, QoS profiles, conversions, `Diagnostics`.
"""

from vla_ros.runtime import msgs
from vla_ros.runtime.clock import Time
from vla_ros.runtime.diagnostics import Diagnostics
from vla_ros.runtime.node import Node, default_context, init, shutdown
from vla_ros.runtime.qos import (
    DEFAULT,
    LATCHED,
    SENSOR_DATA,
    Durability,
    History,
    QoSProfile,
    Reliability,
)

__all__ = [
    "DEFAULT",
    "LATCHED",
    "SENSOR_DATA",
    "Diagnostics",
    "Durability",
    "History",
    "Node",
    "QoSProfile",
    "Reliability",
    "Time",
    "default_context",
    "init",
    "msgs",
    "shutdown",
]
