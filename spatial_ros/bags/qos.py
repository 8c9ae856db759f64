"""A ROS-free QoS description and its conversion to the rosbag2 metadata form.

rosbag2 stores, per topic, the QoS profiles the publishers *offered*, so a player can offer the
same (a latched /tf_static stays latched, a best-effort camera stays best effort).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)

_INFINITE = QosTime(sec=9223372036, nsec=854775807)  # what rosbag2 writes for "infinite"


@dataclass(frozen=True)
class QosSpec:
    reliability: Literal["reliable", "best_effort"] = "reliable"
    durability: Literal["volatile", "transient_local"] = "volatile"
    depth: int = 10

    def to_rosbags(self) -> Qos:
        return Qos(
            history=QosHistory.KEEP_LAST,
            depth=self.depth,
            reliability=(QosReliability.RELIABLE if self.reliability == "reliable"
                         else QosReliability.BEST_EFFORT),
            durability=(QosDurability.TRANSIENT_LOCAL if self.durability == "transient_local"
                        else QosDurability.VOLATILE),
            deadline=_INFINITE,
            lifespan=_INFINITE,
            liveliness=QosLiveliness.AUTOMATIC,
            liveliness_lease_duration=_INFINITE,
            avoid_ros_namespace_conventions=False,
        )

    @classmethod
    def from_rosbags(cls, qos: Qos) -> QosSpec:
        return cls(
            reliability="best_effort" if qos.reliability == QosReliability.BEST_EFFORT
            else "reliable",
            durability="transient_local" if qos.durability == QosDurability.TRANSIENT_LOCAL
            else "volatile",
            depth=max(int(qos.depth or 10), 1),
        )


def merge_offered(specs: list[QosSpec]) -> QosSpec:
    """What a recorder should request / a player should offer for several publishers:
    reliable only if all are (else a reliable reader would miss best-effort writers),
    transient local only if all are."""
    if not specs:
        return QosSpec()
    return QosSpec(
        reliability="reliable" if all(s.reliability == "reliable" for s in specs)
        else "best_effort",
        durability="transient_local" if all(s.durability == "transient_local" for s in specs)
        else "volatile",
        depth=max(s.depth for s in specs),
    )
