"""geometry layer (plain Python, no rclpy)."""
