"""spatial_ros: language-driven robot manipulation on ROS 2.

Layers (imports point downward only; nothing outside ``nodes`` imports rclpy):
``nodes``/``cli`` → ``perception`` → ``execution`` → ``model`` → ``data`` → ``sim``
→ ``geometry``.
"""

import os

# We only ever render offscreen (simulated cameras, overlays, GIFs). MuJoCo reads MUJOCO_GL
# when it is first imported, so set the default before any submodule can import it.
os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"
