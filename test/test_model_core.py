"""SpatialMamba: architecture, inference API, bad input, checkpoint I/O (small real models)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from test_model_synth_data import SMALL_TINY

from spatial_ros.data.prediction import Prediction
from spatial_ros.geometry.intrinsics import Intrinsics
from spatial_ros.geometry.rotations import is_rotation
from spatial_ros.geometry.rotations import rot6d_to_matrix as rot6d_np
from spatial_ros.model import SpatialMamba, preset_config
from spatial_ros.model.checkpoint import (
    CheckpointError,
    build_model,
    load_pretrained,
    save_pretrained,
)
from spatial_ros.model.processing import InputError, TruncationWarning, normalized_intrinsics
from spatial_ros.model.spatial_mamba import geodesic_angle, rot6d_to_matrix

SMALL = SMALL_TINY
INTR = Intrinsics(128, 96, fx=100.0, fy=100.0, cx=64.0, cy=48.0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model() -> SpatialMamba:
    torch.manual_seed(0)
    return build_model(preset_config("tiny", **SMALL)).eval()


def _frame(seed: int = 0, w: int = 128, h: int = 96):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    depth = rng.uniform(0.4, 1.2, (h, w)).astype(np.float32)
    return rgb, depth


def test_forward_shapes_and_gram_schmidt(model):
    proc = model.processor
    rgb, depth = _frame()
    x = proc.normalize_rgb(proc.resize_rgb(rgb)[None])
    d = proc.normalize_depth(proc.resize_depth(depth, depth.shape)[None],
                             normalized_intrinsics(INTR)[None])
    text = proc.tokenize(["the red cup"])
    out = model(x, d, text.input_ids, text.attention_mask)
    n = model.config.n_image_tokens
    assert model.config.grid == (3, 4) and n == 12
    assert out.point_logits.shape == (1, n) and out.point_offsets.shape == (1, n, 2)
    assert out.rot6d.shape == (1, 6) and out.gripper_width.shape == (1,)
    r6 = torch.randn(64, 6, dtype=torch.float64)
    r = rot6d_to_matrix(r6)
    np.testing.assert_allclose(r.numpy(), rot6d_np(r6.numpy()), atol=1e-9)
    assert all(is_rotation(m) for m in r.numpy())
    # geodesic angle: identity vs a 90 degree turn about z, with a finite gradient
    rz = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    r6p = torch.tensor([1.0, 0.1, 0, 0, 1, 0], requires_grad=True)
    ang = geodesic_angle(rot6d_to_matrix(r6p), rz)
    ang.backward()
    assert torch.isfinite(r6p.grad).all()
    assert abs(float(geodesic_angle(torch.eye(3), rz)) - np.pi / 2) < 1e-5


def test_depth_encoder_starts_as_a_copy_of_the_rgb_encoder(model):
    fresh = SpatialMamba(preset_config("tiny", **SMALL), init_text=False)
    rgb_sd, depth_sd = fresh.rgb_encoder.state_dict(), fresh.depth_encoder.state_dict()
    assert rgb_sd.keys() == depth_sd.keys()
    for k in rgb_sd:
        assert torch.equal(rgb_sd[k], depth_sd[k])
        assert rgb_sd[k].data_ptr() != depth_sd[k].data_ptr()  # copied, not shared


def test_unknown_words_split_into_known_wordpieces(model):
    tok = model.processor.tokenizer
    ids = tok("grab the zorblaxian teacup")["input_ids"]
    assert tok.unk_token_id not in ids
    assert len(ids) > 6  # the invented word became several sub-words
    table = model.text_encoder.table.float()
    # sub-word vectors are MiniLM's pretrained ones (not zeros, not random init)
    assert float(table[ids[1:-1]].norm(dim=1).min()) > 0.1


def test_predict_and_predict_batch(model):
    rgb, depth = _frame(1)
    p = model.predict(rgb, depth, INTR, "pick up the red cup")
    assert isinstance(p, Prediction)
    assert 0 <= p.point_norm[0] <= 1 and 0 <= p.point_norm[1] <= 1
    # OpenCV pixel convention of Prediction: centres at integer coordinates
    assert p.point_px == pytest.approx((p.point_norm[0] * 128 - 0.5, p.point_norm[1] * 96 - 0.5))
    assert 0 <= p.confidence <= 1
    assert is_rotation(p.rotation, tol=1e-5) and p.gripper_width > 0
    assert p.position is not None and np.all(np.isfinite(p.position)) and p.position[2] > 0
    assert {"preprocess_ms", "model_ms", "total_ms"} <= set(p.timings)
    # the ranked cells: the answer first, then what the model would answer next
    probs = [c[2] for c in p.candidates]
    assert len(p.candidates) == 8 and probs == sorted(probs, reverse=True) and sum(probs) <= 1
    assert p.candidates[0][:2] == pytest.approx(p.point_norm, abs=1e-5)
    assert len({(round(x, 4), round(y, 4)) for x, y, _ in p.candidates}) == 8
    rgb2, depth2 = _frame(2)
    batch = model.predict_batch([rgb, rgb2], [depth, depth2], INTR,
                                ["pick up the red cup", "the small blue bowl on the left"])
    single2 = model.predict(rgb2, depth2, INTR, "the small blue bowl on the left")
    assert batch[0].point_norm == pytest.approx(p.point_norm, abs=1e-4)
    assert batch[1].point_norm == pytest.approx(single2.point_norm, abs=1e-4)
    assert batch[1].confidence == pytest.approx(single2.confidence, abs=1e-4)
    bf = model.predict(rgb, depth, INTR, "pick up the red cup", dtype="bfloat16")
    assert 0 <= bf.confidence <= 1 and is_rotation(bf.rotation, tol=1e-5)


def test_bad_and_imperfect_inputs(model):
    rgb, depth = _frame(3)
    with pytest.raises(InputError, match="differs from rgb size"):
        model.predict(rgb, depth[:50], INTR, "the cup")
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        model.predict(rgb[..., 0], depth, INTR, "the cup")
    with pytest.raises(InputError, match="empty"):
        model.predict(rgb, depth, INTR, "   ")
    with pytest.raises(InputError, match="aspect ratio"):
        model.predict(rgb, depth, Intrinsics(100, 100, 90.0, 90.0, 50.0, 50.0), "the cup")
    # overlong: truncated with a warning, still answered
    with pytest.warns(TruncationWarning):
        p = model.predict(rgb, depth, INTR, "the red cup " * 40)
    assert 0 <= p.confidence <= 1
    # depth full of holes (0 and NaN): a point, but no 3D position
    holes = np.zeros_like(depth)
    holes[::2] = np.nan
    p = model.predict(rgb, holes, INTR, "the cup")
    assert p.position is None and 0 <= p.point_norm[0] <= 1
    # odd camera size, uint16 millimetre depth, intrinsics at another resolution (same aspect)
    rgb_odd, _ = _frame(4, w=83, h=57)
    depth_mm = np.full((57, 83), 800, np.uint16)
    intr_odd = Intrinsics(166, 114, 100.0, 100.0, 83.0, 57.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = model.predict(rgb_odd, depth_mm, intr_odd, "the cup")
    assert 0.5 < p.position[2] < 1.2  # 0.8 m surface + the (untrained, small) depth offset
    assert p.point_px[0] <= 82.5 and p.point_px[1] <= 56.5


def test_checkpoint_roundtrip(model, tmp_path):
    save_pretrained(model, tmp_path / "ck")
    files = {f.name for f in (tmp_path / "ck").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    loaded = SpatialMamba.from_pretrained(tmp_path / "ck")
    rgb, depth = _frame(5)
    a = model.predict(rgb, depth, INTR, "the green block near the bowl")
    b = loaded.predict(rgb, depth, INTR, "the green block near the bowl")
    assert a.point_norm == pytest.approx(b.point_norm, abs=1e-6)
    np.testing.assert_allclose(a.rotation, b.rotation, atol=1e-6)


def test_checkpoint_errors_name_the_problem(model, tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_pretrained(tmp_path / "nope")
    ck = tmp_path / "ck"
    save_pretrained(model, ck)
    data = (ck / "model.safetensors").read_bytes()
    (ck / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"missing model\.safetensors"):
        load_pretrained(ck)
    (ck / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_pretrained(ck)
    (ck / "model.safetensors").write_bytes(data)
    cfg = preset_config("tiny", **{**SMALL, "d_model": 96})
    cfg.save(ck / "config.json")
    with pytest.raises(CheckpointError, match=r"do not match.*wrong shape"):
        load_pretrained(ck)
    (ck / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"bad config\.json"):
        load_pretrained(ck)


def test_training_on_with_an_added_part_keeps_every_learned_weight(tmp_path):
    """A checkpoint without word_match loads strictly; with the override its missing tensors
    start fresh (zero query), so the first forward pass equals the checkpoint's."""
    torch.manual_seed(0)
    old = build_model(preset_config("tiny", **{**SMALL, "word_match": False})).eval()
    save_pretrained(old, tmp_path / "ck")
    assert not load_pretrained(tmp_path / "ck").config.word_match
    new = load_pretrained(tmp_path / "ck", overrides={"word_match": True})
    assert new.config.word_match
    rgb, depth = torch.rand(2, 3, 48, 64), torch.rand(2, 3, 48, 64)
    ids, mask = torch.randint(1000, 3000, (2, 9)), torch.ones(2, 9, dtype=torch.long)
    mask[0, :4] = 0
    with torch.no_grad():
        a, b = old(rgb, depth, ids, mask), new(rgb, depth, ids, mask)
    assert torch.equal(a.point_logits, b.point_logits)
    new.train()  # the zero query still learns (a zero gate in front of it would not)
    new(rgb, depth, ids, mask).point_logits.logsumexp(-1).sum().backward()
    assert new.word_query.weight.grad.abs().sum() > 0
    with pytest.raises(CheckpointError, match="word_match"):
        load_pretrained(tmp_path / "ck", overrides={"word_match": "maybe"})


