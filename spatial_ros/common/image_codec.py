"""Decoding of sensor_msgs/Image-shaped messages into numpy, without importing ROS.

Works on anything with ``height, width, encoding, step, is_bigendian, data``: rclpy messages
in the nodes and rosbags-deserialized messages in the data layer alike.
"""

from __future__ import annotations

import numpy as np

# encoding -> (dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "8UC3": (np.dtype(np.uint8), 3),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}


def image_to_numpy(msg) -> np.ndarray:
    """Returns an (H, W) or (H, W, C) array; raises ValueError naming what is wrong."""
    if msg.encoding not in ENCODINGS:
        raise ValueError(f"unsupported image encoding '{msg.encoding}'")
    dtype, channels = ENCODINGS[msg.encoding]
    if msg.is_bigendian:
        dtype = dtype.newbyteorder(">")
    row = msg.width * channels * dtype.itemsize
    if msg.step < row:
        raise ValueError(f"image step {msg.step} < width*channels*itemsize {row}")
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, bytes | bytearray |
                                                          memoryview | np.ndarray)
                         else msg.data, dtype=np.uint8)
    if data.size < msg.step * msg.height:
        raise ValueError(f"image data has {data.size} bytes, expected {msg.step * msg.height}")
    rows = data[: msg.step * msg.height].reshape(msg.height, msg.step)[:, :row]
    array = np.ascontiguousarray(rows).view(dtype).reshape(msg.height, msg.width, channels)
    if dtype.byteorder == ">":
        array = array.astype(dtype.newbyteorder("="))
    return array[:, :, 0] if channels == 1 else array
