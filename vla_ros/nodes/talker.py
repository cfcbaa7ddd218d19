"""talker: publishes a sine-wave JointState at `rate_hz` — the smallest real vla_ros node.

Used to check a runtime install (`vla-ros run talker`), in launch tests and in the bus bench.
"""

from __future__ import annotations

import math

from vla_ros.runtime import Node, msgs
from vla_ros.runtime.convert import joint_state_msg
from vla_ros.runtime.entry import node_main
from vla_ros.runtime.parameters import ParameterDescriptor


class Talker(Node):
    DEFAULT_NAME = "talker"

    def __init__(self, **kwargs) -> None:
        super().__init__(self.DEFAULT_NAME, **kwargs)
        rate = self.declare_parameter(
            "rate_hz", 10.0, ParameterDescriptor(description="publish rate", read_only=True)
        ).value
        self.joint_names = list(self.declare_parameter("joint_names", ["joint_1"]).value)
        if rate <= 0:
            raise ValueError(f"{self.get_name()}: rate_hz must be > 0, got {rate}")
        self.publisher = self.create_publisher(msgs.JointState, "joint_states", 10)
        self.count = 0
        self.create_timer(1.0 / rate, self.tick)

    def tick(self) -> None:
        t = self.get_clock().now().seconds
        q = [math.sin(t + i) for i in range(len(self.joint_names))]
        self.publisher.publish(joint_state_msg(self.joint_names, q, stamp=t))
        self.count += 1


NODE_CLASS = Talker
main = node_main(Talker)
