"""Robot descriptions for ROS 2 bring-up: xacro expansion and static cross-checks.

Everything a ROS machine would only discover at launch time - a controller naming a joint
the URDF lacks, a mesh that does not resolve, a bridge that misses a camera topic, a
launch file naming an unknown executable - is found here without ROS, for the tests and
for `vla-ros doctor`. Each check returns a list of problems (empty = fine), every problem
naming the file and the item.
"""

from vla_ros.description.bridge import check_bridge
from vla_ros.description.controllers import check_controllers, check_ros2_control
from vla_ros.description.launch_refs import (
    check_launch_file,
    launch_dependencies,
    walk_launch_file,
)
from vla_ros.description.meshes import check_meshes
from vla_ros.description.package_xml import check_package_xml
from vla_ros.description.urdf_info import UrdfInfo, parse_urdf
from vla_ros.description.xacro_expand import XacroError, expand_xacro

__all__ = [
    "UrdfInfo",
    "XacroError",
    "check_bridge",
    "check_controllers",
    "check_launch_file",
    "check_meshes",
    "check_package_xml",
    "check_ros2_control",
    "expand_xacro",
    "launch_dependencies",
    "parse_urdf",
    "walk_launch_file",
]
