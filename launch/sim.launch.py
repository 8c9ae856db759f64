"""Simulation bring-up: the MuJoCo sim node stands in for camera and robot.

    ros2 launch spatial_ros sim.launch.py robot:=franka rviz:=true
"""

from launch import LaunchDescription
from launch.actions import OpaqueFunction

from spatial_ros.bringup.graph import BringupOptions, bringup_graph
from spatial_ros.bringup.launch_support import declare, resolve, to_launch_nodes, truthy

ARGS = {
    "robot": ("ur5", "ur5 | franka | g1"),
    "model": ("", "checkpoint directory ('' = the shipped tiny model)"),
    "referrer": ("model", "model | geometric (weights-free baseline)"),
    "device": ("auto", "auto | cpu | cuda"),
    "seed": ("0", "scene seed"),
    "rviz": ("false", "start RViz with config/spatial_ros.rviz"),
}


def _nodes(context):
    a = resolve(context, ARGS)
    opts = BringupOptions(robot=a["robot"], sim=True, backend="sim", model=a["model"],
                          referrer=a["referrer"],
                          device=a["device"], use_sim_time=True, seed=int(a["seed"]),
                          rviz=truthy(a["rviz"]))
    return to_launch_nodes(bringup_graph(opts))


def generate_launch_description():
    return LaunchDescription([*declare(ARGS), OpaqueFunction(function=_nodes)])
