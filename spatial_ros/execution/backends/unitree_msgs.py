"""Unitree G1 ``rt/arm_sdk`` messages without the SDK: LowCmd layout, CRC, weight ramps.

The G1 (``unitree_hg``) ``LowCmd_`` is: ``mode_pr`` u8, ``mode_machine`` u8, 35 ``MotorCmd_``
(``mode`` u8, ``q dq tau kp kd`` f32, ``reserve`` u32), ``reserve`` u32[4], ``crc`` u32. The
robot checks ``crc``: Unitree packs the C struct (natural alignment, little endian), reads it
as u32 words, drops the last (the crc itself) and runs CRC-32 with polynomial 0x04C11DB7,
init 0xFFFFFFFF, MSB first, no reflection, no final xor on those words. That is
CRC-32/MPEG-2 over each word's big-endian bytes, which ``zlib`` computes after bit reversal.

On ``rt/arm_sdk`` the slot ``motor_cmd[29].q`` (kNotUsedJoint) is the weight in [0, 1] that
blends the SDK command with the robot's own controller; it must be ramped in and out.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

NUM_MOTORS = 35
ARM_SDK_WEIGHT_INDEX = 29  # G1JointIndex.kNotUsedJoint
LEFT_ARM_INDICES = tuple(range(15, 22))
RIGHT_ARM_INDICES = tuple(range(22, 29))
WAIST_INDICES = (12, 13, 14)
#: struct layout of unitree_hg LowCmd_ (with C alignment padding).
HG_LOWCMD_FORMAT = "<2B2x" + "B3x5fI" * NUM_MOTORS + "4I" + "I"
HG_LOWCMD_SIZE = struct.calcsize(HG_LOWCMD_FORMAT)  # 1004 bytes
_BITREV = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


@dataclass
class MotorCmd:
    mode: int = 0
    q: float = 0.0
    dq: float = 0.0
    tau: float = 0.0
    kp: float = 0.0
    kd: float = 0.0
    reserve: int = 0


@dataclass
class HgLowCmd:
    """Plain mirror of ``unitree_hg.msg.dds_.LowCmd_`` so it can be built and tested here."""

    mode_pr: int = 0
    mode_machine: int = 0
    motor_cmd: list[MotorCmd] = field(default_factory=lambda: [MotorCmd()
                                                                for _ in range(NUM_MOTORS)])
    reserve: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    crc: int = 0


def pack_hg_lowcmd(cmd) -> bytes:
    """Packs an ``HgLowCmd`` or the SDK's ``LowCmd_`` (same field names) as the C struct."""
    values: list = [cmd.mode_pr, cmd.mode_machine]
    if len(cmd.motor_cmd) != NUM_MOTORS:
        raise ValueError(f"LowCmd needs {NUM_MOTORS} motor commands, got {len(cmd.motor_cmd)}")
    for m in cmd.motor_cmd:
        values += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve]
    values += [*list(cmd.reserve), cmd.crc]
    return struct.pack(HG_LOWCMD_FORMAT, *values)


def crc32_words(words: np.ndarray) -> int:
    """Unitree's ``crc32_core`` over u32 words (CRC-32/MPEG-2 of their big-endian bytes)."""
    data = np.asarray(words, dtype="<u4").astype(">u4").tobytes()
    # MSB-first CRC == bit-reversed LSB-first CRC of bit-reversed bytes; zlib adds xorout.
    reflected = zlib.crc32(data.translate(_BITREV)) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def hg_lowcmd_crc(cmd) -> int:
    raw = pack_hg_lowcmd(cmd)
    words = np.frombuffer(raw, dtype="<u4")[:-1]  # everything but the crc field
    return crc32_words(words)


def weight_ramp(start: float, end: float, duration: float, dt: float) -> np.ndarray:
    """Weights sent once per ``dt`` while blending in (0 -> 1) or out (1 -> 0), end included."""
    if dt <= 0 or duration < 0:
        raise ValueError("weight ramp needs dt > 0 and duration >= 0")
    if not (0.0 <= start <= 1.0 and 0.0 <= end <= 1.0):
        raise ValueError("arm_sdk weights must lie in [0, 1]")
    n = max(int(np.ceil(duration / dt)), 1)
    return np.linspace(start, end, n + 1)[1:]


@dataclass
class ArmGains:
    kp: float = 60.0
    kd: float = 1.5


def build_arm_sdk_cmd(q: dict[int, float], weight: float, gains: ArmGains,
                      dq: dict[int, float] | None = None, cmd: HgLowCmd | None = None) -> HgLowCmd:
    """Fills motor slots ``q`` (Unitree 29-DoF index -> rad), the weight, then the crc."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"arm_sdk weight {weight} outside [0, 1]")
    cmd = cmd if cmd is not None else HgLowCmd()
    for idx, value in q.items():
        if not 0 <= idx < ARM_SDK_WEIGHT_INDEX:
            raise ValueError(f"motor index {idx} is not a G1 joint (0..28)")
        if not np.isfinite(value):
            raise ValueError(f"motor {idx}: non-finite position {value}")
        m = cmd.motor_cmd[idx]
        m.q, m.dq, m.tau = float(value), float((dq or {}).get(idx, 0.0)), 0.0
        m.kp, m.kd = gains.kp, gains.kd
    cmd.motor_cmd[ARM_SDK_WEIGHT_INDEX].q = float(weight)
    cmd.crc = hg_lowcmd_crc(cmd)
    return cmd
