"""The compiled serving path (model/compiled_forward.py) answers exactly like eager PyTorch,
and inputs outside its one compiled shape fall back to eager instead of recompiling.

The first compile takes about a minute on a 2-core machine (torch caches it on disk)."""

from __future__ import annotations

import numpy as np
import pytest

from spatial_ros.data.generate import GenerateConfig, generate_scene
from spatial_ros.model import SpatialMamba
from spatial_ros.model.compiled_forward import TEXT_TOKENS, compile_for_inference

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROMPTS = ["the red mug", "pick up the blue block to the left of the green bowl",
           "pick up the red mug from the side"]  # the side-grasp head's answer
LONG = ("pick up the small shiny red ceramic coffee mug that stands on the far left side of "
        "the wooden table right next to the big blue bowl and behind the green block")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from spatial_ros.data.dataset import RefSample

    root = tmp_path_factory.mktemp("scene")
    s = RefSample.from_record(generate_scene(root, "test", 91_000_000, GenerateConfig())[0],
                              root)
    return s.load_rgb(), s.load_depth_m(), s.intrinsics


@pytest.fixture(scope="module")
def models():
    eager = SpatialMamba.from_pretrained()
    fast = SpatialMamba.from_pretrained()
    compiled = compile_for_inference(fast)
    assert compiled.warm_up() > 0
    return eager, fast, compiled


def _same(a, b) -> None:
    assert np.allclose(a.point_px, b.point_px, atol=0.05)
    assert a.confidence == pytest.approx(b.confidence, abs=1e-4)
    assert np.allclose(a.rotation, b.rotation, atol=1e-4)
    assert a.gripper_width == pytest.approx(b.gripper_width, abs=1e-5)
    assert a.grasp_approach == b.grasp_approach
    assert (a.position is None) == (b.position is None)
    if a.position is not None:
        assert np.allclose(a.position, b.position, atol=1e-4)


def test_compiled_answers_equal_eager_answers(models, scene):
    eager, fast, compiled = models
    rgb, depth, intr = scene
    before = compiled.compiled_calls
    for text in PROMPTS:
        _same(fast.predict(rgb, depth, intr, text), eager.predict(rgb, depth, intr, text))
    assert compiled.compiled_calls == before + len(PROMPTS)
    assert [fast.predict(rgb, depth, intr, t).grasp_approach for t in PROMPTS] == [
        "top", "top", "side"]


def test_other_shapes_run_eager_and_still_answer(models, scene):
    eager, fast, compiled = models
    rgb, depth, intr = scene
    assert len(fast.processor.tokenize([LONG]).input_ids[0]) > TEXT_TOKENS
    before = (compiled.compiled_calls, compiled.eager_calls)
    _same(fast.predict(rgb, depth, intr, LONG), eager.predict(rgb, depth, intr, LONG))
    batch = fast.predict_batch([rgb] * len(PROMPTS), [depth] * len(PROMPTS), intr, PROMPTS)
    for got, text in zip(batch, PROMPTS, strict=True):
        _same(got, eager.predict(rgb, depth, intr, text))
    fast.predict(rgb, depth, intr, PROMPTS[0], dtype="bfloat16")  # autocast: eager as well
    assert (compiled.compiled_calls, compiled.eager_calls) == (before[0], before[1] + 2)
