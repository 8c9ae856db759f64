"""geometry layer (plain Python, no rclpy): intrinsics, back-projection, the depth query API,
depth encodings, rotations and SE(3) transforms shared by sim, data, model and perception."""