def test_a_checkpoint_trains_on_at_twice_the_token_grid(tmp_path):
    """conv_final_stride 1 reuses every weight of a stride-2 checkpoint (the conv kernels are
    the same shapes) and interpolates the position embeddings to the finer grid."""
    torch.manual_seed(0)
    cfg = {**SMALL, "colour_skip": 4, "colour_match": True, "shape_match": True}
    old = build_model(preset_config("tiny", **cfg)).eval()
    rows, cols = old.config.grid
    with torch.no_grad():  # a left-to-right ramp: its order and mean must survive the resize
        old.pos_embed.copy_(torch.linspace(-1, 1, cols).repeat(rows)[:, None].expand_as(
            old.pos_embed))
    save_pretrained(old, tmp_path / "ck")
    new = load_pretrained(tmp_path / "ck", overrides={"conv_final_stride": 1})
    assert new.config.grid == (2 * rows, 2 * cols)
    fine = new.pos_embed.detach()[:, 0].view(2 * rows, 2 * cols)
    assert torch.all(fine[:, 1:] >= fine[:, :-1]) and torch.allclose(fine[0], fine[-1])
    assert fine.mean().abs() < 1e-5
    for name, weight in old.state_dict().items():
        if name != "pos_embed":
            assert torch.equal(new.state_dict()[name], weight), name
    rgb, depth = torch.rand(2, 3, 48, 64), torch.rand(2, 3, 48, 64) + 0.5
    ids, mask = torch.randint(1000, 3000, (2, 9)), torch.ones(2, 9, dtype=torch.long)
    with torch.no_grad():
        out = new(rgb, depth, ids, mask)
    assert out.point_logits.shape == (2, 4 * rows * cols)
    assert torch.isfinite(out.point_logits).all()


