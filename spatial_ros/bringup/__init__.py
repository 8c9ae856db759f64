"""The node graph, described once in plain Python and used by both the ROS launch files
(`launch/*.launch.py`) and `spatial-ros up` (machines without the launch package)."""
