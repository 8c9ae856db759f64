"""numpy <-> sensor_msgs/Image without cv_bridge (absent from the PyPI ROS wheels)."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from spatial_ros.common.image_codec import ENCODINGS, image_to_numpy

__all__ = ["ENCODINGS", "image_to_numpy", "numpy_to_image"]

def numpy_to_image(array: np.ndarray, encoding: str, stamp=None, frame_id: str = "") -> Image:
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported image encoding '{encoding}'")
    dtype, channels = ENCODINGS[encoding]
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] != channels:
        raise ValueError(f"{encoding} needs {channels} channel(s), got shape {array.shape}")
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(array.shape[1] * channels * dtype.itemsize)
    msg.data = array.tobytes()
    return msg
