"""``sim`` node: the MuJoCo world as a robot + RealSense, over the same topics as the real ones.

Physics runs in a worker thread (paced by ``real_time_factor``; 0 = as fast as possible) and
publishes ``/clock``, ``/joint_states`` and ground truth as simulated time passes. Camera
frames are rendered in a second thread from a snapshot of the state, so a slow renderer drops
frames instead of slowing physics. Subscriptions only validate and hand commands to
``Simulation``; a bad message is logged and ignored.

Topics (defaults): ``/camera/camera/color/image_raw`` (rgb8),
``/camera/camera/aligned_depth_to_color/image_raw`` (16UC1 mm), both ``camera_info``;
``/joint_states``; ``/joint_trajectory_controller/joint_trajectory`` (in);
``/gripper/command`` (std_msgs/Float64 opening in metres, in; G1 also
``/gripper/<left_arm|right_arm>/command``); ``/sim/objects``
(std_msgs/String JSON, GROUND TRUTH for tests and success checks); ``/sim/camera_pose``
(PoseStamped, ground-truth camera optical frame in the base frame); ``/sim/reset``
(std_msgs/Int32 seed, -1 = same seed, in).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import fields

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64, Int32, String
from trajectory_msgs.msg import JointTrajectory

from spatial_ros.geometry.intrinsics import camera_info_fields
from spatial_ros.nodes.image_conv import numpy_to_image
from spatial_ros.nodes.runtime import qos_from_name, run_node
from spatial_ros.sim.sim_params import NODE_NAME, SimParams

# One ROS parameter per SimParams field, defaults from the dataclass (a table, so tools and
# tests can read the parameter names from the source).
PARAMETERS = {
    "robot": SimParams.robot,
    "seed": SimParams.seed,
    "n_objects": SimParams.n_objects,
    "camera_mount": SimParams.camera_mount,
    "camera_width": SimParams.camera_width,
    "camera_height": SimParams.camera_height,
    "camera_fps": SimParams.camera_fps,
    "camera_pitch_deg": SimParams.camera_pitch_deg,
    "camera_distance": SimParams.camera_distance,
    "camera_yaw_deg": SimParams.camera_yaw_deg,
    "depth_noise": SimParams.depth_noise,
    "shadows": SimParams.shadows,
    "randomize": SimParams.randomize,
    "real_time_factor": SimParams.real_time_factor,
    "physics_dt": SimParams.physics_dt,
    "joint_state_rate": SimParams.joint_state_rate,
    "ground_truth_rate": SimParams.ground_truth_rate,
    "publish_clock": SimParams.publish_clock,
    "camera_namespace": SimParams.camera_namespace,
    "camera_frame": SimParams.camera_frame,
    "base_frame": SimParams.base_frame,
    "image_qos": SimParams.image_qos,
    "controller_name": SimParams.controller_name,
    "gripper_topic": SimParams.gripper_topic,
    "ground_truth_topic": SimParams.ground_truth_topic,
}
if set(PARAMETERS) != {f.name for f in fields(SimParams)}:  # keep the table complete
    raise RuntimeError("sim_node.PARAMETERS is out of sync with SimParams")


def _duration_s(d) -> float:
    return float(d.sec) + float(d.nanosec) * 1e-9


class SimNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.params = self._declare_params()
        self.params.validate()
        p = self.params
        self._stop = threading.Event()
        self._frame_due = threading.Event()
        self.sim = None  # replaced whole on reset; the threads pick up the new one
        self._build(p.seed)

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        image_qos = qos_from_name(p.image_qos)
        ns = p.camera_namespace.rstrip("/")
        self.pub_color = self.create_publisher(Image, f"{ns}/color/image_raw", image_qos)
        self.pub_depth = self.create_publisher(
            Image, f"{ns}/aligned_depth_to_color/image_raw", image_qos)
        self.pub_color_info = self.create_publisher(CameraInfo, f"{ns}/color/camera_info",
                                                    image_qos)
        self.pub_depth_info = self.create_publisher(
            CameraInfo, f"{ns}/aligned_depth_to_color/camera_info", image_qos)
        self.pub_joints = self.create_publisher(JointState, "/joint_states", reliable)
        self.pub_truth = self.create_publisher(String, p.ground_truth_topic, reliable)
        self.pub_cam_pose = self.create_publisher(PoseStamped, "/sim/camera_pose", reliable)
        self.pub_clock = (self.create_publisher(Clock, "/clock", reliable)
                          if p.publish_clock else None)
        self.create_subscription(JointTrajectory, f"/{p.controller_name}/joint_trajectory",
                                 self._on_trajectory, reliable)
        self.create_subscription(Float64, p.gripper_topic, self._gripper_cb(None), reliable)
        robot = self.sim.world.robot
        if robot is not None and len(robot.groups) > 1:  # G1: one gripper topic per arm too
            base = p.gripper_topic.rsplit("/", 1)[0]
            for group in robot.groups:
                self.create_subscription(Float64, f"{base}/{group}/command",
                                         self._gripper_cb(group), reliable)
        self.create_subscription(Int32, "/sim/reset", self._on_reset, reliable)

        self._physics = threading.Thread(target=self._physics_loop, name="sim-physics",
                                         daemon=True)
        self._render = threading.Thread(target=self._render_loop, name="sim-render",
                                        daemon=True)
        self._physics.start()
        self._render.start()
        self.get_logger().info(
            f"sim ready: robot={p.robot} seed={p.seed} objects={p.n_objects} "
            f"camera={p.camera_mount} {p.camera_width}x{p.camera_height}@{p.camera_fps}Hz "
            f"rtf={p.real_time_factor or 'max'}")

    # ------------------------------------------------------------------ setup
    def _declare_params(self) -> SimParams:
        return SimParams(**{name: self.declare_parameter(name, default).value
                            for name, default in PARAMETERS.items()})

    def _build(self, seed: int) -> None:
        from spatial_ros.sim.randomization import DomainRandomizer
        from spatial_ros.sim.simulation import Simulation
        from spatial_ros.sim.world import build_world

        p = self.params
        robot = None if p.robot == "none" else p.robot
        world = build_world(p.world_config(), robot=robot, seed=seed)
        if p.randomize:
            DomainRandomizer(world).apply(np.random.default_rng(seed))
        self.seed = seed
        self.sim = Simulation(world)

    # ------------------------------------------------------------------ callbacks
    def _on_trajectory(self, msg: JointTrajectory) -> None:
        if not msg.points:  # joint_trajectory_controller: an empty trajectory stops the arm
            self.sim.cancel()
            self.get_logger().info("empty trajectory: motion stopped, holding position")
            return
        try:
            times = [_duration_s(pt.time_from_start) for pt in msg.points]
            positions = [list(pt.positions) for pt in msg.points]
            velocities = [list(pt.velocities) for pt in msg.points]
            duration = self.sim.command_trajectory(list(msg.joint_names), times, positions,
                                                   velocities if all(velocities) else None)
            self.get_logger().info(f"trajectory accepted: {len(msg.points)} points, "
                                   f"{duration:.2f} s")
        except Exception as exc:  # a bad command never kills the node
            self.get_logger().error(f"trajectory rejected: {exc}")

    def _gripper_cb(self, group: str | None):
        def on_gripper(msg: Float64) -> None:
            try:
                self.sim.command_gripper(float(msg.data), group)
            except Exception as exc:
                self.get_logger().error(f"gripper command rejected: {exc}")
        return on_gripper

    def _on_reset(self, msg: Int32) -> None:
        try:
            seed = self.seed if msg.data < 0 else int(msg.data)
            self._build(seed)
            self.get_logger().info(f"world reset with seed {seed}")
        except Exception as exc:
            self.get_logger().error(f"reset failed: {exc}")

    # ------------------------------------------------------------------ threads
    def _stamp(self, sim_time: float) -> Time:
        if self.params.publish_clock:
            sec = int(sim_time)
            return Time(sec=sec, nanosec=round((sim_time - sec) * 1e9) % 1_000_000_000)
        return self.get_clock().now().to_msg()

    def _physics_loop(self) -> None:
        p = self.params
        chunk_s = 0.005  # physics advances in 5 ms slices between pacing/publishing checks
        next_js = next_gt = next_frame = 0.0
        last_clock = 0.0
        wall0, sim0, current = time.monotonic(), None, None
        while not self._stop.is_set():
            sim = self.sim
            if sim is not current:  # (re)started: restart pacing and schedules
                current, sim0, wall0 = sim, sim.time, time.monotonic()
                next_js = next_gt = next_frame = sim.time
            try:
                n = max(1, round(chunk_s / sim.world.model.opt.timestep))
                sim.step(n)
                t = sim.time
                now = time.monotonic()
                # /clock every slice, but at most at 500 Hz of wall time when running fast
                if self.pub_clock is not None and now - last_clock >= 0.002:
                    last_clock = now
                    self.pub_clock.publish(Clock(clock=self._stamp(t)))
                if t >= next_js:
                    next_js = t + 1.0 / p.joint_state_rate
                    self._publish_joint_state(sim)
                if t >= next_gt:
                    next_gt = t + 1.0 / p.ground_truth_rate
                    self._publish_ground_truth(sim)
                if t >= next_frame:
                    next_frame = t + 1.0 / p.camera_fps
                    self._frame_due.set()
            except Exception as exc:  # keep simulating; report the failure
                if self._stop.is_set() or not self.context.ok():
                    break
                self.get_logger().error(f"physics step failed: {exc}")
                time.sleep(0.1)
            if p.real_time_factor > 0:
                ahead = (sim.time - sim0) / p.real_time_factor - (time.monotonic() - wall0)
                if ahead > 0:
                    time.sleep(ahead)
                elif ahead < -0.1:  # fell behind (slow CPU): go on from now, no catch-up burst
                    sim0, wall0 = sim.time, time.monotonic()
            else:
                time.sleep(0)  # let the other threads have the GIL

    def _render_loop(self) -> None:
        from spatial_ros.sim.camera import SimRealSense

        camera, current, snapshot = None, None, None
        try:
            while not self._stop.is_set():
                if not self._frame_due.wait(timeout=0.2):
                    continue
                self._frame_due.clear()
                sim = self.sim
                try:
                    if sim is not current:
                        if camera is not None:
                            camera.close()
                        camera = SimRealSense(sim.world, seed=self.seed)
                        snapshot = sim.new_snapshot()
                        current = sim
                    sim.snapshot(snapshot)
                    frame = camera.render(snapshot, segmentation=self.params.depth_noise)
                    self._publish_frame(frame, sim)
                except Exception as exc:
                    if self._stop.is_set() or not self.context.ok():
                        break
                    self.get_logger().error(f"camera render failed: {exc}")
                    time.sleep(0.1)
        finally:
            if camera is not None:
                camera.close()

    # ------------------------------------------------------------------ publishing
    def _publish_frame(self, frame, sim) -> None:
        p = self.params
        stamp = self._stamp(frame.stamp)
        self.pub_color.publish(numpy_to_image(frame.rgb, "rgb8", stamp, p.camera_frame))
        self.pub_depth.publish(numpy_to_image(frame.depth_mm, "16UC1", stamp, p.camera_frame))
        info = CameraInfo()
        info.header.stamp = stamp
        info.header.frame_id = p.camera_frame
        for key, value in camera_info_fields(frame.intrinsics).items():
            setattr(info, key, value)
        self.pub_color_info.publish(info)
        self.pub_depth_info.publish(info)
        pose = np.linalg.inv(sim.world.base_pose) @ frame.camera_pose
        msg = PoseStamped()
        msg.header.stamp = stamp
        msg.header.frame_id = p.base_frame
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = pose[:3, 3].tolist()
        q = Rotation.from_matrix(pose[:3, :3]).as_quat()
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = (float(v) for v in q)
        self.pub_cam_pose.publish(msg)

    def _publish_joint_state(self, sim) -> None:
        js = sim.joint_state()
        msg = JointState()
        msg.header.stamp = self._stamp(js.stamp)
        msg.name, msg.position, msg.velocity, msg.effort = (js.names, js.position, js.velocity,
                                                            js.effort)
        self.pub_joints.publish(msg)

    def _publish_ground_truth(self, sim) -> None:
        with sim.lock:
            truth = sim.world.ground_truth("base")
        truth["ground_truth"] = True
        truth["base_frame"] = self.params.base_frame
        truth["robot"] = self.params.robot
        truth["busy"] = sim.busy
        self.pub_truth.publish(String(data=json.dumps(truth)))

    def close(self) -> None:
        self._stop.set()
        self._frame_due.set()
        for thread in (self._physics, self._render):
            thread.join(timeout=5.0)


def main(argv: list[str] | None = None) -> int:
    return run_node(SimNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
