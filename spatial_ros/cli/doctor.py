"""``spatial-ros doctor``: what this machine can run, the first thing to try on a new robot PC."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = False


def _version(module_name: str) -> str:
    module = importlib.import_module(module_name)
    return str(getattr(module, "__version__", "installed"))


def _try(name: str, fn: Callable[[], str], required: bool = False) -> Check:
    try:
        return Check(name, True, fn(), required)
    except Exception as exc:  # a doctor reports, it never crashes
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return Check(name, False, msg[:110], required)


def _rclpy() -> str:
    import rclpy
    from rclpy.utilities import get_rmw_implementation_identifier

    distro = os.environ.get("ROS_DISTRO", "PyPI wheels (no sourced ROS)")
    rclpy.init(args=[])
    try:
        rmw = get_rmw_implementation_identifier()
    finally:
        rclpy.shutdown()
    return f"{distro}, RMW {rmw}, ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID', '0')}"


def _messages() -> str:
    names = ["std_msgs", "sensor_msgs", "geometry_msgs", "visualization_msgs", "trajectory_msgs"]
    for n in names:
        importlib.import_module(f"{n}.msg")
    return ", ".join(names)


def _torch() -> str:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return f"{torch.__version__}, device {device}, {torch.get_num_threads()} CPU threads"


def _cuda() -> str:
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device (perception runs on CPU)")
    return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def _mamba_kernels() -> str:
    return _version("mamba_ssm") + " (CUDA selective-scan kernels)"


def _realsense() -> str:
    import pyrealsense2 as rs

    devices = rs.context().query_devices()
    names = [f"{d.get_info(rs.camera_info.name)} #{d.get_info(rs.camera_info.serial_number)}"
             for d in devices]
    found = ", ".join(names) if names else "no camera connected"
    return f"{getattr(rs, '__version__', 'installed')}; {found}"


def _mujoco() -> str:
    os.environ.setdefault("MUJOCO_GL", "egl")
    import mujoco

    model = mujoco.MjModel.from_xml_string(
        "<mujoco><worldbody><geom size='.1'/></worldbody></mujoco>"
    )
    with mujoco.Renderer(model, 32, 32) as renderer:
        renderer.update_scene(mujoco.MjData(model))
        renderer.render()
    return f"{mujoco.__version__}, offscreen GL {os.environ['MUJOCO_GL']} renders"


def _moveit() -> str:
    importlib.import_module("moveit.planning")
    return "moveit_py importable"


def _unitree() -> str:
    importlib.import_module("unitree_sdk2py")
    return "unitree_sdk2py importable"


def _tf2() -> str:
    importlib.import_module("tf2_ros")
    return "tf2_ros importable"


def run_checks() -> list[Check]:
    return [
        Check("python", True, f"{platform.python_version()} ({sys.executable})", True),
        _try("rclpy + RMW", _rclpy, required=True),
        _try("ROS messages", _messages, required=True),
        _try("torch", _torch, required=True),
        _try("CUDA", _cuda),
        _try("mamba-ssm kernels", _mamba_kernels),
        _try("transformers", lambda: _version("transformers"), required=True),
        _try("safetensors", lambda: _version("safetensors"), required=True),
        _try("pyrealsense2", _realsense, required=True),
        _try("open3d", lambda: _version("open3d"), required=True),
        _try("MuJoCo", _mujoco, required=True),
        _try("mink (IK)", lambda: _version("mink")),
        _try("rosbags", lambda: _version("rosbags"), required=True),
        _try("tf2_ros", _tf2),
        _try("moveit_py", _moveit),
        _try("unitree_sdk2py", _unitree),
        Check("ros2 CLI", shutil.which("ros2") is not None,
              shutil.which("ros2") or "not on PATH (use `spatial-ros up` instead of ros2 launch)"),
    ]


def format_table(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'component':<{width}}  status    detail", "-" * (width + 60)]
    for c in checks:
        status = "ok" if c.ok else ("MISSING" if c.required else "absent")
        lines.append(f"{c.name:<{width}}  {status:<8}  {c.detail}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    checks = run_checks()
    print(format_table(checks))
    missing = [c.name for c in checks if c.required and not c.ok]
    if missing:
        print(f"\nrequired components missing: {', '.join(missing)}")
        return 1
    optional = [c.name for c in checks if not c.ok]
    print("\nall required components present" +
          (f"; optional absent: {', '.join(optional)}" if optional else ""))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="report what this machine can run (ROS, GPU, camera, sim)")
    p.set_defaults(func=run)