@pytest.mark.parametrize("preset,tower", [
    ("base", dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=64, image_size=32, patch_size=8)),
    ("large", dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                   intermediate_size=64, image_size=28, patch_size=7)),
])
def test_base_and_large_build_with_transformers_towers(preset, tower):
    full = preset_config(preset)
    assert full.vision in ("clip", "siglip") and full.vision_tower
    if preset == "large":  # RoboMamba's backbone size: Mamba-2.8B
        assert (full.backbone, full.d_model, full.n_layers) == ("mamba", 2560, 64)
    size = tower["image_size"]
    cfg = preset_config(preset, vision_tower_config=tower, image_width=size, image_height=size,
                        d_model=64, n_layers=1, head_dim=32, chunk_size=64, head_hidden=32)
    m = build_model(cfg).eval()
    kind = "Siglip" if preset == "base" else "CLIP"
    assert type(m.rgb_encoder.tower).__name__.startswith(kind)
    assert type(m.backbone).__name__ == ("Mamba2Model" if preset == "base" else "MambaModel")
    assert m.config.grid == (4, 4)
    rgb, depth = _frame(6)
    p = m.predict(rgb, depth, INTR, "the cup behind the plate")
    assert 0 <= p.confidence <= 1 and is_rotation(p.rotation, tol=1e-5)


def test_xyz_depth_input_is_the_back_projected_point_map(model):
    """The depth encoder's channels are camera-frame X, Y, Z: a pixel's X/Z must equal
    (u - cx) / fx, the same back-projection the geometry layer uses."""
    from spatial_ros.geometry.backproject import backproject_pixels

    proc = model.processor
    h, w = model.config.image_height, model.config.image_width
    depth = torch.full((1, 1, h, w), 0.8)
    xyz = proc.normalize_depth(depth, normalized_intrinsics(INTR)[None])[0]
    s = model.config.max_depth_m
    row, col = 5, w - 3
    x, y = (xyz[0, row, col] * 0.25 * s).item(), (xyz[1, row, col] * 0.25 * s).item()
    u, v = (col + 0.5) * INTR.width / w - 0.5, (row + 0.5) * INTR.height / h - 0.5
    expected = backproject_pixels(u, v, 0.8, INTR)[0]
    assert x == pytest.approx(expected[0], abs=1e-4) and y == pytest.approx(expected[1], abs=1e-4)
    assert (xyz[2] * 0.25 + 0.5) * s == pytest.approx(torch.full((h, w), 0.8), abs=1e-5)
    with pytest.raises(InputError, match="intrinsics"):
        proc.normalize_depth(depth)


