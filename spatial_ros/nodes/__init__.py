"""rclpy nodes: the only layer that imports rclpy or knows ROS messages."""
