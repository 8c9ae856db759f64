"""model layer (plain Python, no rclpy)."""
