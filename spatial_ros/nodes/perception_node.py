"""Perception node: instruction + newest synchronised RGB-D frame -> /spatial/* answers.

Image callbacks only timestamp-queue messages (cheap at 30 Hz); instructions go into a
bounded request queue served by one worker thread, so inference never blocks the
subscriptions and a flood of instructions is refused ("busy") rather than buffered
without bound. Every instruction gets a result on ``<output_namespace>/result``; bad
input becomes its ``error`` field and the node keeps serving. Output stamps are the
frame's stamp, so replayed bags (use_sim_time) behave like a live camera.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from dataclasses import fields

import numpy as np
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.nodes.frame_sync import FrameSynchronizer, SyncedFrame
from spatial_ros.nodes.image_conv import image_to_numpy, numpy_to_image
from spatial_ros.nodes.markers import result_markers
from spatial_ros.nodes.runtime import qos_from_name, run_node
from spatial_ros.perception.config import NODE_NAME, PerceptionParams
from spatial_ros.perception.extrinsics import CameraToBase
from spatial_ros.perception.overlay import draw_overlay
from spatial_ros.perception.pipeline import (
    PerceptionError,
    PerceptionPipeline,
    check_instruction,
)
from spatial_ros.perception.pipeline_process import (
    PipelineProcess,
    PipelineSpec,
    build_pipeline,
    timed_warm_up,
)
from spatial_ros.perception.request import Request, decode_utf8, parse_request, string_from_cdr
from spatial_ros.perception.result import PerceptionResult


def _stamp_ns(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


class PerceptionNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.params = self._declare_params()
        p = self.params
        self.pipeline = self._make_pipeline()
        self.sync = FrameSynchronizer(int(p.sync_slop_s * 1e9), p.sync_queue_size)
        self.received = {"color": 0, "depth": 0, "info": 0}
        self._ids = itertools.count(1)
        self._requests: queue.Queue[tuple[Request, float]] = queue.Queue(p.request_queue_size)
        self._stop = threading.Event()
        self._tf = self._make_tf() if p.use_tf else None

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        # deep history: a burst of (busy) answers must all reach a slow subscriber
        self.pub_result = self.create_publisher(
            String, p.output("result"), QoSProfile(depth=100,
                                                   reliability=ReliabilityPolicy.RELIABLE))
        self.pub_point = self.create_publisher(PointStamped, p.output("target_point"), reliable)
        self.pub_grasp = self.create_publisher(PoseStamped, p.output("grasp_pose"), reliable)
        self.pub_markers = self.create_publisher(MarkerArray, p.output("markers"), reliable)
        self.pub_debug = (self.create_publisher(Image, p.output("debug_image"), reliable)
                          if p.publish_debug_image else None)

        image_qos = qos_from_name(p.image_qos, depth=p.sync_queue_size)
        group = MutuallyExclusiveCallbackGroup()
        for stream, msg_type, topic in (("color", Image, p.color_topic),
                                        ("depth", Image, p.depth_topic),
                                        ("info", CameraInfo, p.info_topic)):
            self.create_subscription(msg_type, p.topic(topic), self._on_frame_cb(stream),
                                     image_qos, callback_group=group)
        # raw=True: we decode the bytes ourselves so non-UTF-8 input is reported, not mangled;
        # deep history so a burst is answered ("busy") rather than silently overwritten
        self.create_subscription(String, p.instruction_topic, self._on_instruction,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE),
                                 raw=True, callback_group=MutuallyExclusiveCallbackGroup())
        self._pose_ext: CameraToBase | None = None
        if p.extrinsics_topic:
            self.create_subscription(PoseStamped, p.extrinsics_topic, self._on_extrinsics,
                                     reliable, callback_group=MutuallyExclusiveCallbackGroup())
        self._worker = threading.Thread(target=self._serve, name="perception-worker",
                                        daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"perception ready: referrer={self.pipeline.referrer_name or 'none'}, camera "
            f"{p.topic(p.color_topic)}, instructions on {p.instruction_topic}, results on "
            f"{p.output('result')}")

    # ---------------------------------------------------------------- setup
    def _declare_params(self) -> PerceptionParams:
        defaults = PerceptionParams()
        values = {}
        for f in fields(PerceptionParams):
            values[f.name] = self.declare_parameter(f.name, getattr(defaults, f.name)).value
        for name in ("extrinsics_translation", "extrinsics_quaternion_xyzw"):
            values[name] = [float(x) for x in values[name]]
        return PerceptionParams(**values)

    def _make_pipeline(self) -> PerceptionPipeline | PipelineProcess:
        p = self.params
        ext = None
        defaults = PerceptionParams()
        if (list(p.extrinsics_translation) != defaults.extrinsics_translation
                or list(p.extrinsics_quaternion_xyzw) != defaults.extrinsics_quaternion_xyzw):
            ext = CameraToBase.from_config(p.extrinsics_config(p.camera_frame))
        self._spec = spec = PipelineSpec(p.referrer, p.model_path, p.device, p.torch_threads,
                                         p.warm_up, p.compile_model, p.pipeline_config(), ext,
                                         p.attribute_check)
        if p.inference_process:
            pipeline = PipelineProcess(spec)
            self.get_logger().info(f"inference runs in child process {pipeline.pid}")
        else:
            pipeline = build_pipeline(spec)
        if pipeline.load_error:  # keep serving: every result will say why
            self.get_logger().error(pipeline.load_error)
        return pipeline

    def _make_tf(self):
        try:
            from tf2_ros import Buffer, TransformListener
        except ImportError:
            self.get_logger().info("tf2_ros not importable: camera->base from parameters")
            return None
        buffer = Buffer()
        self._tf_listener = TransformListener(buffer, self)
        return buffer

    # ---------------------------------------------------------------- callbacks
    def _on_frame_cb(self, stream: str):
        def callback(msg) -> None:
            self.received[stream] += 1
            self.sync.add(stream, _stamp_ns(msg), msg)
        return callback

    def _on_extrinsics(self, msg: PoseStamped) -> None:
        pos, q = msg.pose.position, msg.pose.orientation
        cfg = self.params.extrinsics_config(self.params.camera_frame)
        cfg.base_frame = msg.header.frame_id or self.params.base_frame
        cfg.translation = [pos.x, pos.y, pos.z]
        cfg.quaternion_xyzw = [q.x, q.y, q.z, q.w]
        try:
            self._pose_ext = CameraToBase.from_config(cfg)
        except ValueError as exc:
            self.get_logger().warning(f"ignoring extrinsics on {self.params.extrinsics_topic}: "
                                   f"{exc}", throttle_duration_sec=10.0)

    def _on_instruction(self, raw: bytes) -> None:
        t_received = time.perf_counter()
        fallback_id = f"req-{next(self._ids)}"
        try:
            text = decode_utf8(string_from_cdr(bytes(raw)))
        except ValueError as exc:
            request = Request(fallback_id, "", str(exc))
        else:
            request = parse_request(text, fallback_id)
        try:
            self._requests.put_nowait((request, t_received))
        except queue.Full:
            self._publish_error(request, t_received,
                                f"busy: {self.params.request_queue_size} requests already "
                                f"queued; try again")

    # ---------------------------------------------------------------- worker
    def _warm_up(self) -> None:
        """Before serving (requests queue meanwhile); a child process warms itself up."""
        if self.params.warm_up and self.params.compile_model and self.params.referrer == "model":
            self.get_logger().info("compiling the model (about a minute the first time on a "
                                   "2-core machine; cached for later starts)")
        if isinstance(self.pipeline, PipelineProcess):
            report = self.pipeline.wait_warm_up()
        else:
            report = timed_warm_up(self.pipeline, self._spec)
        if report is None:
            return  # the process failed; the next request restarts it and says why
        ran, seconds, error = report
        if error:
            self.get_logger().warning(error)
        elif ran:
            self.get_logger().info(f"model warmed up in {seconds * 1e3:.0f} ms")

    def _serve(self) -> None:
        self._warm_up()
        while not self._stop.is_set():
            try:
                request, t_received = self._requests.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                self._answer(request, t_received)
            except Exception as exc:  # never let one request kill the worker
                self.get_logger().error(f"request {request.request_id} failed: {exc!r}")
                self._publish_error(request, t_received, f"internal error: {exc!r}")

    def _answer(self, request: Request, t_received: float) -> None:
        if request.error:
            self._publish_error(request, t_received, request.error)
            return
        t_start = time.perf_counter()
        frame = self.sync.latest()
        try:
            check_instruction(request.text, self.params.max_instruction_chars)
            if frame is None:
                raise PerceptionError(self._no_frame_reason())
            self._check_age(frame)
            rgb, depth_m, intr = self._frame_arrays(frame)
        except (PerceptionError, ValueError) as exc:
            self._publish_error(request, t_received, str(exc),
                                frame.stamp_ns if frame else 0)
            return
        camera_frame = self.params.camera_frame or frame.color.header.frame_id
        t_frame = time.perf_counter()
        result = self.pipeline.run(rgb, depth_m, intr, request.text, request.request_id,
                                   frame.stamp_ns, camera_frame,
                                   self._extrinsics(camera_frame, frame))
        t_run = time.perf_counter()
        # where the node's own time goes (the pipeline's stages are in timings_ms already)
        result.timings_ms.update({
            "node.queued": (t_start - t_received) * 1e3,
            "node.frame": (t_frame - t_start) * 1e3,
            "node.handoff": (t_run - t_frame) * 1e3 - result.timings_ms.get("total", 0.0)})
        self._publish(result, t_received, frame, rgb, intr)

    def _no_frame_reason(self) -> str:
        p, n = self.params, self.received
        return (f"no synchronised RGB-D frame yet (received color={n['color']} on "
                f"{p.topic(p.color_topic)}, depth={n['depth']} on {p.topic(p.depth_topic)}, "
                f"camera_info={n['info']} on {p.topic(p.info_topic)})")

    def _check_age(self, frame: SyncedFrame) -> None:
        now = self.get_clock().now().nanoseconds
        limit = self.params.max_frame_age_s
        if limit > 0 and now > 0:  # now == 0: sim time without /clock yet
            age = (now - frame.stamp_ns) / 1e9
            if age > limit:
                hint = ("; camera and node clocks differ: set use_sim_time to match the "
                        "camera, or max_frame_age_s:=0" if age > 3600 else "")
                raise PerceptionError(f"newest RGB-D frame is stale: {age:.2f} s old "
                                      f"(max_frame_age_s={limit}){hint}")

    def _frame_arrays(self, frame: SyncedFrame):
        rgb = image_to_numpy(frame.color)
        if frame.color.encoding == "bgr8":
            rgb = rgb[:, :, ::-1]
        elif frame.color.encoding != "rgb8":
            raise PerceptionError(f"colour image encoding '{frame.color.encoding}' is not "
                                  f"supported (need rgb8 or bgr8)")
        depth = image_to_numpy(frame.depth)
        if frame.depth.encoding in ("16UC1", "mono16"):
            depth_m = depth.astype(np.float32) * np.float32(self.params.depth_scale)
        elif frame.depth.encoding == "32FC1":
            depth_m = np.nan_to_num(depth, nan=0.0, posinf=0.0, neginf=0.0)
        else:
            raise PerceptionError(f"depth encoding '{frame.depth.encoding}' is not supported "
                                  f"(need 16UC1 millimetres or 32FC1 metres)")
        try:
            intr = Intrinsics.from_camera_info(frame.info)
        except ValueError as exc:
            raise PerceptionError(f"bad camera_info: {exc}") from exc
        return np.ascontiguousarray(rgb), depth_m, intr

    def _extrinsics(self, camera_frame: str, frame: SyncedFrame) -> CameraToBase | None:
        p = self.params
        if self._tf is not None:
            try:
                from rclpy.time import Time

                t = self._tf.lookup_transform(p.base_frame, camera_frame,
                                              Time(nanoseconds=frame.stamp_ns))
                tr, q = t.transform.translation, t.transform.rotation
                cfg = p.extrinsics_config(camera_frame)
                cfg.translation = [tr.x, tr.y, tr.z]
                cfg.quaternion_xyzw = [q.x, q.y, q.z, q.w]
                return CameraToBase.from_config(cfg)
            except Exception as exc:
                self.get_logger().warning(f"tf {p.base_frame}<-{camera_frame} unavailable "
                                       f"({exc}); using parameters",
                                       throttle_duration_sec=10.0)
        if self._pose_ext is not None:
            return self._pose_ext
        return self.pipeline.extrinsics  # None when not configured: no base-frame output

    # ---------------------------------------------------------------- output
    def _publish_error(self, request: Request, t_received: float, error: str,
                       stamp_ns: int = 0) -> None:
        result = PerceptionResult(request_id=request.request_id,
                                  instruction=request.text[:512], error=error,
                                  referrer=self.pipeline.referrer_name, stamp_ns=stamp_ns)
        self._publish(result, t_received)

    def _publish(self, result: PerceptionResult, t_received: float,
                 frame: SyncedFrame | None = None, rgb=None, intr=None) -> None:
        if result.error:
            self.get_logger().warning(f"request {result.request_id}: {result.error}")
        stamp = frame.color.header.stamp if frame else self.get_clock().now().to_msg()
        result.latency_ms = (time.perf_counter() - t_received) * 1e3
        self.pub_result.publish(String(data=result.to_json()))  # first: it is the answer
        if result.point_camera is not None and not result.error:
            point = PointStamped()
            point.header.stamp, point.header.frame_id = stamp, result.camera_frame
            point.point.x, point.point.y, point.point.z = result.point_camera
            self.pub_point.publish(point)
        if result.grasp_camera is not None and not result.error:
            pose = PoseStamped()
            pose.header.stamp, pose.header.frame_id = stamp, result.camera_frame
            g = result.grasp_camera
            pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = g.position
            q = pose.pose.orientation
            q.x, q.y, q.z, q.w = g.quaternion_xyzw
            self.pub_grasp.publish(pose)
        self.pub_markers.publish(result_markers(result, stamp))
        if self.pub_debug is not None and rgb is not None:
            overlay = draw_overlay(rgb, result, intr)
            self.pub_debug.publish(numpy_to_image(overlay, "rgb8", stamp,
                                                  result.camera_frame))

    def close(self) -> None:
        self._stop.set()
        if self._worker.is_alive():
            self._worker.join(timeout=2.0)
        if isinstance(self.pipeline, PipelineProcess):
            self.pipeline.close()


def main(argv: list[str] | None = None) -> int:
    return run_node(PerceptionNode, argv, threads=1)


if __name__ == "__main__":
    raise SystemExit(main())
