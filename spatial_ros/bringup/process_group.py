"""Runs a set of node processes like `ros2 launch` does: prefixed output, SIGINT to stop all."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from spatial_ros.bringup.graph import NodeSpec
from spatial_ros.common.lifetime import SUPPORTED, die_with_parent

log = logging.getLogger("spatial_ros.up")

@dataclass
class Launched:
    spec: NodeSpec
    proc: subprocess.Popen


def command_for(spec: NodeSpec, overrides_dir: Path) -> list[str] | None:
    """Our nodes run as ``python -m``; others through ``ros2 run`` if a ROS CLI exists."""
    if spec.module is not None:
        return [sys.executable, "-m", spec.module, *spec.arguments,
                *spec.ros_args(overrides_dir)]
    if shutil.which("ros2"):
        return ["ros2", "run", spec.package, spec.executable, *spec.arguments,
                *spec.ros_args(overrides_dir)]
    return None


class ProcessGroup:
    def __init__(self, specs: list[NodeSpec], env: dict[str, str] | None = None) -> None:
        self.specs = specs
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.launched: list[Launched] = []
        self.skipped: list[str] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="spatial-ros-up-")

    def start(self) -> None:
        for spec in self.specs:
            cmd = command_for(spec, Path(self._tmp.name))
            if cmd is None:
                self.skipped.append(spec.name)
                log.warning("skipping %s: %s/%s needs a ROS install with `ros2` on PATH",
                            spec.name, spec.package, spec.executable)
                continue
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    env=self.env, text=True, errors="replace",
                                    preexec_fn=die_with_parent if SUPPORTED else None)
            self.launched.append(Launched(spec, proc))
            threading.Thread(target=self._pump, args=(spec.name, proc), daemon=True).start()
            log.info("started %s (pid %d)", spec.name, proc.pid)

    @staticmethod
    def _pump(name: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()

    def wait(self, duration: float | None = None) -> int:
        """Blocks until Ctrl-C, ``duration`` seconds, or a node exits (then stops the rest)."""
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while deadline is None or time.monotonic() < deadline:
                for item in self.launched:
                    code = item.proc.poll()
                    if code is not None:
                        log.error("%s exited with code %s; stopping the others",
                                  item.spec.name, code)
                        self.stop()
                        return code or 1
                time.sleep(0.2)
        except KeyboardInterrupt:
            log.info("Ctrl-C: stopping %d node(s)", len(self.launched))
        self.stop()
        return 0

    def stop(self, timeout: float = 10.0) -> None:
        for item in self.launched:
            if item.proc.poll() is None:
                item.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for item in self.launched:
            try:
                item.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGINT; killing it", item.spec.name)
                item.proc.kill()
                item.proc.wait()
        self._tmp.cleanup()
