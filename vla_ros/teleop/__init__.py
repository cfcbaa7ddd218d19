"""vla_ros.teleop"""
