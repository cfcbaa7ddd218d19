"""ROS 2 nodes: thin wiring of the cores onto topics, parameters and timers.

Each module defines one `Node` subclass and `main()`; the same file runs under `ros2 run`
(rclpy backend) and `vla-ros run` (local backend).
"""
