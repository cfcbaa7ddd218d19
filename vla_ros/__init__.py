"""vla_ros: vision-language-action policies on ROS 2 robots, with or without ROS."""

__version__ = "0.1.0"
