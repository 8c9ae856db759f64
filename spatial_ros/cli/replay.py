"""``spatial-ros replay``: plays a rosbag2 (MCAP or sqlite3) like ``ros2 bag play``."""

from __future__ import annotations

import argparse


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bag", help="bag folder (with metadata.yaml)")
    p.add_argument("-r", "--rate", type=float, default=1.0, help="playback speed factor")
    p.add_argument("-l", "--loop", action="store_true", help="play again and again")
    p.add_argument("--start", type=float, default=0.0, help="start this many seconds in")
    p.add_argument("--topics", nargs="+", default=None, help="only these topics")
    p.add_argument("--remap", nargs="+", default=None, metavar="OLD:=NEW",
                   help="publish topic OLD as NEW")
    p.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to this long for a subscriber on every topic before playing")
    p.add_argument("--delay", type=float, default=0.0, help="sleep this long before playing")
    p.add_argument("--clock", type=float, nargs="?", const=40.0, default=0.0, metavar="HZ",
                   help="publish bag time on /clock (default 40 Hz when given), for "
                   "use_sim_time consumers")
    p.add_argument("--qos-reliability", choices=("auto", "reliable", "best_effort"),
                   default="auto", help="offer this reliability instead of the recorded "
                   "publishers' (auto); 'reliable' makes large images lossless for reliable "
                   "subscribers")


def build() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spatial-ros replay", description=__doc__)
    _add_arguments(p)
    return p


def run(args: argparse.Namespace) -> int:
    from spatial_ros.bags.reader import parse_remaps
    from spatial_ros.bags.writer import BagError
    from spatial_ros.nodes.bag_player import play

    try:
        play(args.bag, args.topics, parse_remaps(args.remap), args.rate, args.loop, args.start,
             args.wait_for_subscribers, args.delay, args.qos_reliability, args.clock)
    except BagError as exc:
        print(f"error: {exc}")
        return 2
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("replay", help="play a rosbag2 back onto ROS topics",
                              description=__doc__)
    _add_arguments(p)
    p.set_defaults(func=run)
