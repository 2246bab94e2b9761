"""Weights out of LUAB: a timm checkpoint of the backbone with the classifier as its head."""

from __future__ import annotations

import os

from safetensors.torch import save_file

from .luab import LuabForImageClassification


def export_timm(model: LuabForImageClassification, path: str | os.PathLike) -> str:
    """Write a ``.safetensors`` file timm loads as the architecture's own weights:

        timm.create_model(arch, pretrained=True, pretrained_cfg_overlay=dict(file=path, num_classes=K))

    gives the same logits as ``model`` (``num_classes`` tells timm the head fits the file; without
    it timm expects its 1000 ImageNet classes and drops the head). The backbone keys lose the LUAB prefix and the classifier
    takes the name of timm's head (``fc``, ``head``, ``head.fc``, ``classifier``, ...); the
    byproduct heads stay behind. Returns the path.
    """
    if model.backbone_type != "timm_wrapper":
        raise ValueError(f"export_timm needs a timm backbone, this model has {model.backbone_type!r}")
    timm_model = model.backbone.model.timm_model
    head = timm_model.pretrained_cfg.get("classifier") or "head"
    if isinstance(head, (list, tuple)):
        head = head[0]
    state = {key: value.detach().cpu().contiguous() for key, value in timm_model.state_dict().items()}
    state[f"{head}.weight"] = model.classifier.weight.detach().cpu().contiguous()
    state[f"{head}.bias"] = model.classifier.bias.detach().cpu().contiguous()
    save_file(state, str(path), metadata={"format": "pt", "architecture": model.config.backbone_config.architecture})
    return str(path)
