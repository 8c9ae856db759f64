"""Robot bring-up: camera (or realsense2_camera), perception, executor, robot_state_publisher.

    ros2 launch spatial_ros bringup.launch.py robot:=ur5 backend:=moveit camera:=realsense2
"""

from launch import LaunchDescription
from launch.actions import OpaqueFunction

from spatial_ros.bringup.graph import BringupOptions, bringup_graph
from spatial_ros.bringup.launch_support import declare, resolve, to_launch_nodes, truthy

ARGS = {
    "robot": ("ur5", "ur5 | franka | g1"),
    "backend": ("", "sim | moveit | trajectory | unitree ('' = moveit for arms, unitree for g1)"),
    "camera": ("spatial_ros", "spatial_ros (our pyrealsense2 node) | realsense2 | none"),
    "model": ("", "checkpoint directory ('' = the shipped tiny model)"),
    "referrer": ("model", "model | geometric (weights-free baseline)"),
    "device": ("auto", "auto | cpu | cuda"),
    "use_sim_time": ("false", "use /clock (bags, simulation)"),
    "rviz": ("false", "start RViz with config/spatial_ros.rviz"),
}


def _nodes(context):
    a = resolve(context, ARGS)
    opts = BringupOptions(robot=a["robot"], backend=a["backend"], camera=a["camera"],
                          model=a["model"], referrer=a["referrer"], device=a["device"],
                          use_sim_time=truthy(a["use_sim_time"]), rviz=truthy(a["rviz"]))
    return to_launch_nodes(bringup_graph(opts))


def generate_launch_description():
    return LaunchDescription([*declare(ARGS), OpaqueFunction(function=_nodes)])
