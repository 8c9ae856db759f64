"""The executor benchmark's failure reading (bench/bench_executor.py): which runs moved the
wrong object, which dropped theirs, which the runner stopped."""

from __future__ import annotations

import pytest
from bench_script import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("bench_executor")


def _run(moved, error=""):
    return {"instruction": "put the black cube in the brown box, then put the red cylinder "
                           "to the left of the brown box", "error": error, "moved": moved}


@pytest.mark.parametrize("row, why", [
    (_run(["gray cube"]), "moved an object not named in the task (wrong pick or knocked)"),
    (_run(["black cube", "brown cube"]), "moved an object not named in the task "
                                         "(wrong pick or knocked)"),
    (_run(["black cube", "red cylinder"]), "named objects moved, final check failed"),
    (_run([]), "nothing moved"),
    (_run(["black cube"], "pick failed at 'close gripper': grasp failed: the jaws closed"),
     "runner stopped: pick failed at 'close gripper'"),
])
def test_failure_kind_tells_wrong_objects_from_dropped_ones(bench, row, why):
    assert bench.failure_kind(row) == why


def test_grounding_variants_change_one_runner_setting_and_typos_fail(bench):
    source, checkpoint, cfg, check = bench.grounding_config("ur5", "model:footprint_grasp=off")
    assert source == "model" and checkpoint == "" and cfg.runner.footprint_grasp == "off"
    assert check  # the model's answers are checked unless the variant says otherwise
    assert bench.grounding_config("ur5", "geometric")[2].runner.footprint_grasp == "first"
    assert not bench.grounding_config("ur5", "geometric")[3]
    assert not bench.grounding_config("ur5", "model:attribute_check=off")[3]
    source, checkpoint, cfg, _ = bench.grounding_config("ur5",
                                                        "model@runs/x/best:observe_from=here")
    assert (source, checkpoint, cfg.runner.observe_from) == ("model", "runs/x/best", "here")
    assert "runs/nowhere" in bench.available("model@runs/nowhere")  # named, before any run
    assert bench.available("model") is None  # the shipped checkpoint
    for bad in ("model:footprint_grasp=sometimes", "model:grasp_retries=3", "model:oops",
                "model:attribute_check=maybe"):
        with pytest.raises(SystemExit, match="unknown grounding variant"):
            bench.grounding_config("ur5", bad)


def test_check_table_counts_overruled_answers_and_their_tasks(bench, capsys):
    rows = [{"grounding": "model", "checked": 3, "overruled_model": 1,
             "overruled_perception": 0, "success": True},
            {"grounding": "model", "checked": 2, "overruled_model": 0,
             "overruled_perception": 2, "success": False},
            {"grounding": "geometric", "checked": 0, "success": True}]
    bench.print_checks(rows, ["model", "geometric"])
    out = capsys.readouterr().out
    assert "| model | model | 1 of 5 | 1 | 1 |" in out
    assert "| model | perception | 2 of 5 | 1 | 0 |" in out and "geometric" not in out
