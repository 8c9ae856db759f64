"""Publishes a deterministic 640x480 rgb8 pattern on /pattern until interrupted."""

import sys

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from spatial_ros.nodes.image_conv import numpy_to_image


def pattern(seq: int) -> np.ndarray:
    rng = np.random.default_rng(seq)
    return rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)


def main() -> None:
    rclpy.init(args=sys.argv)
    node = Node("pattern_publisher")
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(__import__("sensor_msgs.msg").msg.Image, "pattern", qos)
    seq = [0]

    def tick() -> None:
        msg = numpy_to_image(pattern(seq[0]), "rgb8", node.get_clock().now().to_msg(),
                             frame_id=str(seq[0]))
        pub.publish(msg)
        seq[0] += 1

    node.create_timer(0.05, tick)
    print("pattern publisher ready", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == "__main__":
    main()
