"""Training: CLI with stages, validation, calibration, resume; policy-only stage; 2-rank DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from test_model_synth_data import SMALL_TINY, write_synthetic_dataset

from spatial_ros.cli.main import main as cli_main
from spatial_ros.model.checkpoint import build_model, load_pretrained
from spatial_ros.model.config import preset_config
from spatial_ros.model.data_loading import CachedRefDataset, build_cache
from spatial_ros.model.losses import LossWeights, compute_losses
from spatial_ros.model.train import (
    GROUPS,
    _trim_text,
    fit_temperature,
    model_inputs,
    selection_score,
    set_trainable,
)

SMALL = dict(preset="tiny", **SMALL_TINY)
REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("ds"), {"train": 12, "val": 4})


def _config(path: Path, out: Path, data: Path, stages: list[dict], **kw) -> Path:
    cfg = {"out_dir": str(out), "model": SMALL, "data": {"root": str(data)},
           "stages": stages, "batch_size": 8, "val_every_epochs": 1.0, **kw}
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_cli_stages_validation_calibration_and_resume(dataset, tmp_path, capsys):
    out = tmp_path / "run"
    stages = [{"name": "align", "trainable": ["projectors"], "epochs": 0.5, "lr": 3e-3},
              {"name": "full", "trainable": ["all"], "epochs": 1, "lr": 3e-3,
               "warmup_steps": 2}]
    cfg = _config(tmp_path / "a.yaml", out, dataset, stages, max_minutes=5)
    assert cli_main(["train", "--config", str(cfg)]) == 0
    assert '"calibration"' in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert 0 <= summary["val"]["all"] <= 1 and "single" in summary["val"]
    assert summary["calibration"]["temperature"] > 0
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in log][:1] == ["align"] and log[-1]["stage"] == "full"
    best = load_pretrained(out / "best")
    assert best.config.calibration_temperature == pytest.approx(
        summary["calibration"]["temperature"])
    state = json.loads((out / "last" / "train_state.json").read_text())
    assert state["stage"] == 1 and state["step"] == 6  # 48 samples / batch 8, one epoch
    # resume with one more stage: skips finished stages, continues from last/
    stages.append({"name": "policy", "trainable": ["policy_head"], "epochs": 0.5, "lr": 1e-3})
    cfg = _config(tmp_path / "b.yaml", out, dataset, stages)
    assert cli_main(["train", "--config", str(cfg), "--resume"]) == 0
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["stage"] == "policy"
    assert sum(r["stage"] == "full" for r in log) == 1  # not re-run
    assert log[-1]["val"]["grasp_rot_deg"] >= 0  # what a policy-only stage is judged on



def test_extra_roots_join_the_training_and_validation_data(dataset, tmp_path):
    """``data.extra_roots`` (datasets/robots beside v1): one epoch walks both train splits,
    and validation scores both val splits."""
    extra = write_synthetic_dataset(tmp_path / "extra", {"train": 4, "val": 2}, seed=3)
    out = tmp_path / "run"
    cfg = _config(tmp_path / "c.yaml", out, dataset,
                  [{"name": "full", "trainable": ["all"], "epochs": 1, "lr": 1e-3,
                    "warmup_steps": 1}], calibrate=False)
    text = yaml.safe_load(cfg.read_text())
    text["data"]["extra_roots"] = [str(extra)]
    cfg.write_text(yaml.safe_dump(text))
    assert cli_main(["train", "--config", str(cfg)]) == 0
    state = json.loads((out / "last" / "train_state.json").read_text())
    assert state["step"] == 8  # (48 + 16 samples) / batch 8
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["data"]["extra_roots"] == [str(extra)]


def _fit(model, batch: dict, params, lr: float, steps: int) -> list[dict[str, float]]:
    """``steps`` AdamW steps on one batch; every step's losses."""
    opt = torch.optim.AdamW(params, lr=lr)
    losses = []
    for _ in range(steps):
        loss = compute_losses(model, model(*model_inputs(model, batch, "cpu")), batch,
                              LossWeights())
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
        losses.append({k: v.item() for k, v in loss.items()})
    return losses


