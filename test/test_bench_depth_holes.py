"""The depth-hole benchmark (bench/bench_depth_holes.py): its hole patterns and calibration
error, and one end-to-end run with the shipped model on two fresh scenes."""

from __future__ import annotations

import numpy as np
import pytest
from bench_script import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("bench_depth_holes")


@pytest.mark.parametrize("pattern", ["pixels", "blobs"])
def test_holes_cover_the_asked_share_and_leave_the_rest(bench, pattern):
    depth = np.full((480, 640), 0.8, np.float32)
    holed = bench.punch_holes(depth, 0.6, pattern, np.random.default_rng(0))
    share = float((holed == 0).mean())
    assert 0.55 < share < 0.75 and np.all(holed[holed > 0] == 0.8)
    assert np.array_equal(bench.punch_holes(depth, 0.0, pattern, None), depth)


def test_calibration_error_is_zero_when_confidence_matches_success(bench):
    conf = np.array([0.25] * 4 + [0.75] * 4)
    right = np.array([1, 0, 0, 0, 1, 1, 1, 0], float)
    assert bench.expected_calibration_error(conf, right) == pytest.approx(0.0)
    assert bench.expected_calibration_error(np.ones(4), np.zeros(4)) == pytest.approx(1.0)


def test_the_benchmark_runs_and_plots(bench, tmp_path, capsys, one_torch_thread):
    assert bench.main(["--scenes", "2", "--threads", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "%" in line]
    assert len(rows) == 7  # clean + 3 shares x 2 patterns
    assert (tmp_path / "depth_holes.png").stat().st_size > 1000
