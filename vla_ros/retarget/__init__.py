"""vla_ros.retarget"""
