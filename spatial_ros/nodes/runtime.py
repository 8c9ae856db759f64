"""Boilerplate every node shares: init, spin on a multi-threaded executor, clean shutdown."""

from __future__ import annotations

import faulthandler
import sys
import threading
import time
from collections.abc import Callable

import rclpy
from rclpy.executors import (
    ExternalShutdownException,
    MultiThreadedExecutor,
    SingleThreadedExecutor,
)
from rclpy.node import Node
from rclpy.qos import (
    QoSDurabilityPolicy,
    QoSHistoryPolicy,
    QoSProfile,
    QoSReliabilityPolicy,
    qos_profile_sensor_data,
)

from spatial_ros.nodes.dds_profile import use_large_shm_profile

#: seconds a node may take to stop once told to; then it is ended (exit code 1) with every
#: thread's stack on stderr. A node whose launcher was killed gets SIGTERM from the kernel
#: (``common.lifetime``) and nobody left to escalate: it must not linger on the DDS domain.
SHUTDOWN_GRACE_S = 10.0


def run_node(factory: Callable[[], Node], argv: list[str] | None = None, threads: int = 4,
             shutdown_grace_s: float = SHUTDOWN_GRACE_S) -> int:
    """Runs one node until Ctrl-C / SIGTERM; returns a process exit code.

    Every node gets the large shared-memory Fast DDS profile (see ``dds_profile``): our
    nodes publish 640x480 images, which default Fast DDS settings mostly drop between
    processes. Stopping is bounded by ``shutdown_grace_s`` (close, DDS teardown and the
    interpreter's exit together).
    """
    use_large_shm_profile()
    rclpy.init(args=argv if argv is not None else sys.argv)
    deadline = StopDeadline(shutdown_grace_s)
    deadline.watch(rclpy.get_default_context())
    node = None
    try:
        node = factory()
        executor = (SingleThreadedExecutor() if threads == 1
                    else MultiThreadedExecutor(num_threads=threads))
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        deadline.arm()
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


class StopDeadline:
    """Once a node is told to stop, the process ends within ``grace_s`` whatever it is doing.

    rclpy's SIGINT/SIGTERM handler shuts the context down, but the main thread only notices
    when it gets back to the executor: one still in the node's constructor (the perception
    node waits up to 180 s for its inference process to start) ignored a launcher's death.
    A thread watches the context; the deadline itself is faulthandler's C watchdog thread,
    which fires even if the stop hangs without the GIL and leaves every thread's stack on
    stderr (exit code 1)."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._armed = False
        self._lock = threading.Lock()

    def watch(self, context, period_s: float = 0.1) -> None:
        def wait_for_shutdown() -> None:
            while context.ok():
                time.sleep(period_s)
            self.arm()
        threading.Thread(target=wait_for_shutdown, name="stop-deadline", daemon=True).start()

    def arm(self) -> None:
        with self._lock:  # once: a second call would push the deadline back
            if not self._armed:
                self._armed = True
                faulthandler.dump_traceback_later(self.grace_s, exit=True)


def qos_from_name(name: str, depth: int | None = None) -> QoSProfile:
    """Maps a parameter string to a QoS profile: ``sensor_data`` (best effort, the
    realsense-ros default), ``reliable`` or ``latched`` (transient local). ``depth``: history
    kept; by default 5, and 1 when latched (the last message for a late subscriber)."""
    if depth is None:
        depth = 1 if name == "latched" else 5
    if name == "sensor_data":
        profile = QoSProfile(depth=depth)
        profile.reliability = qos_profile_sensor_data.reliability
        profile.durability = qos_profile_sensor_data.durability
        profile.history = QoSHistoryPolicy.KEEP_LAST
        return profile
    if name == "reliable":
        return QoSProfile(depth=depth, reliability=QoSReliabilityPolicy.RELIABLE,
                          history=QoSHistoryPolicy.KEEP_LAST)
    if name == "latched":
        return QoSProfile(depth=depth, reliability=QoSReliabilityPolicy.RELIABLE,
                          durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
                          history=QoSHistoryPolicy.KEEP_LAST)
    raise ValueError(f"unknown QoS '{name}': use sensor_data, reliable or latched")