def test_policy_stage_trains_only_the_policy_head_and_losses_fall(dataset):
    torch.manual_seed(0)
    cfg = dict(SMALL)
    model = build_model(preset_config(cfg.pop("preset"), **cfg))
    ds = CachedRefDataset(build_cache(dataset, "train", model.processor))
    batch = _trim_text(torch.utils.data.default_collate([ds[i] for i in range(16)]))
    params = set_trainable(model, ["policy_head"])
    assert {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad} == {
        "policy_head"}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = _fit(model, batch, params, lr=3e-3, steps=15)
    changed = {n.split(".")[0] for n, p in model.named_parameters()
               if not torch.equal(p, before[n])}
    assert changed == {"policy_head"}
    assert losses[-1]["width"] < losses[0]["width"]
    assert losses[-1]["rotation"] < losses[0]["rotation"]
    assert losses[-1]["point"] == pytest.approx(losses[0]["point"], abs=1e-5)  # frozen


def test_side_grasp_stage_trains_its_head_on_its_own_kind_and_its_gate_on_the_words(dataset):
    """Only the side head and its gate move; the gate learns which phrases ask for a side
    grasp, the side head fits those grasps, and the top-down head's answers stay as they were
    (the synthetic data's relation prompts, "the block left of the ...", stand in for side
    grasps here)."""
    torch.manual_seed(0)
    cfg = dict(SMALL)
    model = build_model(preset_config(cfg.pop("preset"), **cfg, side_grasp=True))
    ds = CachedRefDataset(build_cache(dataset, "train", model.processor))
    assert "grasp_side" in ds[0] and not any(ds[i]["grasp_side"] for i in range(len(ds)))
    batch = _trim_text(torch.utils.data.default_collate([ds[i] for i in range(16)]))
    # each synthetic scene asks "the red / green / side block", then a relation, in order
    side = torch.arange(16) % 4 == 3
    assert (batch["steps"][side] == 2).all() and (batch["steps"][~side] == 1).all()
    batch["grasp_side"] = side
    params = set_trainable(model, ["side_grasp"])
    with torch.no_grad():
        top_before = model(*model_inputs(model, batch, "cpu")).grasp_heads["top"].rot6d
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = _fit(model, batch, params, lr=3e-2, steps=40)
    changed = {n.split(".")[0] for n, p in model.named_parameters()
               if not torch.equal(p, before[n])}
    assert changed == {"side_grasp"}
    assert losses[-1]["kind"] < 0.1 * losses[0]["kind"]
    assert losses[-1]["rotation"] < losses[0]["rotation"]
    with torch.no_grad():
        out = model(*model_inputs(model, batch, "cpu"))
    assert torch.equal(out.side_logit > 0, side)
    assert torch.equal(out.grasp_heads["top"].rot6d, top_before)
    assert torch.equal(out.rot6d[~side], top_before[~side])
    # no side grasps in a batch: the side head's grasp terms send it nothing, the gate still
    # learns "not a side grasp"
    batch["grasp_side"] = torch.zeros_like(side)
    model.zero_grad()
    compute_losses(model, model(*model_inputs(model, batch, "cpu")), batch,
                   LossWeights())["total"].backward()
    assert not model.side_grasp.body[0].weight.grad.any()
    assert model.side_grasp.gate.weight.grad.abs().sum() > 0


def test_relation_match_anchor_heads_learn_the_named_anchor(dataset):
    """The synthetic relation prompts ("the block left of the green block") name one anchor:
    trained on the point_head group, the anchor loss falls and the first head's softmax
    gathers on the anchor's cell; samples without an anchor add nothing to that loss."""
    torch.manual_seed(0)
    cfg = dict(SMALL)
    model = build_model(preset_config(cfg.pop("preset"), relation_match=True, **cfg),
                        init_text=False)
    ds = CachedRefDataset(build_cache(dataset, "train", model.processor))
    batch = _trim_text(torch.utils.data.default_collate([ds[i] for i in range(len(ds))]))
    named = batch["anchor_cells"][:, 0] >= 0
    assert 0 < int(named.sum()) < len(ds) and (batch["anchor_cells"][:, 1] == -1).all()
    losses = _fit(model, batch, set_trainable(model, ["point_head"]), lr=1e-2, steps=40)
    assert losses[-1]["anchor"] < 0.5 * losses[0]["anchor"]
    with torch.no_grad():
        probs = model(*model_inputs(model, batch, "cpu")).anchor_logits[:, 0].softmax(-1)
    on_anchor = probs[named].gather(1, batch["anchor_cells"][named, :1])[:, 0]
    assert on_anchor.mean() > 0.5


