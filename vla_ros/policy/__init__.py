"""vla_ros.policy"""
