"""One-shot client of the perception node: send an instruction, wait for its result.

Used by ``spatial-ros ask``; runs in its own rclpy context so it can also be called from
a process that already runs other nodes (tests, notebooks).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from spatial_ros.nodes.image_conv import image_to_numpy


@dataclass
class AskReply:
    result: dict | None  # the parsed /spatial/result JSON, None on timeout
    overlay: np.ndarray | None  # debug image of the same frame, when asked for and received
    error: str | None = None  # client-side problem (no node, timeout)


def ask(text: str, timeout: float = 10.0, want_overlay: bool = False,
        instruction_topic: str = "/spatial/instruction", output_namespace: str = "/spatial",
        request_id: str | None = None) -> AskReply:
    rid = request_id or f"ask-{uuid.uuid4().hex[:8]}"
    out = output_namespace.rstrip("/")
    context = Context()
    rclpy.init(args=[], context=context)
    node = Node(f"spatial_ask_{os.getpid()}", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    got: dict = {}
    overlays: dict[int, Image] = {}
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)

    def on_result(msg: String) -> None:
        try:
            data = json.loads(msg.data)
        except json.JSONDecodeError:
            return
        if data.get("request_id") == rid:
            got["result"] = data

    def on_overlay(msg: Image) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        overlays[stamp] = msg
        while len(overlays) > 4:
            overlays.pop(next(iter(overlays)))

    try:
        node.create_subscription(String, f"{out}/result", on_result, reliable)
        if want_overlay:
            node.create_subscription(Image, f"{out}/debug_image", on_overlay, reliable)
        pub = node.create_publisher(String, instruction_topic, reliable)
        deadline = time.monotonic() + timeout

        def spin_until(cond) -> bool:
            while not cond():
                if time.monotonic() > deadline:
                    return False
                executor.spin_once(timeout_sec=0.05)
            return True

        matched = spin_until(lambda: pub.get_subscription_count() > 0
                             and node.count_publishers(f"{out}/result") > 0)
        if not matched:
            return AskReply(None, None, f"no perception node answering on {instruction_topic}"
                                        f" / {out}/result within {timeout:.1f} s")
        executor.spin_once(timeout_sec=0.2)  # let the result writer match our reader
        pub.publish(String(data=json.dumps({"id": rid, "text": text})))
        if not spin_until(lambda: "result" in got):
            return AskReply(None, None, f"no result for request {rid} within {timeout:.1f} s")
        result = got["result"]
        overlay = None
        if want_overlay and result.get("stamp_ns"):
            deadline = min(deadline, time.monotonic() + 3.0)
            if spin_until(lambda: result["stamp_ns"] in overlays):
                overlay = image_to_numpy(overlays[result["stamp_ns"]])
        return AskReply(result, overlay)
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.shutdown(context=context)
