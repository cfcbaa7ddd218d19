"""listener: subscribes to JointState and logs what it hears (runtime check and tests)."""

from __future__ import annotations

from vla_ros.runtime import Node, msgs
from vla_ros.runtime.entry import node_main


class Listener(Node):
    DEFAULT_NAME = "listener"

    def __init__(self, **kwargs) -> None:
        super().__init__(self.DEFAULT_NAME, **kwargs)
        self.verbose = self.declare_parameter("verbose", False).value
        self.received: list = []
        self.create_subscription(msgs.JointState, "joint_states", self.on_state, 10)

    def on_state(self, msg) -> None:
        self.received.append(msg)
        if self.verbose:
            self.get_logger().info(f"heard {list(msg.name)} = {list(msg.position)}")


NODE_CLASS = Listener
main = node_main(Listener)
