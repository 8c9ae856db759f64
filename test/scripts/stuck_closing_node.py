"""A node run by ``run_node`` whose ``close`` never returns (a stop that hangs)."""

import threading

from rclpy.node import Node

from spatial_ros.nodes.runtime import run_node


class StuckClosingNode(Node):
    def __init__(self) -> None:
        super().__init__("stuck_closing")
        print("ready", flush=True)

    def close(self) -> None:
        print("closing", flush=True)
        threading.Event().wait()  # forever


if __name__ == "__main__":
    raise SystemExit(run_node(StuckClosingNode, shutdown_grace_s=2.0))
