"""Small rclpy helpers shared by the bag recorder and player: message classes from type
names, QoS conversions to the ROS-free ``QosSpec``, and spinning until a job is done."""

from __future__ import annotations

import importlib
import threading

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from spatial_ros.bags.qos import QosSpec


def message_class(msgtype: str):
    """``sensor_msgs/msg/Image`` -> the generated Python class."""
    pkg, _, name = msgtype.partition("/msg/")
    if not pkg or not name:
        raise ValueError(f"bad message type '{msgtype}': expected pkg/msg/Name")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"message type {msgtype} is not installed here ({exc})") from exc


def spec_from_profile(profile: QoSProfile) -> QosSpec:
    return QosSpec(
        reliability="best_effort" if profile.reliability == ReliabilityPolicy.BEST_EFFORT
        else "reliable",
        durability="transient_local" if profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
        else "volatile",
        depth=max(int(profile.depth or 10), 1),
    )


def profile_from_spec(spec: QosSpec, depth: int | None = None) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth or spec.depth,
        reliability=ReliabilityPolicy.BEST_EFFORT if spec.reliability == "best_effort"
        else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if spec.durability == "transient_local"
        else DurabilityPolicy.VOLATILE,
    )


def spin_until(node: Node, done: threading.Event, timeout_s: float | None = None) -> bool:
    """Spins ``node`` until ``done`` is set, Ctrl-C, shutdown, or ``timeout_s``; True when the
    job finished by itself."""
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    clock = threading.Event()
    timer = threading.Timer(timeout_s, clock.set) if timeout_s else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        while rclpy.ok() and not done.is_set() and not clock.is_set():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if timer:
            timer.cancel()
        executor.remove_node(node)
    return done.is_set()
