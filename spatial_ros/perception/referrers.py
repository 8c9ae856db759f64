"""Building the referrer the pipeline runs: the trained model, or the geometric baseline.

Loading failures (missing checkpoint, broken file) raise with the path and the reason,
so the node can report them in every result instead of dying at start-up.
"""

from __future__ import annotations

from pathlib import Path

import spatial_ros

CHECKPOINTS_DIR = Path(spatial_ros.__file__).resolve().parent / "checkpoints"


def resolve_checkpoint(path: str | Path = "") -> Path:
    """A directory holding ``config.json`` + ``model.safetensors``. ``""`` means the
    package's shipped checkpoint (``spatial_ros/checkpoints`` or its single subfolder)."""
    root = Path(path).expanduser() if str(path) else CHECKPOINTS_DIR
    if (root / "config.json").is_file():
        candidate = root
    else:
        found = sorted(p.parent for p in root.glob("*/config.json")) if root.is_dir() else []
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise FileNotFoundError(f"several checkpoints under {root} ({names}): set "
                                    f"model_path to one of them")
        if not found:
            raise FileNotFoundError(f"model checkpoint not found: no config.json in {root}")
        candidate = found[0]
    return candidate  # the loader names any other missing file


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device '{device}' requested but CUDA is not available")
    return device


def load_referrer(kind: str = "model", model_path: str = "", device: str = "auto",
                  compile_model: bool = False, attribute_check: bool = False):
    """Returns ``(referrer, name)``; raises FileNotFoundError / RuntimeError / ValueError.
    ``compile_model``: serve through ``torch.compile`` (model.compiled_forward; the first
    inference compiles). ``attribute_check``: the model's answer is checked against the
    phrase's colour and kind (``perception.attribute_check``); the model referrer only."""
    if kind == "geometric":
        from spatial_ros.data.baselines import GeometricReferrer

        return GeometricReferrer(), "geometric"
    if kind != "model":
        raise ValueError(f"unknown referrer '{kind}': use 'model' or 'geometric'")
    path = resolve_checkpoint(model_path)
    from spatial_ros.model import SpatialMamba

    dev = pick_device(device)
    model = SpatialMamba.from_pretrained(path, device=dev)
    model.eval()
    if compile_model:
        from spatial_ros.model.compiled_forward import compile_for_inference

        compile_for_inference(model)
    name = f"model:{path.name}@{dev}{'+compiled' if compile_model else ''}"
    if attribute_check:
        from spatial_ros.perception.attribute_check import AttributeCheckedReferrer

        return AttributeCheckedReferrer(model), name + "+check"
    return model, name
