"""Unitree G1 arms through ``unitree_sdk2py`` on ``rt/arm_sdk`` (reads ``rt/lowstate``).

The command stream is built by ``ArmSdkStreamer`` (plain Python, tested here): ramp the
arm_sdk weight 0 -> 1 while holding the measured pose, stream the checked trajectory at the
control rate, and ramp 1 -> 0 on close so the robot's own controller takes the arms back
smoothly. The SDK is only touched in ``SdkArmLink``; without it the backend raises
``BackendUnavailable``. The G1's Dex3 hands are not driven (see docs/executor.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from spatial_ros.execution.backends.base import Backend, BackendUnavailable, MotionResult
from spatial_ros.execution.backends.unitree_msgs import (
    ArmGains,
    HgLowCmd,
    build_arm_sdk_cmd,
    weight_ramp,
)
from spatial_ros.execution.config import GripperConfig
from spatial_ros.execution.motion import JointTrajectory
from spatial_ros.execution.safety import SafetyEnvelope


@dataclass
class UnitreeOptions:
    network_interface: str = ""
    domain_id: int = 0
    control_dt: float = 0.02
    ramp_time: float = 2.0
    kp: float = 60.0
    kd: float = 1.5


class ArmSdkStreamer:
    """Turns trajectories into the LowCmd sequence for rt/arm_sdk (one command per ``dt``)."""

    def __init__(self, joint_indices: dict[str, int], opts: UnitreeOptions) -> None:
        self.joint_indices = dict(joint_indices)
        self.opts = opts
        self.gains = ArmGains(opts.kp, opts.kd)
        self.weight = 0.0

    def command(self, names: tuple[str, ...], q: np.ndarray, dq: np.ndarray | None = None
             ) -> HgLowCmd:
        idx = [self.joint_indices[n] for n in names]
        dq_map = None if dq is None else dict(zip(idx, map(float, dq), strict=True))
        return build_arm_sdk_cmd(dict(zip(idx, map(float, q), strict=True)), self.weight,
                                 self.gains, dq=dq_map)

    def ramp(self, names: tuple[str, ...], q_hold: np.ndarray, target: float
             ) -> Iterator[HgLowCmd]:
        """Blends the weight from its current value to ``target`` holding ``q_hold``."""
        for w in weight_ramp(self.weight, target, self.opts.ramp_time, self.opts.control_dt):
            self.weight = float(w)
            yield self.command(names, q_hold)

    def stream(self, traj: JointTrajectory) -> Iterator[tuple[float, HgLowCmd]]:
        """(time, command) every ``control_dt`` along the trajectory, end point included."""
        if self.weight < 1.0:
            raise RuntimeError("arm_sdk weight not ramped in: call ramp(..., 1.0) first")
        for t in traj.every(self.opts.control_dt).times:
            q, dq = traj.sample(t)
            yield float(t), self.command(traj.joint_names, q, dq)


class SdkArmLink:
    """The only place that imports unitree_sdk2py: publish LowCmd, read LowState."""

    def __init__(self, opts: UnitreeOptions) -> None:
        try:
            from unitree_sdk2py.core.channel import (
                ChannelFactoryInitialize,
                ChannelPublisher,
                ChannelSubscriber,
            )
            from unitree_sdk2py.idl.default import unitree_hg_msg_dds__LowCmd_
            from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowCmd_, LowState_
        except ImportError as exc:
            raise BackendUnavailable(
                "backend 'unitree' needs unitree_sdk2py (github.com/unitreerobotics/"
                "unitree_sdk2_python, with cyclonedds 0.10.x) and a G1 on the network; "
                f"it is not installed here ({exc})") from exc
        ChannelFactoryInitialize(opts.domain_id, opts.network_interface or None)
        self._make_cmd = unitree_hg_msg_dds__LowCmd_
        self._pub = ChannelPublisher("rt/arm_sdk", LowCmd_)
        self._pub.Init()
        self._state = None
        self._sub = ChannelSubscriber("rt/lowstate", LowState_)
        self._sub.Init(self._on_state, 10)

    def _on_state(self, msg) -> None:
        self._state = msg

    def joint_q(self) -> np.ndarray | None:
        state = self._state
        return None if state is None else np.array([m.q for m in state.motor_state[:29]])

    def publish(self, cmd: HgLowCmd) -> None:
        msg = self._make_cmd()
        msg.mode_pr, msg.mode_machine = cmd.mode_pr, cmd.mode_machine
        for src, dst in zip(cmd.motor_cmd, msg.motor_cmd, strict=True):
            dst.mode, dst.q, dst.dq, dst.tau = src.mode, src.q, src.dq, src.tau
            dst.kp, dst.kd, dst.reserve = src.kp, src.kd, src.reserve
        msg.crc = cmd.crc  # computed by build_arm_sdk_cmd over the same bytes
        self._pub.Write(msg)


class UnitreeBackend(Backend):
    """G1 arm via rt/arm_sdk. ``link`` defaults to the SDK; anything with ``publish`` and
    ``joint_q`` works (e.g. a bridge to a simulator)."""

    name = "unitree"

    def __init__(self, envelope: SafetyEnvelope, gripper: GripperConfig,
                 joint_indices: dict[str, int], opts: UnitreeOptions | None = None,
                 link=None, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(envelope, gripper)
        self.opts = opts or UnitreeOptions()
        missing = [n for n in self.joint_names if n not in joint_indices]
        if missing:
            raise ValueError(f"no Unitree motor index for joints {missing}")
        self.joint_indices = joint_indices
        self.link = link if link is not None else SdkArmLink(self.opts)
        self.streamer = ArmSdkStreamer(joint_indices, self.opts)
        self._sleep = sleep
        self._stop = threading.Event()

    def joint_positions(self) -> np.ndarray:
        q29 = self.link.joint_q()
        if q29 is None:
            raise RuntimeError("no rt/lowstate received from the G1 yet")
        return np.array([q29[self.joint_indices[n]] for n in self.joint_names])

    def gripper_width(self) -> float:
        raise BackendUnavailable("the unitree backend does not drive the G1 Dex3 hands yet")

    def _set_gripper(self, width: float, cancel: threading.Event) -> MotionResult:
        raise BackendUnavailable("the unitree backend does not drive the G1 Dex3 hands yet")

    def _execute(self, traj: JointTrajectory, cancel: threading.Event) -> MotionResult:
        self._stop.clear()
        if self.streamer.weight < 1.0:
            for cmd in self.streamer.ramp(self.joint_names, self.joint_positions(), 1.0):
                self.link.publish(cmd)
                self._sleep(self.opts.control_dt)
        t0 = time.monotonic()
        for t, cmd in self.streamer.stream(traj):
            if cancel.is_set() or self._stop.is_set():
                self._hold()
                return MotionResult(False, "cancelled", self.joint_positions(), t)
            self.link.publish(cmd)
            self._sleep(self.opts.control_dt)
        return MotionResult(True, "", traj.final, time.monotonic() - t0)

    def _hold(self) -> None:
        q = self.joint_positions()
        self.link.publish(self.streamer.command(self.joint_names, q))

    def stop(self) -> None:
        self._stop.set()
        if self.streamer.weight > 0.0:
            self._hold()

    def close(self) -> None:
        """Hands the arms back to the robot's controller by ramping the weight to 0."""
        if self.streamer.weight <= 0.0:
            return
        q = self.joint_positions()
        for cmd in self.streamer.ramp(self.joint_names, q, 0.0):
            self.link.publish(cmd)
            self._sleep(self.opts.control_dt)
