"""A Fast DDS participant profile with a large shared-memory segment, for image publishers.

Fast DDS's default shared-memory segment (512 KiB) is smaller than one 640x480 RGB-D frame
pair, so best-effort images between processes on one host fall back to fragmented UDP and
most frames are lost (measured in bench/bench_camera.py). Enlarging the *publisher's*
segment fixes that without touching subscribers: the transports stay SHM + UDPv4, so
processes with default settings still match (unlike ``FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA``,
which must then be set everywhere). Must run before ``rclpy.init``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>spatial_ros_shm</transport_id>
        <type>SHM</type>
        <segment_size>{segment}</segment_size>
      </transport_descriptor>
      <transport_descriptor>
        <transport_id>spatial_ros_udp</transport_id>
        <type>UDPv4</type>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="spatial_ros_large_shm" is_default_profile="true">
      <rtps>
        <userTransports>
          <transport_id>spatial_ros_shm</transport_id>
          <transport_id>spatial_ros_udp</transport_id>
        </userTransports>
        <useBuiltinTransports>false</useBuiltinTransports>
      </rtps>
    </participant>
  </profiles>
</dds>
"""

_USER_SETTINGS = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE",
                  "FASTDDS_BUILTIN_TRANSPORTS")
OPT_OUT = "SPATIAL_ROS_LARGE_SHM"  # set to 0 to keep Fast DDS's defaults


def use_large_shm_profile(segment_mib: int = 32) -> Path | None:
    """Points Fast DDS at a generated profile unless the user configured Fast DDS already,
    another RMW is selected, or ``SPATIAL_ROS_LARGE_SHM=0``. Returns the profile path used."""
    if os.environ.get(OPT_OUT, "1") == "0":
        return None
    if os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp") != "rmw_fastrtps_cpp":
        return None
    if any(os.environ.get(name) for name in _USER_SETTINGS):
        return None
    path = Path(tempfile.gettempdir()) / f"spatial_ros_fastdds_shm_{segment_mib}mib.xml"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(_PROFILE.format(segment=segment_mib * 1024 * 1024))
        tmp.replace(path)  # atomic: concurrent nodes never read a half-written file
    os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(path)
    return path
