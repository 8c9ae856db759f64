"""Backends behind one interface (``base.Backend``): inprocess (MuJoCo directly), sim (the
sim node's topics), trajectory (ros2_control), moveit (moveit_py), unitree (rt/arm_sdk)."""
