"""The trained tiny checkpoint shipped in the package: files, size, and behaviour on freshly
rendered simulator scenes (seeds outside every dataset split), scored by the benchmark's own
evaluator against the image-centre baseline."""

from __future__ import annotations

import numpy as np
import pytest

from spatial_ros.data.baselines.centre import CentreReferrer
from spatial_ros.data.dataset import RefSample
from spatial_ros.data.evaluate import evaluate, summarize
from spatial_ros.data.generate import GenerateConfig, generate_scene
from spatial_ros.model import SpatialMamba
from spatial_ros.model.checkpoint import default_checkpoint_dir

FRESH_SEED = 90_000_000  # train/val/test/unseen use 0 / 1e7 / 2e7 / 3e7 + index
MIN_MARGIN = 0.05  # accuracy above the image-centre baseline (measured: 25.0% vs 5.6%)
VAL_SUCCESS = 0.74  # the shipped checkpoint's validation accuracy (its confidence level)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model() -> SpatialMamba:
    return SpatialMamba.from_pretrained()


@pytest.fixture(scope="module")
def fresh_samples(tmp_path_factory) -> list[RefSample]:
    root = tmp_path_factory.mktemp("fresh")
    records = []
    for k in range(3):
        records += generate_scene(root, "test", FRESH_SEED + k, GenerateConfig())
    return [RefSample.from_record(r, root) for r in records]


def test_shipped_checkpoint_files():
    ck = default_checkpoint_dir()
    names = {p.name for p in ck.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "MODEL_CARD.md"} <= names
    size_mb = sum(p.stat().st_size for p in ck.iterdir() if p.is_file()) / 2**20
    assert size_mb <= 30
    card = (ck / "MODEL_CARD.md").read_text()
    assert "spatial-ros train" in card and "accuracy" in card.lower()


def test_shipped_model_beats_the_centre_baseline_on_fresh_scenes(model, fresh_samples):
    assert model.config.preset == "tiny"
    assert model.config.calibration_temperature != 1.0  # fitted on val after training
    assert len(fresh_samples) >= 20
    ours = summarize(evaluate(model, fresh_samples, progress=False))
    centre = summarize(evaluate(CentreReferrer(), fresh_samples, progress=False))
    assert ours.errors == 0
    assert ours.accuracy >= centre.accuracy + MIN_MARGIN
    assert ours.pos_err_cm is not None and ours.rot_err_deg is not None


def test_nonsense_instructions_still_answered_with_low_confidence(model, fresh_samples):
    """Gibberish gets a valid answer and a confidence below the model's measured accuracy
    level on average (confidence is calibrated to 74.6 % val success, MODEL_CARD.md). It does
    not yet separate nonsense from real prompts: on these scenes the mean confidence is 0.56
    on gibberish and 0.60 on the real prompts, the highest single one 0.77 (docs/model.md,
    "Not done")."""
    scenes = {s.scene_id: s for s in fresh_samples}.values()
    confidences = []
    for s in scenes:
        rgb, depth = s.load_rgb(), s.load_depth_m()
        for text in ("qwv zzk plonk", "xylophone tangerine aardvark", "??? !!!"):
            p = model.predict(rgb, depth, s.intrinsics, text)
            assert 0 <= p.point_norm[0] <= 1 and 0 <= p.point_norm[1] <= 1
            assert p.rotation is not None and p.gripper_width > 0
            confidences.append(p.confidence)
    assert max(confidences) < 0.8 and float(np.mean(confidences)) < VAL_SUCCESS


def test_the_side_grasp_gate_opens_on_side_phrasings_only(model, fresh_samples):
    """The shipped side-grasp gate reads the words: every side-grasp phrasing of the data
    engine opens it, and no prompt of the v1 kinds on fresh scenes does, "on the left side of"
    included (docs/model.md, "Policy-head-only fine-tuning": measured on every dataset split)."""
    from spatial_ros.data.vocab import SIDE_GRASP_PHRASES
    from spatial_ros.model.predict import side_grasp_logits

    side = [f"Pick up the red mug {p}" for p in SIDE_GRASP_PHRASES]
    others = [s.prompt for s in fresh_samples] + [
        "Pick up the cup on the left side of the bowl", "Put it on the right side of the tray",
        "Place the mug beside the bowl", "Pick up the leftmost block"]
    logits = side_grasp_logits(model, side + others)
    opened = [p for p, x in zip(side + others, logits.tolist(), strict=True) if x > 0]
    assert opened == side

