"""Shared by subcommands: bad input ends with one clear line and exit code 2, no traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def reporting_errors(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace],
                                                                          int]:
    """Wraps a handler so missing files and malformed datasets/bags print ``error: ...``."""
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return run
