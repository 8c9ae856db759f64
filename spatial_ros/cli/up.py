"""``spatial-ros up``: the bring-up graph of the launch files, as real processes, without
the ROS launch system (absent from the PyPI ROS wheels)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from spatial_ros.bringup.graph import BringupOptions, bringup_graph
    from spatial_ros.bringup.process_group import ProcessGroup

    opts = BringupOptions(robot=args.robot, sim=args.sim, backend=args.backend or "",
                          camera=args.camera, model=args.model or "", referrer=args.referrer,
                          device=args.device,
                          use_sim_time=args.use_sim_time or args.sim, rviz=args.rviz,
                          seed=args.seed)
    specs = bringup_graph(opts)
    print("bringing up: " + ", ".join(f"{s.name} ({s.package}/{s.executable})" for s in specs))
    group = ProcessGroup(specs)
    group.start()
    if group.skipped:
        print(f"not started here (need a ROS install): {', '.join(group.skipped)}")
    return group.wait(duration=args.duration)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="bring up camera/sim, perception and executor as processes")
    p.add_argument("--robot", default="ur5", choices=["ur5", "franka", "g1"])
    p.add_argument("--sim", action="store_true", help="MuJoCo sim node instead of camera+robot")
    p.add_argument("--backend", default=None, help="sim | moveit | trajectory | unitree")
    p.add_argument("--camera", default="spatial_ros", choices=["spatial_ros", "realsense2",
                                                               "none"])
    p.add_argument("--model", default=None, help="checkpoint directory (default: shipped)")
    p.add_argument("--referrer", default="model", choices=["model", "geometric"],
                   help="perception: the learned model or the weights-free geometric baseline")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--use-sim-time", action="store_true")
    p.add_argument("--rviz", action="store_true")
    p.add_argument("--seed", type=int, default=0, help="sim scene seed")
    p.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    p.set_defaults(func=run)
