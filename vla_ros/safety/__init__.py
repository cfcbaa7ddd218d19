"""vla_ros.safety"""
