"""``spatial-ros bench refer`` end to end on a small simulated split, and the metric rules."""

import json

import numpy as np
import pytest

from spatial_ros.cli.main import main
from spatial_ros.data.baselines import GeometricReferrer, make_baseline
from spatial_ros.data.dataset import load_split
from spatial_ros.data.evaluate import evaluate, points_in_mask, summarize
from spatial_ros.data.generate import GenerateConfig, generate


def test_points_in_mask_reads_floats_as_normalized_and_ints_as_pixels():
    mask = np.zeros((10, 20), bool)
    mask[2, 5] = True
    assert points_in_mask([(5, 2)], mask) == 1.0  # integers: pixel column 5, row 2
    assert points_in_mask([(5.5 / 20, 2.5 / 10)], mask) == 1.0  # floats: normalized
    assert points_in_mask([(0.3, 0.2)], mask) == 0.0  # normalized -> column 6: a miss
    assert points_in_mask([(np.int64(5), np.int64(2)), (0, 0)], mask) == 0.5
    assert points_in_mask([], mask) == 0.0
    assert points_in_mask([(30, 2)], mask) == 0.0  # outside the image is a miss


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    generate(out, "test", 10, workers=1, cfg=GenerateConfig(scenes_per_shard=1), progress=False)
    return out


def test_bench_refer_writes_tables_and_chart(split, tmp_path):
    out = tmp_path / "report"
    rc = main(["bench", "refer", "--data", str(split), "--split", "test", "--predictor",
               "centre,random", "--predictor", "geometric", "--out", str(out),
               "--no-progress"])
    assert rc == 0
    report = (out / "refer.md").read_text()
    for name in ("centre", "random", "geometric", "per kind", "per steps", "placement"):
        assert name in report
    assert "per robot" not in report  # bare tables: no robot in view, no such table
    png = (out / "refer_by_kind.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    rows = [json.loads(line) for line in (out / "results_geometric.jsonl").open()]
    assert len(rows) == 10 and all(not r["error"] for r in rows)
    by_name = {}
    for name in ("centre", "geometric"):
        rows = [json.loads(line) for line in (out / f"results_{name}.jsonl").open()]
        by_name[name] = np.mean([r["accuracy"] for r in rows])
    # the geometric pipeline reads the instruction; the image centre does not
    assert by_name["geometric"] > by_name["centre"] + 0.2, by_name
    # a later run tabulates a new predictor next to the earlier results without re-running
    again = tmp_path / "again"
    assert main(["bench", "refer", "--data", str(split), "--split", "test", "--predictor",
                 "centre", "--include-results", str(out), "--out", str(again),
                 "--no-progress"]) == 0
    table = (again / "refer.md").read_text().split("\n\n")[1]
    assert "| geometric | 10 |" in table and "| random | 10 |" in table
    assert main(["bench", "refer", "--data", str(split), "--split", "test", "--limit", "3",
                 "--include-results", str(out), "--out", str(again), "--no-progress"]) == 2


def test_geometric_referrer_grasps_and_survives_nonsense(split):
    samples = load_split(split, "test")
    results = evaluate(GeometricReferrer(), samples[:3], progress=False)
    s = summarize(results)
    assert s.n == 3 and s.errors == 0
    graspable = [r for r in results if r.pos_err_cm is not None]
    if graspable:
        assert all(r.rot_err_deg is not None for r in graspable)
    ref = GeometricReferrer()
    smp = samples[0]
    pred = ref.predict(smp.load_rgb(), smp.load_depth_m(), smp.intrinsics, "zzz qqq")
    assert pred.confidence == 0.0 and pred.point_norm == (0.5, 0.5)
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baseline("oracle")


def test_bench_refer_reports_a_missing_split_without_a_traceback(tmp_path, capsys):
    rc = main(["bench", "refer", "--data", str(tmp_path), "--split", "test", "--out",
               str(tmp_path / "out")])
    assert rc == 2
    assert "no split 'test'" in capsys.readouterr().err


def test_geometric_perception_does_not_take_the_robot_for_objects():
    """Robot-view frames (an arm reaching over the table): clusters taller than any table-top
    object are robot links, not things to refer to (robots test, first 200: 61.5 -> 68.5 %)."""
    from spatial_ros.data.perceive import PerceiveConfig, perceive
    from spatial_ros.data.sim_scene import SimSceneConfig, render_scene

    scene = render_scene(2, SimSceneConfig(robots=("ur5",), camera_distance=(1.15, 1.15)))
    depth_m = scene.depth_mm.astype(np.float32) / 1000.0
    pose = scene.graph.camera_pose
    seen = perceive(scene.rgb, depth_m, scene.intrinsics, pose).graph.objects
    unfiltered = perceive(scene.rgb, depth_m, scene.intrinsics, pose,
                          PerceiveConfig(max_object_height=10.0)).graph.objects
    assert any(o.size[2] > 0.2 for o in unfiltered)  # the arm is in view, and was an "object"
    assert seen and all(o.size[2] <= 0.2 for o in seen)
    truth = [o.position[:2] for o in scene.graph.objects]

    def real(objects):  # detections standing where a real object does
        return [o for o in objects if min(np.linalg.norm(o.position[:2] - t) for t in truth)
                < 0.08]

    assert len(real(seen)) == len(real(unfiltered)) >= len(truth) - 1  # no object lost
    assert len(seen) - len(real(seen)) < len(unfiltered) - len(real(unfiltered))  # fewer ghosts
