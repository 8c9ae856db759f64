"""sim layer (plain Python, no rclpy): MuJoCo tabletop world, robots, simulated RealSense.

Offscreen rendering needs an OpenGL backend before ``mujoco`` is first imported; EGL works
headless (Mesa on CPU here, the GPU driver on a workstation), so it is the default.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