def test_object_aux_reads_every_objects_colour_at_its_centroid(dataset):
    """object_aux: the cache carries every scene object's centroid and classes; trained,
    the object loss falls and the colour read from each object's cell
    token and from its centroid's fine colour key is right for every object of the batch."""
    from spatial_ros.data.vocab import COLOURS
    from spatial_ros.model.losses import object_loss

    torch.manual_seed(0)
    cfg = dict(SMALL)
    model = build_model(preset_config(cfg.pop("preset"), object_aux=True, colour_fine=4,
                                      **cfg), init_text=False)
    ds = CachedRefDataset(build_cache(dataset, "train", model.processor))
    batch = _trim_text(torch.utils.data.default_collate([ds[i] for i in range(len(ds))]))
    real = batch["object_labels"][..., 0] >= 0
    assert (real.sum(1) == 3).all()  # the three blocks of every synthetic scene
    assert set(batch["object_labels"][..., 1][real].tolist()) == {1}  # all "block"
    colours = {COLOURS[i] for i in batch["object_labels"][..., 0][real].tolist()}
    assert colours == {"red", "green", "blue"}
    losses = _fit(model, batch, set_trainable(model, ["all"]), lr=3e-3, steps=30)
    assert losses[-1]["objects"] < 0.3 * losses[0]["objects"]
    with torch.no_grad():
        out = model(*model_inputs(model, batch, "cpu"))
    empty = batch["object_labels"].clone()
    empty[:] = -1
    assert object_loss(model, out, batch["object_xy"], empty).item() == 0.0
    b, k = real.nonzero(as_tuple=True)
    xy, truth = batch["object_xy"][b, k], batch["object_labels"][b, k, 0]
    rows, cols = model.config.grid
    cell = (xy[:, 1] * rows).long() * cols + (xy[:, 0] * cols).long()
    token = model.object_head(out.tokens[b, cell])[:, :len(COLOURS)].argmax(-1)
    h, w = out.fine_keys.shape[2:]
    fine = out.fine_keys[b, :, (xy[:, 1] * h).long(), (xy[:, 0] * w).long()]
    assert torch.equal(token, truth)
    assert torch.equal(model.fine_object_head(fine).argmax(-1), truth)


def test_term_supervision_teaches_each_point_score_on_its_own(dataset):
    """loss.terms: the point logits are the sum of the scores the output lists; trained with
    the term loss, each score alone puts more of its softmax on the target's cells than when
    only the sum is trained (same init, same steps)."""
    from spatial_ros.model.losses import point_loss

    torch.manual_seed(0)
    cfg = dict(SMALL)
    model = build_model(preset_config(cfg.pop("preset"), word_match=True, colour_skip=4,
                                      colour_match=True, **cfg), init_text=False)
    ds = CachedRefDataset(build_cache(dataset, "train", model.processor))
    batch = _trim_text(torch.utils.data.default_collate([ds[i] for i in range(len(ds))]))
    out = model(*model_inputs(model, batch, "cpu"))
    assert set(out.point_terms) == {"token", "word", "colour"}
    assert torch.allclose(sum(out.point_terms.values()), out.point_logits)
    assert "terms" not in compute_losses(model, out, batch, LossWeights())
    target = batch["cell_target"].float()
    state = {k: v.clone() for k, v in model.state_dict().items()}

    def each_score_alone_after_training(terms: float) -> dict[str, float]:
        model.load_state_dict(state)
        opt = torch.optim.AdamW(set_trainable(model, ["all"]), lr=3e-3)
        for _ in range(30):
            loss = compute_losses(model, model(*model_inputs(model, batch, "cpu")), batch,
                                  LossWeights(terms=terms))
            opt.zero_grad()
            loss["total"].backward()
            opt.step()
        with torch.no_grad():
            scores = model(*model_inputs(model, batch, "cpu")).point_terms
        return {k: point_loss(v, target).item() for k, v in scores.items()}

    plain, supervised = each_score_alone_after_training(0.0), each_score_alone_after_training(1.0)
    for name in plain:
        assert supervised[name] < plain[name] - 0.1, (name, plain, supervised)


