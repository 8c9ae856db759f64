"""The footprint benchmark (bench/bench_footprint.py) runs end to end on real MuJoCo frames
and writes its table and chart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "bench_footprint.py"


def test_bench_footprint_prints_before_and_now_and_writes_the_chart(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_footprint", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--robots", "franka", "--scenes", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "->" in line]
    assert len(rows) >= 3  # several object kinds, each "before -> now"
    assert "median time per footprint: before" in out
    assert (tmp_path / "footprint_accuracy.png").stat().st_size > 1000
