"""execution layer (plain Python, no rclpy)."""
