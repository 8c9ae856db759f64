"""The footprint benchmark (bench/bench_footprint.py) runs end to end on real MuJoCo frames
and writes its table and chart."""

from __future__ import annotations

from bench_script import load_bench


def test_bench_footprint_prints_before_and_now_and_writes_the_chart(tmp_path, capsys):
    bench = load_bench("bench_footprint")
    assert bench.main(["--robots", "franka", "--scenes", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "->" in line]
    assert len(rows) >= 3  # several object kinds, each "before -> now"
    assert "median time per footprint: before" in out
    assert (tmp_path / "footprint_accuracy.png").stat().st_size > 1000