def _tilted_table(cfg):
    """A table 0.7 m below a camera pitched 50 deg down, with a box 7 cm tall on it, at the
    model's input size: (unit-z rays, depth (H, W), the table's up in the camera frame, the
    box's pixels)."""
    h, w = cfg.image_height, cfg.image_width
    pitch = np.deg2rad(50.0)
    up = np.array([0.0, -np.cos(pitch), -np.sin(pitch)])  # base z in the camera frame
    u = ((np.arange(w) + 0.5) * INTR.width / w - 0.5 - INTR.cx) / INTR.fx
    v = ((np.arange(h) + 0.5) * INTR.height / h - 0.5 - INTR.cy) / INTR.fy
    rays = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((h, w))), -1)
    depth = -0.7 / (rays @ up)  # the table 0.7 m below the camera
    box = (slice(h // 3, h // 2), slice(w // 4, w // 2))
    depth[box] *= 0.9  # 10 % nearer along each ray: 0.1 * 0.7 m = 7 cm above the table
    return rays, depth, up, box


def _point_map(model, depth: np.ndarray) -> torch.Tensor:
    return model.processor.normalize_depth(torch.tensor(depth, dtype=torch.float32)[None, None],
                                           normalized_intrinsics(INTR)[None])


def _added_part(model, tmp_path, **overrides):
    """``model`` saved and loaded back with ``overrides`` (a part added), random inputs, and
    both models' outputs on them: an added part must start silent."""
    save_pretrained(model, tmp_path / "ck")
    new = load_pretrained(tmp_path / "ck", overrides=overrides)
    inputs = (torch.rand(2, 3, 48, 64), torch.rand(2, 3, 48, 64),
              torch.randint(1000, 3000, (2, 9)), torch.ones(2, 9, dtype=torch.long))
    with torch.no_grad():
        a, b = model(*inputs), new(*inputs)
    return new, inputs, a, b


def test_camera_geometry_finds_the_table_up_and_the_ray_to_the_referred_cell(model):
    """On a table seen 50 deg from above with a box on it, the fitted up normal and the ray
    the policy head gets are the true ones (the box's points are left out of the fit)."""
    from spatial_ros.model.spatial_mamba import camera_geometry, table_plane

    cfg = model.config
    h, w = cfg.image_height, cfg.image_width
    rays, depth, up, _ = _tilted_table(cfg)
    xyz = _point_map(model, depth)
    rows, cols = cfg.grid
    look = torch.zeros(1, rows * cols)
    cell = (rows - 2) * cols + 1  # near the bottom-left corner
    look[0, cell] = 1.0
    _, table_up = table_plane(xyz, cfg.grid, cfg.max_depth_m)
    geo = camera_geometry(xyz, table_up, look, cfg.grid, cfg.max_depth_m)[0].numpy()
    assert np.degrees(np.arccos(np.clip(geo[:3] @ up, -1, 1))) < 2.0
    r, c = divmod(cell, cols)
    ph, pw = h // rows, w // cols
    patch = rays[r * ph:(r + 1) * ph, c * pw:(c + 1) * pw] * depth[r * ph:(r + 1) * ph,
                                                                   c * pw:(c + 1) * pw, None]
    expected = patch.reshape(-1, 3).mean(0)
    expected /= np.linalg.norm(expected)
    assert np.degrees(np.arccos(np.clip(geo[3:] @ expected, -1, 1))) < 0.5


def test_geometry_input_added_to_a_checkpoint_starts_silent_and_learns(model, tmp_path):
    new, (rgb, depth, ids, mask), a, b = _added_part(model, tmp_path, policy_geometry=True)
    assert torch.equal(a.rot6d, b.rot6d) and torch.equal(a.point_logits, b.point_logits)
    new.train()
    new(rgb, depth, ids, mask).rot6d.square().sum().backward()
    assert new.policy_geometry.weight.grad.abs().sum() > 0
    with pytest.raises(CheckpointError, match="depth_input"):
        load_pretrained(tmp_path / "ck", overrides={"policy_geometry": True,
                                                    "depth_input": "depth"})


def test_side_grasp_head_added_to_a_checkpoint_answers_as_before_until_its_gate_opens(
        model, tmp_path):
    """A fresh side-grasp head keeps every answer (its gate says "top-down"); once the gate
    says "side", the grasp is the side head's, in the gravity frame, and ``predict`` says so."""
    new, inputs, a, b = _added_part(model, tmp_path, side_grasp=True)
    assert torch.equal(a.point_logits, b.point_logits)
    assert torch.allclose(a.rotation, b.rotation, atol=1e-6)
    assert torch.equal(a.gripper_width, b.gripper_width) and (b.side_logit < 0).all()
    rgb, depth = _frame(3)
    assert new.predict(rgb, depth, INTR, "pick up the red cup").grasp_approach == "top"
    with torch.no_grad():
        new.side_grasp.gate.bias.fill_(4.0)
        out = new(*inputs)
    side = out.grasp_heads["side"]
    assert (out.side_logit > 0).all() and torch.equal(out.rotation, side.rotation)
    assert torch.equal(out.gripper_width, side.gripper_width)
    assert not torch.allclose(out.rotation, out.grasp_heads["top"].rotation)
    # a fresh side head starts at its frame's identity, the level grasp along the line of sight
    assert torch.rad2deg(geodesic_angle(side.rotation, side.frame)).max() < 5.0
    pred = new.predict(rgb, depth, INTR, "pick up the red cup from the side")
    assert pred.grasp_approach == "side" and is_rotation(pred.rotation, tol=1e-5)


@pytest.mark.parametrize("reads", ["words", "sentence"])
def test_instruction_gate_added_to_a_checkpoint_starts_open_and_scales_confidence(
        model, tmp_path, reads):
    """A fresh instruction gate is open (every answer as before, confidence times 0.9997);
    closed, it takes the confidence down with it and ``predict`` reports its score."""
    from spatial_ros.model.predict import instruction_logits, text_gate_logits
    from spatial_ros.model.spatial_mamba import InstructionGate

    new, _, a, b = _added_part(model, tmp_path, instruction_gate=True,
                               instruction_gate_reads=reads)
    # the sentence gate's MiniLM comes from its package, not the checkpoint
    assert not any("minilm" in k or "sentence_encoder" in k for k in new.state_dict())
    # the image pass is the same network; the gate reads the text on its own
    assert torch.equal(a.point_logits, b.point_logits) and b.instruction_logit is None
    assert instruction_logits(model, ["the red cup"]) is None
    assert torch.allclose(instruction_logits(new, ["the red cup", "qwv"]),
                          torch.full((2,), InstructionGate.OPEN_LOGIT))
    rgb, depth = _frame(4)
    before = model.predict(rgb, depth, INTR, "the red cup")
    opened = new.predict(rgb, depth, INTR, "the red cup")
    assert opened.point_norm == before.point_norm
    assert opened.confidence == pytest.approx(
        before.confidence * float(torch.sigmoid(torch.tensor(8.0))), rel=1e-5)
    with torch.no_grad():  # a changed gate is asked again, not remembered
        new.instruction_gate.score[-1].bias.fill_(-6.0)
    after = new.predict(rgb, depth, INTR, "the red cup")
    assert after.point_norm == before.point_norm
    assert after.instruction_score == pytest.approx(float(torch.sigmoid(torch.tensor(-6.0))))
    assert after.confidence == pytest.approx(before.confidence * after.instruction_score,
                                             rel=1e-4)
    assert before.instruction_score is None  # a model without the gate does not tell
    assert text_gate_logits(new, ["the red cup", "qwv"], "instruction").tolist() == \
        pytest.approx([-6.0, -6.0])
    with pytest.raises(ValueError, match="no instruction gate"):
        text_gate_logits(model, ["the red cup"], "instruction")
    with pytest.raises(ValueError, match="unknown gate"):
        text_gate_logits(new, ["the red cup"], "colour")


def test_the_instruction_gate_reads_each_text_once(model, tmp_path, monkeypatch):
    """``predict`` remembers the gate per text: the executor asks the same words at every
    try, and a sentence gate's MiniLM pass costs as much as the rest of the model."""
    from spatial_ros.model import predict as predict_module

    new, *_ = _added_part(model, tmp_path, instruction_gate=True,
                          instruction_gate_reads="sentence")
    asked = []
    real = predict_module.text_gate_logits

    def counting(m, texts, gate):
        asked.append(list(texts))
        return real(m, texts, gate)

    monkeypatch.setattr(predict_module, "text_gate_logits", counting)
    rgb, depth = _frame(5)
    first = new.predict_batch([rgb] * 3, [depth] * 3, INTR, ["the red cup", "qwv", "the red cup"])
    again = new.predict(rgb, depth, INTR, "qwv")
    assert asked == [["the red cup", "qwv"]]  # each distinct text once, then remembered
    assert again.instruction_score == first[1].instruction_score
    monkeypatch.setattr(predict_module, "GATE_MEMORY", 1)
    new.predict(rgb, depth, INTR, "the blue bowl")
    new.predict(rgb, depth, INTR, "qwv")  # pushed out by the bowl: asked again
    assert asked[1:] == [["the blue bowl"], ["qwv"]]
    two = new.predict_batch([rgb] * 2, [depth] * 2, INTR, ["a red cup", "a blue cup"])
    assert all(p.instruction_score is not None for p in two)  # more texts than it keeps


def test_colour_skip_added_to_a_checkpoint_starts_silent_and_carries_cell_colours(
        model, tmp_path):
    new, (rgb, depth, ids, mask), a, b = _added_part(model, tmp_path, colour_skip=4)
    assert torch.equal(a.point_logits, b.point_logits) and torch.equal(a.rot6d, b.rot6d)
    # token (row 1, col 2) carries the 4x4 sub-cell means of pixels rows 16-31, cols 32-47
    cells = new._cell_colours(rgb)
    rows, cols = new.config.grid
    assert cells.shape == (2, rows * cols, 48)
    want = rgb[0, :, 16:32, 32:48].unflatten(1, (4, 4)).unflatten(3, (4, 4)).mean((2, 4))
    torch.testing.assert_close(cells[0, 1 * cols + 2], want.flatten())
    new.train()
    new(rgb, depth, ids, mask).point_logits.square().sum().backward()
    assert new.colour_skip.weight.grad.abs().sum() > 0
    with pytest.raises(CheckpointError, match="colour_skip"):
        load_pretrained(tmp_path / "ck", overrides={"colour_skip": 3})


def test_colour_match_starts_silent_then_scores_cells_by_colour(model, tmp_path):
    new, (rgb, depth, ids, mask), a, b = _added_part(model, tmp_path, colour_skip=4,
                                                     colour_match=True)
    with pytest.raises(CheckpointError, match="colour_match reads the colour_skip"):
        load_pretrained(tmp_path / "ck", overrides={"colour_match": True})
    assert torch.equal(a.point_logits, b.point_logits)
    new.train()
    new(rgb, depth, ids, mask).point_logits.square().sum().backward()
    assert new.colour_query.weight.grad.abs().sum() > 0  # the zero query still learns
    # once the query is non-zero, its term follows the pixels: painting one cell red changes
    # that cell's colour term and no other cell's
    new.eval()
    torch.nn.init.normal_(new.colour_query.weight)

    def colour_term(image):
        with torch.no_grad():
            full = new(image, depth, ids, mask).point_logits
            saved = new.colour_query.weight.clone()
            new.colour_query.weight.zero_()
            rest = new(image, depth, ids, mask).point_logits
            new.colour_query.weight.copy_(saved)
        return full - rest

    painted = rgb.clone()
    painted[:, :, 16:32, 32:48] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]
    change = (colour_term(painted) - colour_term(rgb)).abs()
    cell = 1 * new.config.grid[1] + 2
    assert change[:, cell].min() > 1e-3
    others = torch.ones_like(change, dtype=torch.bool)
    others[:, cell] = False
    assert change[others].max() < 1e-4


def test_a_side_grasp_is_the_identity_in_the_gravity_frame():
    from scipy.spatial.transform import Rotation

    from spatial_ros.data.grasps import side_grasp
    from spatial_ros.data.scene_graph import ObjectNode
    from spatial_ros.model.spatial_mamba import grasp_rotation_error, gravity_frame

    rng = np.random.default_rng(0)
    for _ in range(20):  # cameras above the table looking down 30-70 deg, any heading
        yaw, pitch = rng.uniform(-np.pi, np.pi), np.deg2rad(rng.uniform(30, 70))
        look = Rotation.from_euler("ZY", [yaw, pitch]).apply([1.0, 0.0, 0.0])
        x = np.cross(look, [0, 0, 1.0])
        x /= np.linalg.norm(x)
        cam_rot = np.column_stack([x, np.cross(look, x), look])  # optical: z ahead, y down
        cam_pos = np.array([0.0, 0.0, 0.8])
        obj = ObjectNode(0, "mug", "red", (0.05, 0.05, 0.1),
                         cam_pos + 0.8 / np.tan(pitch) * np.r_[look[:2] / np.linalg.norm(
                             look[:2]), 0.0] + np.r_[rng.uniform(-0.1, 0.1, 2), -0.75])
        grasp = side_grasp(obj, cam_pos)
        ray = cam_rot.T @ (obj.position - cam_pos)
        geo = torch.tensor(np.r_[cam_rot.T @ [0, 0, 1.0], ray / np.linalg.norm(ray)],
                           dtype=torch.float32)[None]
        truth = torch.tensor(cam_rot.T @ grasp.rotation, dtype=torch.float32)[None]
        assert torch.rad2deg(grasp_rotation_error(gravity_frame(geo), truth)).item() < 0.1


def test_the_training_rotation_error_matches_the_benchmark_s_per_symmetry():
    """The loss and validation read the same symmetric error the benchmark scores."""
    from scipy.spatial.transform import Rotation

    from spatial_ros.data.grasps import grasp_rotation_error_deg
    from spatial_ros.model.spatial_mamba import grasp_rotation_error

    pred = Rotation.random(12, random_state=1).as_matrix()
    true = Rotation.random(12, random_state=2).as_matrix()
    symmetry = torch.tensor([0, 2, 4] * 4)
    got = torch.rad2deg(grasp_rotation_error(torch.tensor(pred), torch.tensor(true),
                                             symmetry)).numpy()
    want = [grasp_rotation_error_deg(p, t, int(k))
            for p, t, k in zip(pred, true, symmetry, strict=True)]
    np.testing.assert_allclose(got, want, atol=1e-3)
    plain = torch.rad2deg(grasp_rotation_error(torch.tensor(pred), torch.tensor(true))).numpy()
    np.testing.assert_allclose(plain, [grasp_rotation_error_deg(p, t) for p, t in
                                       zip(pred, true, strict=True)], atol=1e-3)  # half turn
    assert (got <= plain + 1e-4).all()


def test_table_heights_read_a_box_on_a_tilted_table(model):
    """Height above the fitted plane: 0 on the table, the box's 7 cm on its top, whatever the
    camera's pitch (the point the shape key reads shapes from)."""
    from spatial_ros.model.spatial_mamba import HEIGHT_SCALE, table_heights, table_plane

    cfg = model.config
    h, w = cfg.image_height, cfg.image_width
    _, depth, _, box = _tilted_table(cfg)
    depth[0, 0] = 0.0  # a hole reads as table, not as something tall
    xyz = _point_map(model, depth)
    plane = table_plane(xyz, cfg.grid, cfg.max_depth_m)
    heights = table_heights(xyz, plane, cfg.max_depth_m)[0, 0].numpy() / HEIGHT_SCALE
    assert heights.shape == (h, w)
    assert heights[box] == pytest.approx(0.07, abs=0.005)
    table = np.ones((h, w), dtype=bool)
    table[box] = False
    assert np.abs(heights[table]).max() < 0.005


def _box_on_table(size, yaw_deg: float, h: int = 128, w: int = 160):
    """Depth (H, W) of a box of ``size`` (x, y, z metres) turned ``yaw_deg`` about the up of
    a table 0.7 m below a camera pitched 50 deg down, centred where the optical axis meets the
    table; with the intrinsics, the table's up and the box's x and y axes (camera frame)."""
    intr = Intrinsics(w, h, fx=150.0, fy=150.0, cx=w / 2 - 0.5, cy=h / 2 - 0.5)
    pitch = np.deg2rad(50.0)
    up = np.array([0.0, -np.cos(pitch), -np.sin(pitch)])
    ahead = np.array([0.0, 0.0, 1.0]) - np.sin(pitch) * -up  # level, away from the camera
    ahead /= np.linalg.norm(ahead)
    right = np.cross(ahead, up)
    yaw = np.deg2rad(yaw_deg)
    ax, ay = np.cos(yaw) * right + np.sin(yaw) * ahead, -np.sin(yaw) * right + np.cos(yaw) * ahead
    axes = np.column_stack([ax, ay, up])
    centre = np.array([0.0, 0.0, 0.7 / np.sin(pitch)]) + up * size[2] / 2
    u = (np.arange(w) - intr.cx) / intr.fx
    v = (np.arange(h) - intr.cy) / intr.fy
    rays = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((h, w))), -1)
    depth = -0.7 / (rays @ up)
    o, d = axes.T @ -centre, rays @ axes  # the box's own frame; t along a ray is its depth
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-np.asarray(size) / 2 - o) / d, (np.asarray(size) / 2 - o) / d
    near, far = np.minimum(t1, t2).max(-1), np.maximum(t1, t2).min(-1)
    hit = (near <= far) & (near > 0)
    depth[hit] = near[hit]
    return depth.astype(np.float32), intr, up, ax, ay


