"""LUAB: an image classifier with annotation-byproduct regression heads.

``loss = classification_loss + byproduct_loss_weight * byproduct_loss``: cross-entropy (or BCE for
multi-label) on the class, plus a masked regression of where the annotators clicked (and,
optionally, their mouse trace and annotation time). Shipped to the Hub beside
``configuration_luab.py``; imports only torch and transformers (timm for timm backbones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_luab import LuabConfig


@dataclass
class LuabImageClassifierOutput(ModelOutput):
    """
    loss (`torch.FloatTensor` of shape `()`, *optional*, when `labels` are given):
        `classification_loss + byproduct_loss_weight * byproduct_loss`.
    logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
        Classification scores (before softmax / sigmoid).
    point_predictions (`torch.FloatTensor` of shape `(batch_size, num_points, 2)`, *optional*):
        Predicted click points, (x, y) normalised to the input image.
    trace_predictions (`torch.FloatTensor` of shape `(batch_size, trace_steps, 2)`, *optional*):
        Predicted mouse trace, when `"mouse_trace"` is a target.
    time_predictions (`torch.FloatTensor` of shape `(batch_size,)`, *optional*):
        Predicted `log1p(annotation seconds)`, when `"time"` is a target.
    classification_loss, byproduct_loss (`torch.FloatTensor` of shape `()`, *optional*):
        The two terms of `loss`, for logging.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*):
        The backbone's hidden states, when `output_hidden_states=True`.
    feature_map (`torch.FloatTensor` of shape `(batch_size, channels, height, width)`, *optional*):
        The backbone's last spatial features, when `output_feature_map=True` (class activation maps).
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    point_predictions: torch.FloatTensor | None = None
    trace_predictions: torch.FloatTensor | None = None
    time_predictions: torch.FloatTensor | None = None
    classification_loss: torch.FloatTensor | None = None
    byproduct_loss: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    feature_map: torch.FloatTensor | None = None


def masked_regression_loss(
    predictions: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor, kind: str = "smooth_l1", beta: float = 0.05
) -> torch.Tensor:
    """Mean regression loss over the valid entries of ``predictions[..., D]``.

    An invalid entry's target may be anything, NaN included: it is replaced by the (detached)
    prediction, so it adds exactly zero loss and zero gradient. The result always depends on
    ``predictions``, so a batch without one valid point still "uses" the head (no DDP hang).
    """
    valid = valid.to(torch.bool)
    safe_targets = torch.where(valid.unsqueeze(-1), targets.to(predictions.dtype), predictions.detach())
    if kind == "smooth_l1":
        per_entry = F.smooth_l1_loss(predictions, safe_targets, reduction="none", beta=beta)
    elif kind == "l1":
        per_entry = F.l1_loss(predictions, safe_targets, reduction="none")
    elif kind == "mse":
        per_entry = F.mse_loss(predictions, safe_targets, reduction="none")
    else:
        raise ValueError(f"unknown regression loss {kind!r}")
    per_point = per_entry.sum(-1) * valid
    return per_point.sum() / valid.sum().clamp(min=1)


class LuabPreTrainedModel(PreTrainedModel):
    config_class = LuabConfig
    base_model_prefix = "luab"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    supports_gradient_checkpointing = True

    def _init_weights(self, module: nn.Module) -> None:
        # Only the heads: the backbone was initialised by its own class (or loaded).
        if isinstance(module, nn.Linear) and getattr(module, "_is_luab_head", False):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            init.zeros_(module.bias)


def _head(width: int, outputs: int) -> nn.Linear:
    layer = nn.Linear(width, outputs)
    layer._is_luab_head = True
    return layer


