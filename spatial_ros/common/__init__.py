"""Small utilities shared by every layer (no rclpy, no heavy imports)."""