@pytest.mark.parametrize("yaw_deg", [0.0, 30.0, 65.0])
def test_the_footprint_frame_closes_across_the_narrow_side_of_what_is_answered(model, yaw_deg):
    """z down the table's normal, y across the block's 4.5 cm side (either side of a cube),
    whatever its yaw; an empty table falls back to the gravity frame's level axis."""
    from spatial_ros.model.spatial_mamba import (
        camera_geometry,
        footprint_frame,
        gravity_frame,
        table_plane,
    )

    grid, max_depth = (8, 10), model.config.max_depth_m

    def frame(depth, intr, cell=44):
        xyz = model.processor.normalize_depth(torch.tensor(depth)[None, None],
                                              normalized_intrinsics(intr)[None])
        plane = table_plane(xyz, grid, max_depth)
        look = torch.nn.functional.one_hot(torch.tensor([cell]), 80).float()
        geo = camera_geometry(xyz, plane[1], look, grid, max_depth)
        r = footprint_frame(xyz, plane, torch.tensor([cell]), geo, grid, max_depth)[0]
        return r.double(), geo

    def angle(a, b):  # degrees between two axes, either sign
        return np.degrees(np.arccos(min(1.0, abs(float(np.dot(a, b))))))

    depth, intr, up, ax, ay = _box_on_table((0.09, 0.045, 0.04), yaw_deg)
    r, _ = frame(depth, intr)
    assert angle(r[:, 2].numpy(), -up) < 0.5 and float(r[:, 2] @ torch.tensor(up)) < 0
    assert angle(r[:, 1].numpy(), ay) < 6.0  # across the narrow side
    torch.testing.assert_close(r.T @ r, torch.eye(3, dtype=r.dtype), atol=1e-5, rtol=0)
    depth, intr, up, ax, ay = _box_on_table((0.05, 0.05, 0.05), yaw_deg)
    r, _ = frame(depth, intr)
    assert min(angle(r[:, 1].numpy(), ax), angle(r[:, 1].numpy(), ay)) < 6.0
    depth, intr, up, _, _ = _box_on_table((0.05, 0.05, 0.0), yaw_deg)  # nothing on the table
    r, geo = frame(depth, intr)
    fallback = gravity_frame(geo)[0, :, 1].double().numpy()  # level, across the line of sight
    assert angle(r[:, 1].numpy(), fallback) < 1.0


