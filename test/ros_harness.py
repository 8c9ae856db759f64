"""Helpers for tests that use real rclpy and DDS.

- ``RosTestContext``: its own rclpy Context and a MultiThreadedExecutor spinning in a thread,
  so nodes under test run in-process exactly as they would under ``run_node``.
- ``NodeProcess``: starts a node (or any script) as a separate OS process and stops it with
  SIGINT like ``ros2 launch`` does, keeping its output for assertions and failure messages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

REPO = Path(__file__).resolve().parents[1]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, period: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return predicate()


class RosTestContext:
    def __init__(self, threads: int = 4) -> None:
        self.context = Context()
        self._threads = threads
        self._nodes: list[Node] = []
        self._thread: threading.Thread | None = None
        self.executor: MultiThreadedExecutor | None = None

    def __enter__(self) -> RosTestContext:
        rclpy.init(args=[], context=self.context)
        self.executor = MultiThreadedExecutor(num_threads=self._threads, context=self.context)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()
        return self

    def _spin(self) -> None:
        with contextlib.suppress(Exception):  # executor shut down under us at teardown
            self.executor.spin()

    def node(self, name: str, **kwargs) -> Node:
        """A plain helper node (publishers/subscribers for the test itself)."""
        return self.add(Node(name, context=self.context, **kwargs))

    def add(self, node: Node) -> Node:
        self._nodes.append(node)
        self.executor.add_node(node)
        return node

    def __exit__(self, *exc) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        for node in self._nodes:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)
        if self._thread is not None:
            self._thread.join(timeout=2.0)


class NodeProcess:
    """A child process running ``python -m MODULE ARGS`` (or a script path)."""

    def __init__(self, target: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.target = target
        self.args = list(args)
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        fd, name = tempfile.mkstemp(prefix="node-", suffix=".log")
        self._log = os.fdopen(fd, "w")
        self._log_path = Path(name)
        self.proc: subprocess.Popen | None = None
        self._final_output: str | None = None

    def __enter__(self) -> NodeProcess:
        cmd = [sys.executable]
        cmd += [self.target] if self.target.endswith(".py") else ["-m", self.target]
        # its own process group: whatever it starts (``spatial-ros up`` starts nodes) is
        # ended with it, even when it has to be killed (orphaned nodes on the same DDS
        # domain would answer the next tests' topics and load the CPU)
        self.proc = subprocess.Popen(cmd + self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=REPO, start_new_session=True)
        return self

    def output(self) -> str:
        if self._final_output is not None:
            return self._final_output
        return self._log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT, then SIGKILL after ``timeout`` (longer than ``up``'s own 10 s for its
        nodes); then anything left in its process group is killed."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode

    def __exit__(self, *exc) -> None:
        self.stop()
        self._log.close()
        self._final_output = self._log_path.read_text(errors="replace")
        self._log_path.unlink(missing_ok=True)
