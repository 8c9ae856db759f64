"""The perception pipeline in a child process: same answers as in-process, a clear error
and a fresh child when the child dies, load errors reported in every result."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from spatial_ros.perception.extrinsics import CameraToBase
from spatial_ros.perception.pipeline_process import PipelineProcess, PipelineSpec, build_pipeline
from spatial_ros.perception.synthetic import render


@pytest.fixture(scope="module")
def frame():
    return render(noise_mm=1.0, hole_fraction=0.01)


@pytest.fixture(scope="module")
def spec(frame):
    ext = CameraToBase.from_matrix(frame.camera_to_base.as_matrix())
    return PipelineSpec(referrer="geometric", extrinsics=ext)


def _ask(pipe, frame, rid: str):
    return pipe.run(frame.rgb, frame.depth_m, frame.intrinsics, "the red box", rid, 7, "cam")


def test_child_answers_like_the_in_process_pipeline_and_survives_its_death(frame, spec):
    local = _ask(build_pipeline(spec), frame, "a")
    proc = PipelineProcess(spec)
    try:
        assert proc.referrer_name == "geometric" and proc.load_error is None
        remote = _ask(proc, frame, "a")
        assert remote.ok, remote.error
        assert remote.point_base == pytest.approx(local.point_base, abs=1e-9)
        assert (remote.request_id, remote.stamp_ns, remote.camera_frame) == ("a", 7, "cam")
        assert remote.footprint_base == local.footprint_base

        os.kill(proc.pid, signal.SIGKILL)
        proc._proc.join(timeout=5.0)
        # the request that meets the dead child starts a new one and is answered
        again = _ask(proc, frame, "b")
        assert again.ok and again.request_id == "b" and proc.restarts == 1
    finally:
        proc.close()
    assert proc.pid is None


def test_a_missing_checkpoint_is_reported_by_every_result(frame, tmp_path):
    proc = PipelineProcess(PipelineSpec(referrer="model", model_path=str(tmp_path / "nope"),
                                        warm_up=False))
    try:
        assert "could not be loaded" in proc.load_error
        res = _ask(proc, frame, "c")
        assert not res.ok and "could not be loaded" in res.error and res.request_id == "c"
    finally:
        proc.close()


def test_a_child_that_does_not_start_is_an_error_result_not_a_crash(frame, spec):
    proc = PipelineProcess(spec, start_timeout_s=0.01)  # no child starts that fast
    try:
        assert "inference process did not start" in proc.load_error and proc.pid is None
        res = _ask(proc, frame, "d")  # tries again, fails again, answers with the reason
        assert not res.ok and "inference process failed" in res.error and res.request_id == "d"
        proc.start_timeout_s = 120.0
        assert _ask(proc, frame, "e").ok  # and recovers once a child can start
    finally:
        proc.close()


def test_close_does_not_wait_out_a_request_that_hangs(frame, spec):
    """Shutdown kills a child that is stuck mid-request instead of waiting the request's
    30 s timeout; the request gets an error result."""
    proc = PipelineProcess(spec)
    try:
        assert _ask(proc, frame, "f").ok
        os.kill(proc.pid, signal.SIGSTOP)  # a forward pass that never ends
        answers = []
        asking = threading.Thread(target=lambda: answers.append(_ask(proc, frame, "g")))
        asking.start()
        time.sleep(0.5)
        t0 = time.monotonic()
    finally:
        proc.close(wait_s=1.0)
    assert time.monotonic() - t0 < 8.0
    asking.join(timeout=10.0)
    assert answers and not answers[0].ok and "inference process failed" in answers[0].error
    assert proc.pid is None
