"""A node run by ``run_node`` whose ``close`` never returns (a stop that hangs), or, with
``--stuck-in-init``, whose constructor never returns (it waits for a child that never
answers, as the perception node waits for its inference process)."""

import sys
import threading

from rclpy.node import Node

from spatial_ros.nodes.runtime import run_node


class StuckClosingNode(Node):
    def __init__(self) -> None:
        super().__init__("stuck_closing")
        print("ready", flush=True)
        if "--stuck-in-init" in sys.argv:
            threading.Event().wait()  # forever, in the main thread, before any spin

    def close(self) -> None:
        print("closing", flush=True)
        threading.Event().wait()  # forever


if __name__ == "__main__":
    raise SystemExit(run_node(StuckClosingNode, argv=[sys.argv[0]], shutdown_grace_s=2.0))