def test_shape_match_starts_silent_and_learns(model, tmp_path):
    new, (rgb, depth, ids, mask), a, b = _added_part(model, tmp_path, shape_match=True)
    assert torch.equal(a.point_logits, b.point_logits) and torch.equal(a.rot6d, b.rot6d)
    new.train()
    new(rgb, depth, ids, mask).point_logits.square().sum().backward()
    assert new.shape_query.weight.grad.abs().sum() > 0  # the zero query still learns
    assert new.shape_skip.weight.grad.abs().sum() > 0
    with pytest.raises(CheckpointError, match="shape_match reads the depth point map"):
        load_pretrained(tmp_path / "ck", overrides={"shape_match": True, "depth_input": "depth"})


def test_relation_match_starts_silent_and_learns(model, tmp_path):
    from spatial_ros.model.losses import anchor_loss
    from spatial_ros.model.spatial_mamba import N_ANCHORS

    new, (rgb, depth, ids, mask), a, b = _added_part(model, tmp_path, relation_match=True)
    assert torch.equal(a.point_logits, b.point_logits) and torch.equal(a.rot6d, b.rot6d)
    n = new.config.n_image_tokens
    assert a.anchor_logits is None and b.anchor_logits.shape == (2, N_ANCHORS, n)
    new.train()
    out = new(rgb, depth, ids, mask)
    cells = torch.tensor([[3, -1], [-1, -1]])  # one sample names one anchor, one none
    loss = anchor_loss(out.anchor_logits, cells)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(
        out.anchor_logits[0, :1], cells[0, :1]))
    (loss + out.point_logits.square().sum()).backward()
    part = new.relation_match
    assert part.relation_query.weight.grad.abs().sum() > 0  # the zero query still learns
    assert part.anchor_query.weight.grad.abs().sum() > 0
    assert anchor_loss(out.anchor_logits, torch.full((2, 2), -1)).item() == 0.0
    with pytest.raises(CheckpointError, match="relation_match reads the depth point map"):
        load_pretrained(tmp_path / "ck", overrides={"relation_match": True,
                                                    "depth_input": "depth"})


