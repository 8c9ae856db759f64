"""Perception on a recorded bag, for debugging: `ros2 bag play --clock` feeds the camera topics.

    ros2 launch spatial_ros replay.launch.py bag:=/path/to/bag rate:=0.5
"""

from launch import LaunchDescription
from launch.actions import ExecuteProcess, OpaqueFunction

from spatial_ros.bringup.graph import BringupOptions, replay_graph
from spatial_ros.bringup.launch_support import declare, resolve, to_launch_nodes, truthy

ARGS = {
    "bag": ("", "rosbag2 directory (MCAP or sqlite3)"),
    "rate": ("1.0", "playback rate"),
    "loop": ("false", "loop the bag"),
    "model": ("", "checkpoint directory ('' = the shipped tiny model)"),
    "referrer": ("model", "model | geometric (weights-free baseline)"),
    "device": ("auto", "auto | cpu | cuda"),
}


def _actions(context):
    a = resolve(context, ARGS)
    if not a["bag"]:
        raise RuntimeError("replay.launch.py needs bag:=<path to a rosbag2 directory>")
    play = ["ros2", "bag", "play", a["bag"], "--clock", "--rate", a["rate"]]
    if truthy(a["loop"]):
        play.append("--loop")
    opts = BringupOptions(model=a["model"], referrer=a["referrer"], device=a["device"],
                          use_sim_time=True)
    return [*to_launch_nodes(replay_graph(opts)), ExecuteProcess(cmd=play, output="screen")]


def generate_launch_description():
    return LaunchDescription([*declare(ARGS), OpaqueFunction(function=_actions)])
