"""vla_ros.sim"""
