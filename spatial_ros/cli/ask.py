"""``spatial-ros ask "the red cup left of the bowl"``: ask the running perception node.

Publishes the instruction (with a request id) on /spatial/instruction, prints the JSON
result, optionally saves the debug overlay. Exit code 0 = answered, 1 = answered with an
error, 2 = no answer (no node, timeout).
"""

from __future__ import annotations

import argparse
import json
import sys


def run(args: argparse.Namespace) -> int:
    from spatial_ros.nodes.perception_client import ask  # lazily: rclpy lives in nodes/

    reply = ask(args.instruction, timeout=args.timeout, want_overlay=bool(args.save_overlay),
                instruction_topic=args.instruction_topic,
                output_namespace=args.output_namespace, request_id=args.id)
    if reply.result is None:
        print(f"error: {reply.error}", file=sys.stderr)
        return 2
    print(json.dumps(reply.result, indent=2))
    if args.save_overlay:
        if reply.overlay is None:
            print("warning: no debug image received for this result (no frame, or "
                  "publish_debug_image is false)", file=sys.stderr)
        else:
            from PIL import Image

            Image.fromarray(reply.overlay).save(args.save_overlay)
            print(f"overlay saved to {args.save_overlay}", file=sys.stderr)
    return 1 if reply.result.get("error") else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="send an instruction to the perception node, print the result")
    p.add_argument("instruction", help='e.g. "the red cup left of the bowl"')
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")
    p.add_argument("--save-overlay", metavar="PATH", help="save the debug image as PNG")
    p.add_argument("--id", help="request id (default: random)")
    p.add_argument("--instruction-topic", default="/spatial/instruction")
    p.add_argument("--output-namespace", default="/spatial")
    p.set_defaults(func=run)
