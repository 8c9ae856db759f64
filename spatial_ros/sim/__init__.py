"""sim layer (plain Python, no rclpy)."""
