"""Evaluation metrics that never touch the network (``evaluate.load`` would fetch from the Hub).

Classification: top-k accuracy; multi-label mAP and F1. Byproducts: point error (how far the
predicted click is from the annotators') and attention alignment, a pointing game: how often the
peak of the model's class map (`class_maps`) lands near the annotators' click.
"""

from __future__ import annotations

from pathlib import Path

import torch

#: The ``evaluate`` modules shipped with the package (``luab_hf/evaluate_modules/<name>/``).
EVALUATE_MODULES = ("attention_alignment", "mean_average_precision", "multilabel_f1", "point_error")


def evaluate_module(name: str) -> str:
    """The path of one of LUAB's ``evaluate`` modules, for ``evaluate.load(path)``: loaded from
    the package, offline (``evaluate.load("point_error")`` would look on the Hub). Each computes
    with the function of this module the trainer uses."""
    if name not in EVALUATE_MODULES:
        raise ValueError(f"unknown LUAB evaluate module {name!r}: expected one of {list(EVALUATE_MODULES)}")
    return str(Path(__file__).resolve().parent / "evaluate_modules" / name)


#: Pointing-game radius, in normalised image units: a hit is a CAM peak within this distance.
POINTING_TOLERANCE = 0.15


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Fraction of rows whose label is among the ``k`` highest logits."""
    if len(labels) == 0:
        return float("nan")
    k = min(k, logits.shape[-1])
    top = logits.topk(k, dim=-1).indices
    return (top == labels.unsqueeze(-1)).any(-1).float().mean().item()


def average_precision(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """AP of one class: mean precision at the rank of each positive."""
    positives = targets.sum()
    if positives == 0:
        return float("nan")
    order = scores.argsort(descending=True)
    hits = targets[order].float()
    precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1, dtype=torch.float32)
    return (precision * hits).sum().item() / positives.item()


def mean_average_precision(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Multi-label mAP over the classes with at least one positive."""
    aps = [average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1]) if targets[:, c].any()]
    return sum(aps) / len(aps) if aps else float("nan")


def multilabel_f1(logits: torch.Tensor, targets: torch.Tensor, threshold: float = 0.5) -> dict[str, float]:
    """Micro and macro F1 with ``sigmoid(logit) >= threshold``."""
    predicted = torch.sigmoid(logits) >= threshold
    truth = targets.bool()
    tp = (predicted & truth).sum(0).float()
    fp = (predicted & ~truth).sum(0).float()
    fn = (~predicted & truth).sum(0).float()
    micro = (2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum()).clamp(min=1)).item()
    present = (tp + fn) > 0
    per_class = 2 * tp / (2 * tp + fp + fn).clamp(min=1)
    macro = per_class[present].mean().item() if present.any() else float("nan")
    return {"f1_micro": micro, "f1_macro": macro}


def point_error(predictions: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> float:
    """Mean Euclidean distance between predicted and annotated points, valid points only."""
    valid = valid.bool()
    if not valid.any():
        return float("nan")
    return (predictions[valid] - targets[valid]).norm(dim=-1).mean().item()


def cam_peaks(cam: torch.Tensor) -> torch.Tensor:
    """``[..., h, w]`` activation maps -> ``[..., 2]`` normalised (x, y) of each map's peak cell."""
    height, width = cam.shape[-2:]
    flat = cam.flatten(-2).argmax(-1)
    rows, cols = flat // width, flat % width
    return torch.stack([(cols.float() + 0.5) / width, (rows.float() + 0.5) / height], dim=-1)


def attention_alignment(peaks: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor,
                        tolerance: float = POINTING_TOLERANCE) -> float:
    """Pointing game: fraction of valid annotated points with a CAM peak within ``tolerance``."""
    valid = valid.bool()
    if not valid.any():
        return float("nan")
    return ((peaks[valid] - targets[valid]).norm(dim=-1) <= tolerance).float().mean().item()
