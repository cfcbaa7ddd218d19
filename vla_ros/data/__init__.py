"""vla_ros.data"""
