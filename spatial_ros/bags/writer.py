"""Writes rosbag2 bags (MCAP or sqlite3) from already-serialized CDR messages.

Messages are written as received (raw CDR), never deserialized, so recording is cheap and the
bytes replayed are the bytes that were on the wire.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from spatial_ros.bags.qos import QosSpec

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


class BagError(ValueError):
    """A bag cannot be written or read as asked; the message names the bag and the problem."""


@dataclass
class TopicStats:
    msgtype: str
    count: int = 0
    bytes: int = 0


@dataclass
class BagWriter:
    path: Path
    storage: Literal["mcap", "sqlite3"] = "mcap"
    distro: Stores = Stores.ROS2_KILTED
    topics: dict[str, TopicStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.storage not in STORAGES:
            raise BagError(f"unknown bag storage '{self.storage}': use {sorted(STORAGES)}")
        if self.path.exists():
            raise BagError(f"output {self.path} already exists; choose another path")
        if not self.path.parent.is_dir():
            raise BagError(f"output folder {self.path.parent} does not exist")
        self._typestore = get_typestore(self.distro)
        self._writer = Writer(self.path, version=9, storage_plugin=STORAGES[self.storage])
        self._writer.open()
        self._connections: dict[str, object] = {}
        self._lock = threading.Lock()
        self._closed = False

    def add_topic(self, topic: str, msgtype: str, qos: QosSpec | None = None) -> None:
        """``msgtype`` as ``pkg/msg/Name``; the message definition comes from the typestore
        (standard ROS 2 messages), like ``ros2 bag`` stores it."""
        if topic in self._connections:
            return
        if msgtype not in self._typestore.fielddefs:
            raise BagError(f"cannot record {topic}: message type {msgtype} is unknown to the "
                           f"rosbags typestore ({self.distro.value})")
        with self._lock:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self._typestore,
                offered_qos_profiles=[(qos or QosSpec()).to_rosbags()])
            self.topics[topic] = TopicStats(msgtype)

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        if topic not in self._connections:
            raise BagError(f"topic {topic} was not added to the bag before writing")
        with self._lock:
            if self._closed:
                return
            self._writer.write(self._connections[topic], int(timestamp_ns), data)
            stats = self.topics[topic]
            stats.count += 1
            stats.bytes += len(data)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._writer.close()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
