"""Turns ``NodeSpec`` lists into launch_ros actions (imported only by launch files)."""

from __future__ import annotations

from spatial_ros.bringup.graph import NodeSpec


def truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def to_launch_nodes(specs: list[NodeSpec]) -> list:
    from launch_ros.actions import Node  # only present on ROS installs with launch

    return [
        Node(package=spec.package, executable=spec.executable, name=spec.name,
             namespace=spec.namespace or None,
             parameters=[str(p) for p in spec.param_files] + [spec.parameters],
             remappings=spec.remappings, arguments=spec.arguments, output="screen")
        for spec in specs
    ]


def declare(args: dict[str, tuple[str, str]]) -> list:
    from launch.actions import DeclareLaunchArgument

    return [DeclareLaunchArgument(name, default_value=default, description=text)
            for name, (default, text) in args.items()]


def resolve(context, args: dict[str, tuple[str, str]]) -> dict[str, str]:
    from launch.substitutions import LaunchConfiguration

    return {name: LaunchConfiguration(name).perform(context) for name in args}
