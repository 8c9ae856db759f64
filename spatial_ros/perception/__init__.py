"""perception layer (plain Python, no rclpy)."""