def test_relation_offsets_are_level_and_read_right_and_ahead(model):
    """The relation keys' input: on a table seen 50 deg from above, a cell right of another
    in the image lies at +x (level), a cell higher in the image (farther) at +y, both at z ~ 0."""
    from spatial_ros.model.spatial_mamba import cell_points, table_frame, table_plane

    cfg = model.config
    _, depth, up, _ = _tilted_table(cfg)
    xyz = _point_map(model, depth)
    frame = table_frame(table_plane(xyz, cfg.grid, cfg.max_depth_m)[1])[0]
    assert torch.allclose(frame.T @ frame, torch.eye(3), atol=1e-5)
    assert np.degrees(np.arccos(np.clip(frame[:, 2].numpy() @ up, -1, 1))) < 2.0
    points = cell_points(xyz, cfg.grid, cfg.max_depth_m)[0]
    rows, cols = cfg.grid
    anchor = (rows - 1) * cols  # bottom-left: on the table (the box is in the middle row)
    x, y, z = ((points[anchor + 2] - points[anchor]) @ frame).tolist()
    assert x > 0.02 and abs(y) < 0.01 and abs(z) < 0.005
    middle = cols // 2  # the image's centre line (columns converge away from it)
    top = points[middle - 1:middle + 1].mean(0)
    bottom = points[anchor + middle - 1:anchor + middle + 1].mean(0)
    x, y, z = ((top - bottom) @ frame).tolist()
    assert y > 0.02 and abs(x) < 0.01 and abs(z) < 0.005