def test_target_pooled_policy_head_leaves_where_the_point_head_looks_alone(dataset):
    torch.manual_seed(0)
    cfg = dict(SMALL)
    mean_model = build_model(preset_config(cfg.pop("preset"), **cfg))
    model = build_model(preset_config("tiny", **cfg, policy_pool="target"))
    model.load_state_dict(mean_model.state_dict())  # same shapes: a checkpoint switches pools
    ds = CachedRefDataset(build_cache(dataset, "train", model.processor))
    batch = _trim_text(torch.utils.data.default_collate([ds[i] for i in range(8)]))
    set_trainable(model, ["all"])
    out = model(*model_inputs(model, batch, "cpu"))
    ref = mean_model(*model_inputs(mean_model, batch, "cpu"))
    assert torch.equal(out.point_logits, ref.point_logits)
    assert not torch.allclose(out.rot6d, ref.rot6d)  # the head reads other tokens
    grasp = compute_losses(model, out, batch, LossWeights(point=0, offset=0))
    grasp["total"].backward()
    for name, p in model.named_parameters():
        if name.split(".")[0] in GROUPS["point_head"]:
            assert p.grad is None or not p.grad.any(), name
    assert model.policy_head[0].weight.grad.abs().sum() > 0


def test_best_checkpoint_order_breaks_ties_on_grasp_rotation():
    frozen_point = {"all": 0.35, "single": 0.4}
    assert selection_score({**frozen_point, "grasp_rot_deg": 12.0}) > selection_score(
        {**frozen_point, "grasp_rot_deg": 30.0})
    assert selection_score({"all": 0.36, "grasp_rot_deg": 40.0}) > selection_score(
        {"all": 0.35, "grasp_rot_deg": 5.0})


RECIPES = sorted((REPO / "config" / "train").glob("*.yaml"))


