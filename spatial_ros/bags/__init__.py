"""rosbag2 recording and replay logic on ``rosbags`` (plain Python, no rclpy): bags written here
are the format ``ros2 bag record`` writes (metadata.yaml, CDR, offered QoS profiles) and bags
from ``ros2 bag`` replay here. The DDS side lives in ``spatial_ros.nodes.bag_recorder`` and
``spatial_ros.nodes.bag_player``."""