def test_colour_fine_starts_silent_and_learns(model, tmp_path):
    new, (rgb, depth, ids, mask), a, b = _added_part(model, tmp_path, colour_fine=4,
                                                     relation_match=True)
    assert torch.equal(a.point_logits, b.point_logits)
    new.train()
    out = new(rgb, depth, ids, mask)
    (out.point_logits.square().sum() + out.anchor_logits.square().sum()).backward()
    assert new.colour_fine.query.weight.grad.abs().sum() > 0  # the zero query still learns
    assert new.relation_match.anchor_fine.weight.grad.abs().sum() > 0
    with pytest.raises(CheckpointError, match="colour_fine reads the depth point map"):
        load_pretrained(tmp_path / "ck", overrides={"colour_fine": 4, "depth_input": "depth"})
    with pytest.raises(CheckpointError, match="colour_fine 3 must divide"):
        load_pretrained(tmp_path / "ck", overrides={"colour_fine": 3})


def test_colour_fine_cell_score_is_a_soft_maximum_over_the_cell():
    """One strongly matching sub-patch (a small object) outscores a cell whose every
    sub-patch matches a little (the same mean: what a per-cell average key would see), and
    painting one sub-patch changes its own cell's score only."""
    from spatial_ros.model.spatial_mamba import COLOUR_WIDTH, FineColourMatch

    part = FineColourMatch(8, factor=4)
    query = torch.zeros(1, 1, COLOUR_WIDTH)
    query[..., 0] = 1.0
    keys = torch.zeros(1, COLOUR_WIDTH, 2 * 4, 3 * 4)  # a 2x3 grid of cells
    scale = COLOUR_WIDTH ** 0.5  # the match divides by sqrt(width)
    keys[0, 0, 1, 1] = 16.0 * scale  # cell 0: one sub-patch of 16 matches strongly
    keys[0, 0, 0:4, 4:8] = 1.0 * scale  # cell 1: all 16 match weakly (same sum)
    scores = part.cell_scores(keys, query)[0, 0]
    assert scores[0] > scores[1] > 0
    assert torch.allclose(scores[2:], torch.zeros(4))
    painted = keys.clone()
    painted[0, 0, 5, 9] = 8.0 * scale  # a sub-patch of cell (1, 2)
    change = (part.cell_scores(painted, query) - part.cell_scores(keys, query))[0, 0]
    assert change[5] > 0 and torch.count_nonzero(change) == 1


def test_minilm_vectors_do_not_depend_on_the_left_padding_of_a_batch():
    """The processor pads on the left; MiniLM's positions must count from the first real
    token, or a short instruction batched with a long one reads differently than alone (the
    compiled path pads every instruction to 32 tokens)."""
    from spatial_ros.model.text import MiniLMTextEncoder, SentenceEncoder, load_tokenizer

    tok = load_tokenizer("spatial_ros/checkpoints")
    assert tok.padding_side == "left"
    texts = ["pick up the red cup", "grab whatever is closest to you, then put it in the bowl"]
    batch = tok(texts, padding=True, return_tensors="pt")
    alone = [tok([t], return_tensors="pt") for t in texts]
    sentence, tokens = SentenceEncoder(), MiniLMTextEncoder()
    together = sentence(batch.input_ids, batch.attention_mask)
    each = torch.cat([sentence(a.input_ids, a.attention_mask) for a in alone])
    assert torch.allclose(together, each, atol=1e-5)
    assert torch.allclose(together.norm(dim=-1), torch.ones(2))
    short = tokens(batch.input_ids, batch.attention_mask)[0]
    n = int(alone[0].attention_mask.sum())
    assert torch.allclose(short[-n:], tokens(alone[0].input_ids, alone[0].attention_mask)[0],
                          atol=1e-4)
    assert short[:-n].abs().max() == 0  # padding stays zero
    # a request and an off-task question lie farther apart than two wordings of a request
    three = tok(["pick up the red cup", "grab the red mug for me", "tell me about black holes"],
                padding=True, return_tensors="pt")
    a, b, c = sentence(three.input_ids, three.attention_mask)
    assert float(a @ b) > float(a @ c)
