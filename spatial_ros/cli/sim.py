"""``spatial-ros sim``: render a simulated RGB-D frame to PNGs, or run the sim node."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time


def _render(args: argparse.Namespace) -> int:
    try:
        return _render_frame(args)
    except ValueError as exc:  # bad options or an impossible scene: say which, no traceback
        print(f"spatial-ros sim render: error: {exc}")
        return 2


def _render_frame(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import numpy as np

    from spatial_ros.sim.camera import SimRealSense
    from spatial_ros.sim.randomization import DomainRandomizer
    from spatial_ros.sim.render import save_frame
    from spatial_ros.sim.sim_params import SimParams

    params = SimParams(robot=args.robot, seed=args.seed, n_objects=args.n_objects,
                       camera_mount=args.mount, camera_width=args.width,
                       camera_height=args.height, depth_noise=not args.no_noise,
                       shadows=not args.no_shadows)
    params.validate()
    cfg = params.world_config()
    if args.pitch is not None:
        cfg.camera = replace(cfg.camera, pitch_deg=args.pitch)
    from spatial_ros.sim.world import build_world

    t0 = time.perf_counter()
    world = build_world(cfg, robot=None if args.robot == "none" else args.robot, seed=args.seed)
    if args.randomize:
        DomainRandomizer(world).apply(np.random.default_rng(args.seed))
    t1 = time.perf_counter()
    with SimRealSense(world, seed=args.seed) as camera:
        frame = camera.render()
    t2 = time.perf_counter()
    paths = save_frame(frame, world, args.out)
    print(f"scene seed {args.seed}: {', '.join(o.name for o in world.objects)}")
    print(f"built+settled in {t1 - t0:.2f} s, rendered in {t2 - t1:.2f} s "
          f"(first render includes GL setup)")
    from scipy.spatial.transform import Rotation

    cam = np.linalg.inv(world.base_pose) @ frame.camera_pose
    quat = Rotation.from_matrix(cam[:3, :3]).as_quat()
    print(f"camera_color_optical_frame in base_link: translation "
          f"{np.round(cam[:3, 3], 4).tolist()} quaternion_xyzw {np.round(quat, 4).tolist()}")
    for name, path in paths.items():
        print(f"  {name:<9} {path}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from spatial_ros.nodes.sim_node import main as sim_main

    argv = ["sim_node", "--ros-args"]
    if args.params_file:
        argv += ["--params-file", args.params_file]
    overrides = {"robot": args.robot, "seed": args.seed, "n_objects": args.n_objects,
                 "camera_mount": args.mount, "real_time_factor": args.rate}
    for key, value in overrides.items():
        if value is not None:
            argv += ["-p", f"{key}:={value}"]
    if args.duration:
        timer = threading.Timer(args.duration, os.kill, (os.getpid(), signal.SIGINT))
        timer.daemon = True  # an earlier Ctrl-C must not wait for it
        timer.start()
    return sim_main(argv)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="MuJoCo tabletop: render a frame or run the sim node")
    sp = p.add_subparsers(dest="sim_command", metavar="SIM_COMMAND")

    r = sp.add_parser("render", help="save rgb/depth/mask overlay PNGs of one scene")
    r.add_argument("--robot", default="ur5", choices=["none", "ur5", "franka", "g1"])
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--n-objects", type=int, default=6)
    r.add_argument("--mount", default="table", choices=["table", "wrist"])
    r.add_argument("--width", type=int, default=640)
    r.add_argument("--height", type=int, default=480)
    r.add_argument("--pitch", type=float, default=None, help="table camera pitch (degrees)")
    r.add_argument("--no-noise", action="store_true", help="exact depth (no D435 noise)")
    r.add_argument("--randomize", action="store_true", help="apply domain randomization")
    r.add_argument("--no-shadows", action="store_true", help="faster CPU rendering")
    r.add_argument("--out", required=True, help="output directory")
    r.set_defaults(func=_render)

    n = sp.add_parser("run", help="run the sim node (camera topics, joint_states, trajectories)")
    n.add_argument("--params-file", default=None, help="ROS params file, e.g. config/sim.yaml")
    n.add_argument("--robot", default=None, choices=["none", "ur5", "franka", "g1"])
    n.add_argument("--seed", type=int, default=None)
    n.add_argument("--n-objects", type=int, default=None)
    n.add_argument("--mount", default=None, choices=["table", "wrist"])
    n.add_argument("--rate", type=float, default=None,
                   help="real-time factor (0 = as fast as possible)")
    n.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    n.set_defaults(func=_run)
    p.set_defaults(func=lambda args: p.print_help() or 0)
