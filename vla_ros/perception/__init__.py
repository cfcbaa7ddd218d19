"""Camera sources and image preprocessing (core: numpy/OpenCV, no ROS imports)."""