def _recipe_model_config(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The model config a recipe trains: its overrides on top of what ``init_from`` names,
    either a checkpoint in the repo or the ``best`` output of another recipe (a chain of runs,
    followed back to a recipe that starts from a preset)."""
    from spatial_ros.common.config import load_config
    from spatial_ros.model.config import SpatialMambaConfig
    from spatial_ros.model.train import TrainConfig

    assert path not in seen, f"recipes initialise from each other in a loop: {seen}"
    cfg = load_config(TrainConfig, path)
    model = dict(cfg.model)
    if not cfg.init_from:
        return preset_config(model.pop("preset", "tiny"), **model).to_dict()
    if (REPO / cfg.init_from / "config.json").is_file():
        base = SpatialMambaConfig.from_json(REPO / cfg.init_from / "config.json").to_dict()
    else:
        makers = [r for r in RECIPES
                  if Path(load_config(TrainConfig, r).out_dir) / "best" == Path(cfg.init_from)]
        assert makers, f"{path.name}: init_from {cfg.init_from} is neither a checkpoint in the " \
                       "repo nor the best output of another recipe"
        base = _recipe_model_config(makers[0], (*seen, path))
    return SpatialMambaConfig(**{**base, **model}).to_dict()


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_training_recipe_loads_and_names_real_model_fields(path):
    from spatial_ros.common.config import load_config
    from spatial_ros.model.train import TrainConfig

    cfg = load_config(TrainConfig, path)
    for stage in cfg.stages:
        assert set(stage.trainable) <= set(GROUPS) | {"all"}, stage
    _recipe_model_config(path)


def test_the_recipe_chain_ends_at_the_shipped_checkpoint():
    """Reproducibility: following the chain of runs gives the shipped model's architecture."""
    from spatial_ros.model.config import SpatialMambaConfig

    shipped = SpatialMambaConfig.from_json(
        REPO / "spatial_ros" / "checkpoints" / "config.json").to_dict()
    from spatial_ros.common.config import load_config
    from spatial_ros.model.train_text_gate import TextGateConfig

    chained = _recipe_model_config(REPO / "config" / "train" / "side_grasp.yaml")
    # then the instruction gate, trained on text alone (spatial-ros train-gate)
    gate = load_config(TextGateConfig, REPO / "config" / "gate" / "instruction_gate.yaml")
    chained.update(instruction_gate=True, instruction_gate_reads=gate.reads,
                   instruction_gate_hidden=gate.hidden)
    ignore = {"calibration_temperature"}  # fitted after training, not a recipe's choice
    assert {k: v for k, v in chained.items() if k not in ignore} == \
        {k: v for k, v in shipped.items() if k not in ignore}


@pytest.mark.parametrize("path", sorted((REPO / "config" / "gate").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_gate_recipe_loads(path):
    from spatial_ros.common.config import load_config
    from spatial_ros.model.train_text_gate import GATES, TextGateConfig

    cfg = load_config(TextGateConfig, path)
    assert cfg.gate in GATES and cfg.roots and cfg.steps > 0
    with pytest.raises(ValueError, match="gate must be one of"):
        TextGateConfig(gate="colour")


def test_all_trains_every_module_but_the_frozen_text_table():
    """Regression: FiLM and the point query/key once sat in no group and never trained."""
    cfg = dict(SMALL)
    model = build_model(preset_config(cfg.pop("preset"), **cfg), init_text=False)
    set_trainable(model, ["all"])
    frozen = {n.split(".")[0] for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen <= {"text_encoder", "backbone"}
    trained = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert {"text_to_image", "point_query", "point_key", "backbone"} <= trained
    model.extra = torch.nn.Linear(2, 2)  # a new part nobody put in a group is an error
    with pytest.raises(RuntimeError, match="extra"):
        set_trainable(model, ["all"])


def test_temperature_calibration_matches_confidence_to_accuracy():
    cfg = dict(SMALL)
    model = build_model(preset_config(cfg.pop("preset"), **cfg), init_text=False)
    rng = np.random.default_rng(0)
    n, cells = 400, model.config.n_image_tokens
    logits = torch.from_numpy(rng.normal(0, 1, (n, cells)).astype(np.float32))
    logits[:, 0] += 6.0  # overconfident: ~all mass on one cell...
    success = rng.random(n) < 0.5  # ...but right only half of the time
    t = fit_temperature(model, logits, success)
    assert t > 1.5  # softened
    from spatial_ros.model.train import _confidence

    conf = _confidence(model, logits, t).numpy()
    assert abs(conf.mean() - success.mean()) < 0.1


@pytest.mark.slow
def test_ddp_two_gloo_ranks(dataset, tmp_path):
    out = tmp_path / "ddp"
    stages = [{"name": "full", "trainable": ["all"], "epochs": 1, "lr": 3e-3,
               "warmup_steps": 1}]
    cfg = _config(tmp_path / "ddp.yaml", out, dataset, stages, num_threads=1, calibrate=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", str(29500 + os.getpid() % 1000), "-m", "spatial_ros.cli.main",
         "train", "--config", str(cfg)], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads((out / "last" / "train_state.json").read_text())
    assert state["step"] == 3  # 48 samples split over 2 ranks, batch 8 each
    summary = json.loads((out / "summary.json").read_text())
    assert summary["history"] and 0 <= summary["val"]["all"] <= 1


def _prompt_root(root: Path) -> Path:
    """A dataset root with only what the gate trainer reads: each split's prompts and kinds
    (a third of them asking for a side grasp)."""
    from spatial_ros.data.vocab import (
        CATEGORY_NOUNS,
        COLOURS,
        REFER_PREFIXES,
        SIDE_GRASP_PHRASES,
        SIDE_GRASP_PREFIXES,
    )

    root.mkdir(parents=True)
    nps = [f"the {c} {n}" for c in COLOURS for ns in CATEGORY_NOUNS.values() for n in ns]
    records = [{"prompt": p + x, "kind": "attr"} for p in REFER_PREFIXES for x in nps]
    records += [{"prompt": f"{p}{x} {s}", "kind": "grasp_side"} for p in SIDE_GRASP_PREFIXES
                for x in nps[::2] for s in SIDE_GRASP_PHRASES[:2]]
    rng = np.random.default_rng(0)
    rng.shuffle(records)
    n = len(records)
    for split, part in (("train", records[:n * 5 // 6]), ("val", records[n * 5 // 6:])):
        (root / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    return root


@pytest.mark.parametrize("reads", ["sentence", "words"])
def test_the_instruction_gate_trains_on_text_alone_and_nothing_else_moves(tmp_path, capsys,
                                                                         reads):
    """``spatial-ros train-gate``: the gate learns to accept held-out scene prompts and to
    refuse held-out nonsense; every other weight of the checkpoint is untouched."""
    cfg = dict(SMALL)
    model = build_model(preset_config(cfg.pop("preset"), **cfg))
    model.save_pretrained(tmp_path / "ck")
    root = _prompt_root(tmp_path / "prompts")
    gate_cfg = {"out_dir": str(tmp_path / "gate"), "init_from": str(tmp_path / "ck"),
                "roots": [str(root)], "steps": 150, "batch_size": 64, "lr": 0.01,
                "eval_every": 150, "num_threads": 1, "reads": reads,
                # a sentence vector costs a MiniLM pass, a word lookup nothing
                "pool": 1000 if reads == "sentence" else 10000}
    (tmp_path / "gate.yaml").write_text(yaml.safe_dump(gate_cfg))
    assert cli_main(["train-gate", "--config", str(tmp_path / "gate.yaml")]) == 0
    assert "| prompts/val | yes |" in capsys.readouterr().out
    report = json.loads((tmp_path / "gate" / "report.json").read_text())
    rows = {r["set"]: r["passed"] for r in report["final"]}
    assert rows["prompts/val"] >= 0.95
    # a fresh gate accepts everything; unseen dictionary words are the hardest family
    for family, most in (("letters", 0.1), ("keyboard", 0.1), ("words", 0.35)):
        assert rows[f"{family} (held out)"] <= most, rows
    trained = load_pretrained(tmp_path / "gate" / "final")
    assert trained.config.instruction_gate and trained.config.instruction_gate_reads == reads
    before = model.state_dict()
    for name, value in trained.state_dict().items():
        if not name.startswith("instruction_gate."):
            assert torch.equal(value, before[name]), name


def test_the_side_grasp_gate_trains_on_text_alone_and_nothing_else_moves(tmp_path):
    """``gate: side_grasp``: a fresh side-grasp gate learns from the words which prompts ask
    for a grasp from the side; the side head's body and everything else stay as they were."""
    from spatial_ros.model.train_text_gate import TextGateConfig, train_text_gate

    cfg = dict(SMALL)
    model = build_model(preset_config(cfg.pop("preset"), side_grasp=True, **cfg))
    with torch.no_grad():  # a trained-looking gate, which the trainer must start afresh
        model.side_grasp.gate.bias.fill_(3.0)
    model.save_pretrained(tmp_path / "ck")
    root = _prompt_root(tmp_path / "prompts")
    report = train_text_gate(TextGateConfig(
        gate="side_grasp", out_dir=str(tmp_path / "gate"), init_from=str(tmp_path / "ck"),
        roots=[str(root)], steps=150, batch_size=64, lr=0.02, eval_every=150, num_threads=1))
    rows = {r["set"]: r["passed"] for r in report["final"]}
    assert rows["prompts/val side-grasp"] >= 0.9 and rows["prompts/val other"] <= 0.05, rows
    trained = load_pretrained(tmp_path / "gate" / "final")
    before = model.state_dict()
    for name, value in trained.state_dict().items():
        if not name.startswith("side_grasp.gate."):
            assert torch.equal(value, before[name]), name
    build_model(preset_config(cfg.pop("preset", "tiny"), **cfg)).save_pretrained(
        tmp_path / "plain")
    with pytest.raises(ValueError, match="no side-grasp head"):
        train_text_gate(TextGateConfig(gate="side_grasp", init_from=str(tmp_path / "plain"),
                                       roots=[str(root)]))
