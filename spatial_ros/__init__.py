"""spatial_ros: language-driven robot manipulation on ROS 2.

Layers (imports point downward only; nothing outside ``nodes`` imports rclpy):
``nodes``/``cli`` → ``perception`` → ``execution`` → ``model`` → ``data`` → ``sim``
→ ``geometry``.
"""

__version__ = "0.1.0"
