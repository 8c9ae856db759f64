"""Camera node throughput: 640x480 RGB-D at 30 Hz from the pyrealsense2 software_device to a
subscriber in another process, with dropped frames, rate and latency.

    .venv/bin/python bench/bench_camera.py [--quick] [--seconds S]

For each configuration the camera node and a subscriber run as two fresh processes (DDS
between them); all configurations run in this one invocation so they are comparable.
Drops are counted against the node's own published-frame counter (its stats topic), over
the window between two stats messages, so a slow node is not mistaken for a lossy link.
Target (issue 3): >= 30 Hz sustained with < 2 % dropped frames.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NS = "/camera/camera"
CONFIGS = [
    # name, node qos, subscriber qos, extra environment (both processes)
    ("sensor_data, Fast DDS default transports", "sensor_data", "sensor_data",
     {"SPATIAL_ROS_LARGE_SHM": "0"}),
    ("sensor_data, node's 32 MiB SHM profile (default)", "sensor_data", "sensor_data", {}),
    ("reliable, Fast DDS default transports", "reliable", "reliable",
     {"SPATIAL_ROS_LARGE_SHM": "0"}),
    ("sensor_data, FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA in both", "sensor_data",
     "sensor_data", {"FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}),
]


def subscriber(qos_name: str, seconds: float) -> None:
    """Child-process mode: subscribe, measure, print one JSON line."""
    import numpy as np
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from spatial_ros.nodes.runtime import qos_from_name

    rclpy.init()
    node = rclpy.create_node("bench_camera_subscriber")
    lock = threading.Lock()
    images: dict[str, list[tuple[int, int]]] = {"color": [], "depth": []}
    stats: list[tuple[int, dict]] = []

    def on_image(kind: str, msg: Image) -> None:
        now = node.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        with lock:
            images[kind].append((now, stamp))

    qos = qos_from_name(qos_name, depth=10)
    node.create_subscription(Image, f"{NS}/color/image_raw", lambda m: on_image("color", m), qos)
    node.create_subscription(Image, f"{NS}/aligned_depth_to_color/image_raw",
                             lambda m: on_image("depth", m), qos)
    node.create_subscription(String, f"{NS}/stats", lambda m: stats.append(
        (node.get_clock().now().nanoseconds, json.loads(m.data))), qos_from_name("reliable"))
    executor = MultiThreadedExecutor(num_threads=3)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    # Warm-up: wait for streaming, then measure between two stats messages.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (stats and stats[-1][1]["frames"] > 0
                                               and len(images["color"]) > 10):
        time.sleep(0.1)
    start_count = len(stats)
    time.sleep(seconds)
    end_deadline = time.monotonic() + 10
    while time.monotonic() < end_deadline and len(stats) <= start_count + 1:
        time.sleep(0.1)
    executor.shutdown(timeout_sec=1)
    with lock:
        if len(stats) < start_count + 1 or start_count == 0:
            print(json.dumps({"error": "no stats from the camera node"}))
            return
        (t0, s0), (t1, s1) = stats[start_count - 1], stats[-1]
        published = s1["published_total"] - s0["published_total"]
        out = {"published": published, "node_rate_hz": published / ((t1 - t0) / 1e9),
               "node_latency_ms": s1["latency_ms_mean"]}
        for kind, rows in images.items():
            window = [(r, s) for r, s in rows if t0 <= r <= t1]
            lat = np.array([(r - s) / 1e6 for r, s in window]) if window else np.zeros(1)
            out[kind] = {"received": len(window),
                         "drop_pct": 100.0 * (1 - len(window) / max(published, 1)),
                         "rate_hz": len(window) / ((t1 - t0) / 1e9),
                         "latency_ms_mean": float(lat.mean()),
                         "latency_ms_p95": float(np.percentile(lat, 95))}
    print(json.dumps(out), flush=True)
    node.destroy_node()
    rclpy.shutdown()


def run_config(qos_node: str, qos_sub: str, env_extra: dict, seconds: float) -> dict:
    env = {**os.environ, **env_extra, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
           "ROS_DOMAIN_ID": os.environ.get("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))}
    cam = subprocess.Popen(
        [sys.executable, "-m", "spatial_ros.nodes.camera_node", "--ros-args",
         "-p", "source:=software", "-p", f"qos:={qos_node}", "-p", "diagnostics_period_s:=1.0"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sub = subprocess.run([sys.executable, __file__, "--subscriber", qos_sub, "--seconds",
                              str(seconds)], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=seconds + 120)
    finally:
        cam.send_signal(2)
        try:
            cam.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cam.kill()
    lines = [ln for ln in sub.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": (sub.stderr or sub.stdout)[-300:]}
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 s per configuration")
    parser.add_argument("--only", default="", help="comma-separated row numbers (1-based)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--subscriber", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    seconds = args.seconds or (6.0 if args.quick else 20.0)
    if args.subscriber:
        subscriber(args.subscriber, seconds)
        return 0
    rows = [CONFIGS[int(i) - 1] for i in args.only.split(",") if i] or CONFIGS
    results = [(name, run_config(qn, qs, env, seconds)) for name, qn, qs, env in rows]
    print(f"software_device 640x480 RGB-D @ 30 Hz, {seconds:.0f} s window per row; node and "
          f"subscriber in separate processes; shared 2-core machine (pessimistic).\n")
    print("| configuration | node Hz | colour Hz recv | colour drops | depth drops | latency "
          "mean / p95 (ms) | node latency (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results:
        if "error" in r:
            print(f"| {name} | error: {r['error']!r} | | | | | |")
            continue
        c, d = r["color"], r["depth"]
        print(f"| {name} | {r['node_rate_hz']:.1f} | {c['rate_hz']:.1f} | "
              f"{c['drop_pct']:.1f} % | {d['drop_pct']:.1f} % | {c['latency_ms_mean']:.1f} / "
              f"{c['latency_ms_p95']:.1f} | {r['node_latency_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
