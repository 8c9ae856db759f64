"""Runs every bench/bench_*.py (with --quick unless --full) and collects their tables.

    .venv/bin/python bench/run_all.py [--full] [--only geometry,sim]

Each benchmark prints a Markdown table; the combined output goes to bench/results/.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full-length runs (slow)")
    parser.add_argument("--only", default="", help="comma-separated name filters")
    args = parser.parse_args()
    filters = [f for f in args.only.split(",") if f]
    scripts = sorted(p for p in HERE.glob("bench_*.py")
                     if not filters or any(f in p.stem for f in filters))
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    failed = []
    for script in scripts:
        cmd = [sys.executable, str(script)] + ([] if args.full else ["--quick"])
        print(f"\n## {script.stem}\n\n`{' '.join(cmd[1:])}`\n", flush=True)
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        print(proc.stdout)
        (out_dir / f"{script.stem}.md").write_text(proc.stdout)
        if proc.returncode != 0:
            failed.append(script.stem)
            print(proc.stderr[-2000:], file=sys.stderr)
        print(f"_{script.stem}: {time.monotonic() - start:.1f} s, exit {proc.returncode}_")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
