"""Launch files and `spatial-ros up` share one graph; check everything it names exists.

The ROS `launch` package is not installable here, so instead of launch_testing this loads
each launch file's structure: every executable is a console entry point of ours (or a known
ROS package), every parameter file and URDF exists, and every parameter we pass or put in a
YAML file is declared by the node that receives it (rclpy silently ignores undeclared ones).
"""

from __future__ import annotations

import ast
import importlib
import itertools
import re
from pathlib import Path

import pytest
import yaml
from rclpy.parameter import Parameter

from spatial_ros.bringup.graph import (
    BACKENDS,
    CAMERAS,
    MODULES,
    ROBOTS,
    BringupOptions,
    bringup_graph,
    replay_graph,
)

REPO = Path(__file__).resolve().parents[1]
EXTERNAL = {("robot_state_publisher", "robot_state_publisher"),
            ("realsense2_camera", "realsense2_camera_node"), ("rviz2", "rviz2")}
# parameters every rclpy node has without declaring them
BUILTIN_PARAMS = {"use_sim_time", "start_type_description_service", "qos_overrides"}


def _entry_points() -> dict[str, str]:
    text = (REPO / "setup.py").read_text()
    return dict(re.findall(r'"([\w-]+) = ([\w.]+):main"', text))


def _yaml_parameters(path: Path) -> set[str]:
    data = yaml.safe_load(path.read_text()) or {}
    keys: set[str] = set()
    for section in data.values():
        params = (section or {}).get("ros__parameters", {})
        stack = [("", params)]
        while stack:
            prefix, mapping = stack.pop()
            for key, value in mapping.items():
                full = f"{prefix}{key}"
                if isinstance(value, dict):
                    stack.append((full + ".", value))
                else:
                    keys.add(full)
    return keys


def _all_graphs():
    for robot, backend, camera, sim in itertools.product(ROBOTS, BACKENDS, CAMERAS,
                                                         (False, True)):
        opts = BringupOptions(robot=robot, backend=backend, camera=camera, sim=sim, rviz=True)
        yield f"{robot}-{backend}-{camera}-{'sim' if sim else 'real'}", bringup_graph(opts)
    yield "replay", replay_graph(BringupOptions())


GRAPHS = dict(_all_graphs())


def test_launch_files_use_the_shared_graph():
    files = sorted((REPO / "launch").glob("*.launch.py"))
    assert {f.name for f in files} >= {"bringup.launch.py", "sim.launch.py", "replay.launch.py"}
    for path in files:
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "spatial_ros.bringup.graph" in imported, path.name
        funcs = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert "generate_launch_description" in funcs, path.name


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_graph_names_only_things_that_exist(name):
    entry_points = _entry_points()
    for spec in GRAPHS[name]:
        if spec.package == "spatial_ros":
            assert spec.executable in entry_points, f"{spec.executable} not in setup.py"
            assert entry_points[spec.executable] == MODULES[spec.executable]
            assert (REPO / (spec.module.replace(".", "/") + ".py")).is_file(), spec.module
        else:
            assert (spec.package, spec.executable) in EXTERNAL, spec
        for path in spec.param_files:
            assert path.is_file(), f"{spec.name}: missing parameter file {path}"


NODE_CLASSES = {
    "spatial_ros.nodes.camera_node": "CameraNode",
    "spatial_ros.nodes.sim_node": "SimNode",
    "spatial_ros.nodes.perception_node": "PerceptionNode",
    "spatial_ros.nodes.executor_node": "ExecutorNode",
}


def _passed_parameters() -> dict[str, set[str]]:
    """Every parameter name any graph hands to each of our node modules."""
    passed: dict[str, set[str]] = {}
    for specs in GRAPHS.values():
        for spec in specs:
            if spec.module is None:
                continue
            names = passed.setdefault(spec.module, set())
            names |= set(spec.parameters)
            for path in spec.param_files:
                names |= _yaml_parameters(path)
    return passed


@pytest.mark.ros
@pytest.mark.parametrize("module", sorted(NODE_CLASSES))
def test_every_parameter_is_declared_by_its_node(ros, module):
    """Builds the real node (sim graph's values) and asks rclpy what it declared."""
    names = _passed_parameters()[module]
    spec = next(s for s in bringup_graph(BringupOptions(robot="ur5", sim=True))
                + bringup_graph(BringupOptions(robot="ur5", backend="sim"))
                if s.module == module)
    values: dict = {}
    for path in spec.param_files:
        for section in (yaml.safe_load(path.read_text()) or {}).values():
            values.update(_flatten((section or {}).get("ros__parameters", {})))
    values.update(spec.parameters)
    overrides = [Parameter(k, value=v) for k, v in values.items() if v != [] and v is not None]
    cls = getattr(importlib.import_module(module), NODE_CLASSES[module])
    node = ros.add(cls(context=ros.context, parameter_overrides=overrides))
    undeclared = sorted(n for n in names - BUILTIN_PARAMS if not node.has_parameter(n))
    assert not undeclared, f"{module} does not declare {undeclared}"


def _flatten(mapping: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize("robot", ROBOTS)
def test_urdf_for_every_robot(robot):
    path = REPO / "urdf" / f"{robot}.urdf"
    assert path.is_file()
    assert "<robot" in path.read_text()
    rsp = next(s for s in bringup_graph(BringupOptions(robot=robot, sim=True))
               if s.executable == "robot_state_publisher")
    assert rsp.parameters["robot_description"] == path.read_text()


def test_bad_options_are_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="robot 'ur10' unknown"):
        BringupOptions(robot="ur10")
    with pytest.raises(ValueError, match="backend"):
        BringupOptions(backend="ros1")


def test_default_backend_follows_the_robot():
    assert BringupOptions(robot="g1").backend == "unitree"
    assert BringupOptions(robot="franka").backend == "moveit"
    assert BringupOptions(robot="franka", sim=True).backend == "sim"
