"""Perception benchmark: instruction-to-result latency and sustained 30 Hz RGB-D memory.

1. In-process pipeline stage times (no DDS), depth refinement off vs on.
2. The perception node in its own process, fed 640x480 RGB-D at 30 Hz over real DDS from
   this process; instructions sent one at a time: client round trip and the node's own
   latency (instruction received -> result published), p50/p95.
3. Sustained run for --duration seconds at 30 Hz with an instruction every second: the
   node's resident memory (psutil) at start and end.

    .venv/bin/python bench/bench_perception.py [--quick] [--duration 300] [--referrer model]
        [--node-only] [--in-process] [--no-compile] [--no-check]
        [--compare inference-process|compile|check]

``--compare X`` runs 2 and 3 twice, the node's default and then the other setting (the
pipeline in the node's own process instead of a child; the model eager instead of
compiled; the model's answers unchecked), one after the other, and prints the latency
ratios.

Frames are ray-cast boxes (spatial_ros.perception.synthetic), so the camera side costs
the same in every run. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(101, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import numpy as np
import psutil
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

from spatial_ros.geometry.intrinsics import camera_info_fields
from spatial_ros.nodes.image_conv import numpy_to_image
from spatial_ros.perception.extrinsics import CameraToBase
from spatial_ros.perception.pipeline import PerceptionPipeline, PipelineConfig
from spatial_ros.perception.referrers import load_referrer
from spatial_ros.perception.refine import DepthConfig
from spatial_ros.perception.synthetic import render

REPO = Path(__file__).resolve().parents[1]
NS = "/camera/camera"
NODE_LATENCY = "node (received -> published)"
INSTRUCTIONS = ["the red box", "the blue box", "the box on the left", "the box on the right"]


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


def stage_table(args, frame) -> str:
    referrer, name = load_referrer(args.referrer, args.model_path, args.device,
                                   compile_model=not args.no_compile)
    ext = CameraToBase.from_matrix(frame.camera_to_base.as_matrix())
    rows = {}
    for refine in (False, True):
        pipe = PerceptionPipeline(referrer, PipelineConfig(depth=DepthConfig(refine=refine)),
                                  ext, referrer_name=name)
        times: dict[str, list[float]] = {}
        for i in range(args.stage_runs + 3):
            res = pipe.run(frame.rgb, frame.depth_m, frame.intrinsics,
                           INSTRUCTIONS[i % len(INSTRUCTIONS)])
            if res.error:
                raise SystemExit(f"pipeline error: {res.error}")
            if i >= 3:  # warm-up excluded
                for k in ("refer", "depth", "total"):
                    times.setdefault(k, []).append(res.timings_ms[k])
        rows[refine] = {k: float(np.median(v)) for k, v in times.items()}
    lines = [f"Pipeline stages in-process ({name}, median of {args.stage_runs}, ms)", "",
             "| stage | refine off | refine on | on/off |", "|---|---|---|---|"]
    for k in ("refer", "depth", "total"):
        off, on = rows[False][k], rows[True][k]
        lines.append(f"| {k} | {off:.2f} | {on:.2f} | {on / off:.2f}x |")
    return "\n".join(lines)


def _obb_distance(point, pose: np.ndarray, size) -> float:
    local = pose[:3, :3].T @ (np.asarray(point) - pose[:3, 3])
    return float(np.linalg.norm(np.maximum(np.abs(local) - np.asarray(size) / 2, 0.0)))


def refine_accuracy_table(seeds: list[int]) -> str:
    """Depth path alone on MuJoCo frames with the D435 noise model: the pixel nearest each
    graspable object's mask centroid, moved by ``r`` px in 8 directions (a referrer's pixel
    error), through the depth query with refinement off and on; hit = the back-projected
    point lies within 5 mm of the object's ground-truth box (on its surface)."""
    from spatial_ros.geometry.backproject import backproject_pixels
    from spatial_ros.perception.refine import pick_depth
    from spatial_ros.sim.camera import SimRealSense
    from spatial_ros.sim.world import build_world

    radii = (0, 5, 10, 15, 20)
    hits = {(r, on): [] for r in radii for on in (False, True)}
    errs = {(r, on): [] for r in radii for on in (False, True)}
    n_obj = 0
    for seed in seeds:
        world = build_world(seed=seed)
        world.settle()
        with SimRealSense(world, seed=seed) as cam:
            frame = cam.render()
        depth = frame.depth_m
        for obj in world.objects:
            mask = frame.segmentation == obj.id
            if not obj.graspable or mask.sum() < 30:
                continue
            n_obj += 1
            rows, cols = np.nonzero(mask)
            k = np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2)
            for r in radii:
                dirs = [(0.0, 0.0)] if r == 0 else [
                    (np.cos(a), np.sin(a)) for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
                for dx, dy in dirs:
                    u = float(np.clip(cols[k] + 0.5 + r * dx, 0, depth.shape[1] - 1))
                    v = float(np.clip(rows[k] + 0.5 + r * dy, 0, depth.shape[0] - 1))
                    for on in (False, True):
                        pick = pick_depth(depth, u, v, DepthConfig(refine=on))
                        if not pick.valid:
                            hits[r, on].append(False)
                            continue
                        p_cam = backproject_pixels(pick.u, pick.v, pick.depth_m,
                                                   frame.intrinsics)[0]
                        p_w = frame.camera_pose[:3, :3] @ p_cam + frame.camera_pose[:3, 3]
                        d = _obb_distance(p_w, obj.pose, obj.size)
                        hits[r, on].append(d <= 0.005)
                        errs[r, on].append(d)
    lines = ["", f"Depth refinement on MuJoCo frames (D435 noise; {len(seeds)} scenes, "
             f"{n_obj} graspable objects; hit = point within 5 mm of the object's box)", "",
             "| pixel error | hit, refine off | hit, refine on | on/off | mean dist off (cm)"
             " | mean dist on (cm) |", "|---|---|---|---|---|---|"]
    for r in radii:
        off, on = np.mean(hits[r, False]) * 100, np.mean(hits[r, True]) * 100
        lines.append(f"| {r} px | {off:.1f} % | {on:.1f} % | {on / max(off, 1e-9):.2f}x | "
                     f"{np.mean(errs[r, False]) * 100:.2f} | {np.mean(errs[r, True]) * 100:.2f} |")
    return "\n".join(lines)


class Driver:
    """Camera publisher (30 Hz) and operator in one rclpy context of this process."""

    def __init__(self, frame, rate_hz: float) -> None:
        self.context = Context()
        rclpy.init(args=[], context=self.context)
        self.node = Node("bench_perception_driver", context=self.context)
        qos = qos_profile_sensor_data
        self.pub_c = self.node.create_publisher(Image, f"{NS}/color/image_raw", qos)
        self.pub_d = self.node.create_publisher(Image, f"{NS}/aligned_depth_to_color/image_raw",
                                                qos)
        self.pub_i = self.node.create_publisher(CameraInfo, f"{NS}/color/camera_info", qos)
        reliable = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_q = self.node.create_publisher(String, "/spatial/instruction", reliable)
        self.node.create_subscription(String, "/spatial/result", self._on_result, reliable)
        self.results: dict[str, tuple[float, dict]] = {}
        self.cond = threading.Condition()
        self.frame, self.period = frame, 1.0 / rate_hz
        self.published = 0
        self.info = CameraInfo()
        for key, value in camera_info_fields(frame.intrinsics).items():
            setattr(self.info, key, value)
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self.executor.spin, daemon=True),
                         threading.Thread(target=self._camera, daemon=True)]
        for t in self._threads:
            t.start()

    def _camera(self) -> None:
        next_t = time.monotonic()
        fid = "camera_color_optical_frame"
        while not self._stop.is_set():
            stamp = self.node.get_clock().now().to_msg()
            self.info.header.stamp, self.info.header.frame_id = stamp, fid
            self.pub_c.publish(numpy_to_image(self.frame.rgb, "rgb8", stamp, fid))
            self.pub_d.publish(numpy_to_image(self.frame.depth_mm, "16UC1", stamp, fid))
            self.pub_i.publish(self.info)
            self.published += 1
            next_t += self.period
            time.sleep(max(0.0, next_t - time.monotonic()))

    def _on_result(self, msg: String) -> None:
        data = json.loads(msg.data)
        with self.cond:
            self.results[data["request_id"]] = (time.perf_counter(), data)
            self.cond.notify_all()

    def ask(self, rid: str, text: str, timeout: float = 10.0) -> tuple[float, dict] | None:
        t0 = time.perf_counter()
        self.pub_q.publish(String(data=json.dumps({"id": rid, "text": text})))
        with self.cond:
            if not self.cond.wait_for(lambda: rid in self.results, timeout):
                return None
            t1, data = self.results.pop(rid)
        return (t1 - t0) * 1e3, data

    def close(self) -> None:
        self._stop.set()
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def _rss(ps: psutil.Process) -> int:
    """The node's resident memory, its inference child process included."""
    procs = [ps, *ps.children(recursive=True)]
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def node_runs(args, frame, stats: dict | None = None) -> str:
    cmd = [sys.executable, "-m", "spatial_ros.nodes.perception_node", "--ros-args",
           "-p", f"referrer:={args.referrer}", "-p", f"device:={args.device}",
           "-p", "max_frame_age_s:=0.0", "-p", "publish_debug_image:=true",
           "-p", f"torch_threads:={args.torch_threads}",
           "-p", f"inference_process:={str(not args.in_process).lower()}",
           "-p", f"compile_model:={str(not args.no_compile).lower()}",
           "-p", f"attribute_check:={str(not args.no_check).lower()}",
           "-p", f"extrinsics_translation:={frame.camera_to_base.translation.tolist()}",
           "-p", f"extrinsics_quaternion_xyzw:={frame.camera_to_base.to_quat()[1].tolist()}"]
    if args.model_path:
        cmd += ["-p", f"model_path:={args.model_path}"]
    log = open(os.devnull, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    driver = Driver(frame, args.rate)
    try:
        ps = psutil.Process(proc.pid)
        deadline = time.monotonic() + 90
        while driver.pub_q.get_subscription_count() == 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("perception node did not come up")
            time.sleep(0.2)
        for i in range(200):  # warm-up (model compilation: a minute) until it answers
            r = driver.ask(f"warm{i}", INSTRUCTIONS[0], timeout=30.0)
            if r and not r[1]["error"]:
                break
            if r and "no synchronised" not in r[1]["error"]:
                raise SystemExit(f"node error: {r[1]['error']}")
            time.sleep(0.25)
        for i in range(5):
            driver.ask(f"warm-b{i}", INSTRUCTIONS[i % 4])

        rtt, node_lat, pipe_lat, model_lat, errors = [], [], [], [], 0
        for i in range(args.requests):
            r = driver.ask(f"lat{i}", INSTRUCTIONS[i % len(INSTRUCTIONS)])
            if r is None or r[1]["error"]:
                errors += 1
                continue
            rtt.append(r[0])
            node_lat.append(r[1]["latency_ms"])
            pipe_lat.append(r[1]["timings_ms"]["total"])
            model_lat.append(r[1]["timings_ms"].get("refer.model", float("nan")))
            time.sleep(0.05)
        lat = ["", f"Instruction -> result over DDS ({args.requests} requests, camera at "
               f"{args.rate:.0f} Hz, referrer {args.referrer}, {errors} errors; ms)", "",
               "| measure | p50 | p95 | p95/p50 |", "|---|---|---|---|"]
        for label, values in ((NODE_LATENCY, node_lat),
                              ("client round trip", rtt),
                              ("of which the pipeline (PerceptionPipeline.run)", pipe_lat),
                              ("of which the model forward", model_lat)):
            p50, p95 = pct(values, 50), pct(values, 95)
            lat.append(f"| {label} | {p50:.1f} | {p95:.1f} | {p95 / p50:.2f}x |")
            if stats is not None:
                stats[label] = (p50, p95)

        # sustained run
        rss0 = _rss(ps)
        pub0, t_start = driver.published, time.monotonic()
        samples = [(0.0, rss0)]
        answered, failed, k = 0, 0, 0
        while time.monotonic() - t_start < args.duration:
            r = driver.ask(f"s{k}", INSTRUCTIONS[k % len(INSTRUCTIONS)])
            k += 1
            answered += bool(r and not r[1]["error"])
            failed += not (r and not r[1]["error"])
            time.sleep(1.0)
            samples.append((time.monotonic() - t_start, _rss(ps)))
        elapsed = time.monotonic() - t_start
        rate = (driver.published - pub0) / elapsed
        rss1 = samples[-1][1]
        mid = samples[len(samples) // 2][1]
        mem = ["", f"Sustained RGB-D for {elapsed:.0f} s at {rate:.1f} Hz published "
               f"(640x480 rgb8 + 16UC1), {answered} instructions answered, {failed} failed", "",
               "| node resident memory (with its child) | MiB | vs start |", "|---|---|---|",
               f"| start | {rss0 / 2**20:.1f} | 1.00x |",
               f"| middle | {mid / 2**20:.1f} | {mid / rss0:.3f}x |",
               f"| end | {rss1 / 2**20:.1f} | {rss1 / rss0:.3f}x |",
               f"| max | {max(s[1] for s in samples) / 2**20:.1f} | "
               f"{max(s[1] for s in samples) / rss0:.3f}x |"]
        return "\n".join(lat + mem)
    finally:
        driver.close()
        proc.send_signal(2)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# --compare: the args attribute flipped, and what the default and the other run are called
COMPARISONS = {"inference-process": ("in_process", "child process", "node process"),
               "compile": ("no_compile", "compiled", "eager"),
               "check": ("no_check", "checked", "unchecked")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 s sustained, 30 requests")
    ap.add_argument("--duration", type=float, default=300.0, help="sustained run, seconds")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--stage-runs", type=int, default=30)
    ap.add_argument("--rate", type=float, default=30.0, help="camera rate, Hz")
    ap.add_argument("--referrer", default="model", choices=("model", "geometric"))
    ap.add_argument("--model-path", default="")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="the node's CPU inference threads (0 = all cores)")
    ap.add_argument("--in-process", action="store_true",
                    help="node param inference_process:=false (the pipeline shares the node's "
                         "process and GIL)")
    ap.add_argument("--no-compile", action="store_true",
                    help="node param compile_model:=false (eager PyTorch model)")
    ap.add_argument("--no-check", action="store_true",
                    help="node param attribute_check:=false (the model's answers unchecked)")
    ap.add_argument("--compare", choices=sorted(COMPARISONS),
                    help="run the node twice, default then the other setting, and print the "
                         "latency ratio")
    ap.add_argument("--node-only", action="store_true",
                    help="skip the in-process stage and depth-refinement tables")
    args = ap.parse_args(argv)
    if args.quick:
        args.duration, args.requests, args.stage_runs = 20.0, 30, 10
    frame = render(noise_mm=1.0, hole_fraction=0.01)
    where = "in the node process" if args.in_process else "in a child process"
    model = "eager" if args.no_compile else "compiled"
    if args.compare != "check" and args.referrer == "model":
        model += ", unchecked" if args.no_check else ", answers checked"
    if args.compare:
        attr, default, other = COMPARISONS[args.compare]
        where = f"{default} vs {other}" if attr == "in_process" else where
        model = f"{default} vs {other}" if attr == "no_compile" else model
        model += f", {default} vs {other}" if attr == "no_check" else ""
    print(f"# Perception benchmark ({os.cpu_count()} CPU cores, torch threads "
          f"{__import__('torch').get_num_threads()}, node torch_threads {args.torch_threads}, "
          f"inference {where}, model {model})\n")
    if not args.node_only:
        print(stage_table(args, frame))
        print(refine_accuracy_table(list(range(2 if args.quick else 8))))
    if not args.compare:
        print(node_runs(args, frame))
        return 0
    stats: dict[bool, dict] = {}
    for flipped in (False, True):  # same settings, one after the other
        setattr(args, attr, flipped)
        stats[flipped] = {}
        print(f"\n## {other if flipped else default}")
        print(node_runs(args, frame, stats[flipped]))
    print(f"\n## {default} vs {other} (node latency, ms)\n\n| measure | {default} | {other} | "
          f"{other} / {default} |\n|---|---|---|---|")
    for i, name in enumerate(("p50", "p95")):
        a, b = stats[False][NODE_LATENCY][i], stats[True][NODE_LATENCY][i]
        print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
