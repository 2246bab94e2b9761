"""Weights out of LUAB: the backbone as a timm classifier, in timm's own folder format."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import torch
from timm.models import save_for_hf

from .luab import LuabForImageClassification


def export_timm(model: LuabForImageClassification, folder: str | os.PathLike) -> str:
    """Write ``folder`` as timm writes a model for the Hub (``config.json`` with the
    architecture, ``num_classes``, ``label_names`` and ``pretrained_cfg``; ``model.safetensors``),
    so that

        timm.create_model("local-dir:FOLDER", pretrained=True)

    rebuilds the classifier with the model's classes and gives the same logits; uploaded as a model
    repo, ``timm.create_model("hf-hub:ORG/NAME", pretrained=True)`` does. The classifier becomes
    timm's head; the byproduct heads stay behind. Returns the folder.
    """
    if model.backbone_type != "timm_wrapper":
        raise ValueError(f"export_timm needs a timm backbone, this model has {model.backbone_type!r}")
    folder = Path(folder)
    if folder.suffix == ".safetensors":
        raise ValueError(f"{folder}: export_timm writes timm's folder format (config.json + model.safetensors); "
                         "pass a folder and load it with timm.create_model('local-dir:FOLDER', pretrained=True)")
    timm_model = copy.deepcopy(model.backbone.model.timm_model).cpu().eval()
    timm_model.reset_classifier(model.config.num_labels)
    head = timm_model.get_classifier()
    if not isinstance(head, torch.nn.Linear) or head.weight.shape != model.classifier.weight.shape:
        raise ValueError(f"{model.config.backbone_config.architecture}: timm's head {head} cannot take the classifier "
                         f"of shape {tuple(model.classifier.weight.shape)}")
    with torch.no_grad():
        head.weight.copy_(model.classifier.weight)
        head.bias.copy_(model.classifier.bias)
    labels = [model.config.id2label[index] for index in range(model.config.num_labels)]
    save_for_hf(timm_model, str(folder), model_config={"num_classes": model.config.num_labels, "label_names": labels},
                safe_serialization=True)
    return str(folder)
