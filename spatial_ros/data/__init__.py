"""data layer (plain Python, no rclpy)."""
