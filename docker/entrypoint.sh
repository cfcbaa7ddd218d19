#!/bin/bash
# Source ROS and the workspace, and make the PyPI example-robot-data visible to the ament
# index so `$(find example-robot-data)` (xacro) and package:// mesh URIs resolve.
set -e
source "/opt/ros/${ROS_DISTRO}/setup.bash"
source /ws/install/setup.bash
for prefix in /usr/local/lib/python3*/dist-packages/cmeel.prefix; do
  if [ -d "${prefix}/share/example-robot-data" ]; then
    export AMENT_PREFIX_PATH="${AMENT_PREFIX_PATH}:${prefix}"
  fi
done
exec "$@"
