"""sensors layer (plain Python, no rclpy): RealSense devices through pyrealsense2, the
software_device camera used without hardware, synthetic RGB-D scenes and device-clock mapping.
The camera node (``spatial_ros.nodes.camera_node``) only wraps these."""
