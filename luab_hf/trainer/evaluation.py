"""Evaluation over one split: classification metrics, point error and attention alignment."""

from __future__ import annotations

import torch
from accelerate import Accelerator

from ..metrics import (
    attention_alignment,
    cam_peaks,
    mean_average_precision,
    multilabel_f1,
    point_error,
    topk_accuracy,
)


@torch.no_grad()
def evaluate(model, loader, accelerator: Accelerator, multi_label: bool) -> dict[str, float]:
    """Classification metrics, point error and attention alignment over one split."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for batch in loader:
        out = model(pixel_values=batch["pixel_values"], output_class_maps=True)
        cams = out.class_maps.float()
        if not multi_label:  # the map of the true class
            cams = cams[torch.arange(len(cams), device=cams.device), batch["labels"]].unsqueeze(1)
        values = {"logits": out.logits.float(), "labels": batch["labels"], "points": batch["points"],
                  "points_valid": batch["points_valid"], "peaks": cam_peaks(cams)}
        if out.point_predictions is not None:
            values["point_predictions"] = out.point_predictions.float()
        for key, value in accelerator.gather_for_metrics(values).items():
            parts.setdefault(key, []).append(value.cpu())
    model.train()
    if not parts:
        return {}
    data = {key: torch.cat(value) for key, value in parts.items()}
    logits, labels = data["logits"], data["labels"]
    if multi_label:
        results = {"mAP": mean_average_precision(logits, labels), **multilabel_f1(logits, labels),
                   "loss": torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float()).item()}
        valid = data["points_valid"] & labels.bool()
    else:
        results = {"accuracy": topk_accuracy(logits, labels, 1),
                   "loss": torch.nn.functional.cross_entropy(logits, labels).item()}
        if logits.shape[-1] > 5:  # with five classes or fewer, top-5 is always 1
            results["top5_accuracy"] = topk_accuracy(logits, labels, 5)
        valid = data["points_valid"]
    if valid.any():
        results["attention_alignment"] = attention_alignment(data["peaks"], data["points"], valid)
        if "point_predictions" in data:
            results["point_error"] = point_error(data["point_predictions"], data["points"], valid)
    return results