class LuabForImageClassification(LuabPreTrainedModel):
    """Backbone -> pooled features -> ``classifier``, with byproduct heads beside it."""

    def __init__(self, config: LuabConfig) -> None:
        super().__init__(config)
        backbone_config = config.backbone_config
        self.backbone_type = backbone_config.model_type
        extra = {"add_pooling_layer": False} if self.backbone_type == "vit" else {}
        self.backbone = AutoModel.from_config(backbone_config, **extra)
        width = self.feature_width
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = _head(width, config.num_labels)
        targets = config.byproduct_targets
        self.point_head = _head(width, config.num_points * 2) if "click" in targets else None
        self.trace_head = _head(width, config.trace_steps * 2) if "mouse_trace" in targets else None
        self.time_head = _head(width, 1) if "time" in targets else None
        self.post_init()

    @property
    def feature_width(self) -> int:
        config = self.config.backbone_config
        if self.backbone_type == "vit":
            return config.hidden_size
        if self.backbone_type == "resnet":
            return config.hidden_sizes[-1]
        return self.backbone.timm_model.num_features

    def _backbone_features(
        self, pixel_values: torch.Tensor, output_hidden_states: bool
    ) -> tuple[torch.Tensor, torch.Tensor, tuple | None]:
        """Pooled features ``[B, C]``, the last spatial map ``[B, C, h, w]``, hidden states."""
        outputs = self.backbone(pixel_values, output_hidden_states=output_hidden_states, return_dict=True)
        last = outputs.last_hidden_state
        if self.backbone_type == "vit":
            pooled, tokens = last[:, 0], last[:, 1:]
        elif self.backbone_type == "resnet":
            pooled, tokens = outputs.pooler_output.flatten(1), last
        else:
            pooled = outputs.pooler_output
            prefix = getattr(self.backbone.timm_model, "num_prefix_tokens", 0)
            tokens = last[:, prefix:] if last.dim() == 3 else last
        if tokens.dim() == 3:  # [B, N, C] patch tokens -> [B, C, h, w]
            side = math.isqrt(tokens.shape[1])
            tokens = tokens[:, : side * side].transpose(1, 2).reshape(tokens.shape[0], -1, side, side)
        return pooled, tokens, outputs.hidden_states

    def class_activation_map(self, feature_map: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """CAM ``[B, h, w]``: each location's score for ``classes[b]`` under the classifier."""
        weights = self.classifier.weight[classes]
        return torch.einsum("bchw,bc->bhw", feature_map.to(weights.dtype), weights)

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        points: torch.Tensor | None = None,
        points_valid: torch.Tensor | None = None,
        trace: torch.Tensor | None = None,
        trace_valid: torch.Tensor | None = None,
        annotation_time: torch.Tensor | None = None,
        annotation_time_valid: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_feature_map: bool = False,
        return_dict: bool | None = None,
        **kwargs,
    ) -> LuabImageClassifierOutput | tuple:
        r"""
        labels (`torch.LongTensor` of shape `(batch_size,)`, or multi-hot `(batch_size, num_labels)`
            for multi-label): class targets; with them, the losses are computed.
        points (`torch.FloatTensor` of shape `(batch_size, num_points, 2)`), points_valid
            (`torch.BoolTensor` of shape `(batch_size, num_points)`): annotated click points, (x, y)
            in [0, 1] of the input image, and which of them count. Invalid points may hold anything.
        trace / trace_valid (`(batch_size, trace_steps, 2)` / `(batch_size, trace_steps)`),
        annotation_time / annotation_time_valid (`(batch_size,)`): the optional byproduct targets.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = bool(output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states)
        batch = pixel_values.shape[0]
        pooled, feature_map, hidden_states = self._backbone_features(pixel_values, output_hidden_states)
        pooled = self.dropout(pooled)
        logits = self.classifier(pooled)
        point_predictions = self.point_head(pooled).view(batch, -1, 2) if self.point_head is not None else None
        trace_predictions = self.trace_head(pooled).view(batch, -1, 2) if self.trace_head is not None else None
        time_predictions = self.time_head(pooled).squeeze(-1) if self.time_head is not None else None

        loss = classification_loss = byproduct_loss = None
        if labels is not None:
            classification_loss = self._classification_loss(logits, labels)
            byproduct_loss = self._byproduct_loss(
                batch,
                (point_predictions, points, points_valid, "points", self.config.num_points),
                (trace_predictions, trace, trace_valid, "trace", self.config.trace_steps),
                (time_predictions, annotation_time, annotation_time_valid, "annotation_time", None),
            )
            loss = classification_loss + self.config.byproduct_loss_weight * byproduct_loss

        output = LuabImageClassifierOutput(
            loss=loss,
            logits=logits,
            point_predictions=point_predictions,
            trace_predictions=trace_predictions,
            time_predictions=time_predictions,
            classification_loss=classification_loss,
            byproduct_loss=byproduct_loss,
            hidden_states=hidden_states,
            feature_map=feature_map if output_feature_map else None,
        )
        return output if return_dict else output.to_tuple()

    def _classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        batch, num_labels = logits.shape
        if self.config.is_multi_label:
            if labels.shape != (batch, num_labels):
                raise ValueError(
                    f"multi_label_classification expects multi-hot labels of shape ({batch}, {num_labels}), "
                    f"got {tuple(labels.shape)}"
                )
            return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        if labels.shape != (batch,) or labels.is_floating_point():
            raise ValueError(
                f"single_label_classification expects integer class ids of shape ({batch},), got "
                f"{tuple(labels.shape)} {labels.dtype}; for multi-hot labels set problem_type="
                "'multi_label_classification'"
            )
        return F.cross_entropy(logits, labels)

    def _byproduct_loss(self, batch: int, *terms: tuple) -> torch.Tensor:
        """Sum of the masked regression losses of every head; a head without a target adds an
        exact zero that still touches its parameters."""
        total = self.classifier.weight.new_zeros(())
        for predictions, targets, valid, name, length in terms:
            if predictions is None:
                if targets is not None:
                    raise ValueError(f"`{name}` was given but the model has no head for it "
                                     f"(byproduct_targets={self.config.byproduct_targets})")
                continue
            if targets is None:
                total = total + predictions.sum() * 0.0
                continue
            if valid is None:
                raise ValueError(f"`{name}` needs `{name}_valid` (a bool mask of the same leading shape)")
            expected = (batch, length, 2) if length is not None else (batch,)
            if tuple(targets.shape) != expected or tuple(valid.shape) != expected[:2 if length else 1]:
                raise ValueError(
                    f"`{name}` must have shape {expected} and `{name}_valid` shape {expected[:2 if length else 1]}, "
                    f"got {tuple(targets.shape)} and {tuple(valid.shape)}"
                )
            valid = valid.to(torch.bool)
            chosen = targets[valid]
            if chosen.numel():
                if length is not None and not bool(((chosen >= 0) & (chosen <= 1)).all()):
                    raise ValueError(f"`{name}` marked valid must lie in [0, 1] (normalised image coordinates)")
                if not bool(torch.isfinite(chosen).all()):
                    raise ValueError(f"`{name}` marked valid must be finite")
            if length is None:  # a scalar per image
                predictions, targets = predictions.unsqueeze(-1), targets.unsqueeze(-1)
            total = total + masked_regression_loss(
                predictions, targets, valid, self.config.byproduct_loss, self.config.smooth_l1_beta
            )
        return total


__all__ = ["LuabForImageClassification", "LuabImageClassifierOutput", "LuabPreTrainedModel", "masked_regression_loss"]
