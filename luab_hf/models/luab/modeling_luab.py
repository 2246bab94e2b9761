"""LUAB: an image classifier that learns from annotation byproducts.

``loss = classification_loss + byproduct_loss_weight * byproduct_loss + attention_loss_weight *
attention_loss``: cross-entropy (or BCE for multi-label) on the class, a masked regression of
where the annotators clicked (optionally their mouse trace and annotation time), and a
byproduct-guided attention loss that keeps class evidence near the clicks.

One adapter (:class:`LuabBackbone`) gives every backbone the same three views: pooled features
``[B, D]``, a feature map ``[B, C, h, w]`` and per-cell features under the head ``[B, D, h, w]``
(the class maps are the classifier applied to those). Shipped to the Hub beside
``configuration_luab.py``; imports only torch and transformers (timm for timm backbones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_luab import LuabConfig


@dataclass
class LuabModelOutput(ModelOutput):
    """
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, channels, height, width)`):
        The backbone's last feature map, channels first, whatever the backbone's own layout.
    pooler_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
        The pooled features the heads read.
    hidden_states, attentions (`tuple(torch.FloatTensor)`, *optional*):
        The backbone's, when asked for.
    """

    last_hidden_state: torch.FloatTensor | None = None
    pooler_output: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class LuabImageClassifierOutput(ModelOutput):
    """
    loss (`torch.FloatTensor` of shape `()`, *optional*, when `labels` are given):
        `classification_loss + byproduct_loss_weight * byproduct_loss + attention_loss_weight * attention_loss`.
    logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
        Classification scores (before softmax / sigmoid).
    point_predictions (`torch.FloatTensor` of shape `(batch_size, num_points, 2)`, *optional*):
        Predicted click points, (x, y) normalised to the input image.
    trace_predictions (`torch.FloatTensor` of shape `(batch_size, trace_steps, 2)`, *optional*):
        Predicted mouse trace, when `"mouse_trace"` is a target.
    time_predictions (`torch.FloatTensor` of shape `(batch_size,)`, *optional*):
        Predicted `log1p(annotation seconds)`, when `"time"` is a target.
    classification_loss, byproduct_loss, attention_loss (`torch.FloatTensor` of shape `()`, *optional*):
        The terms of `loss`, for logging.
    class_maps (`torch.FloatTensor` of shape `(batch_size, num_labels, height, width)`, *optional*):
        Each feature-map cell's class scores under the classifier, with `output_class_maps=True`.
        Where the backbone's logits decompose over cells (ResNet, ViT with mean pooling, timm
        models with average pooling and a linear head) their mean over cells is the logits.
    hidden_states, attentions (`tuple(torch.FloatTensor)`, *optional*):
        The backbone's, with `output_hidden_states=True` / `output_attentions=True`.
    feature_map (`torch.FloatTensor` of shape `(batch_size, channels, height, width)`, *optional*):
        The backbone's last feature map, with `output_feature_map=True`.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    point_predictions: torch.FloatTensor | None = None
    trace_predictions: torch.FloatTensor | None = None
    time_predictions: torch.FloatTensor | None = None
    classification_loss: torch.FloatTensor | None = None
    byproduct_loss: torch.FloatTensor | None = None
    attention_loss: torch.FloatTensor | None = None
    class_maps: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    feature_map: torch.FloatTensor | None = None


def masked_regression_loss(
    predictions: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor, kind: str = "smooth_l1", beta: float = 0.05
) -> torch.Tensor:
    """Mean regression loss over the valid entries of ``predictions[..., D]``, in fp32.

    An invalid entry's target may be anything, NaN included: it is replaced by the (detached)
    prediction, so it adds exactly zero loss and zero gradient. No boolean indexing: the shapes
    never depend on the data, so the loss never waits for the device. The result always depends
    on ``predictions``, so a batch without one valid point still "uses" the head (no DDP hang).
    """
    predictions = predictions.float()
    valid = valid.to(torch.bool)
    safe_targets = torch.where(valid.unsqueeze(-1), targets.float(), predictions.detach())
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


def cell_centres(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """``[height * width, 2]`` (x, y) centres of a feature map's cells, normalised to the image."""
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x.flatten(), grid_y.flatten()], dim=-1)


def attention_loss(class_maps: torch.Tensor, points: torch.Tensor, valid: torch.Tensor, radius: float) -> torch.Tensor:
    """Byproduct-guided attention: cells farther than ``radius`` from every valid click must be
    class-neutral.

    With average pooling and a linear classifier, ``logit_k = mean_cells z_k + b_k``: a cell whose
    class scores are all equal adds nothing the softmax can use. The loss is the masked mean, over
    cells far from every valid click of their image, of the variance across classes of the cell's
    scores (centred per cell, so adding one value to every class changes nothing). Images without
    a valid click add exactly zero, with zero gradient, yet the term touches the parameters.
    """
    batch, _, height, width = class_maps.shape
    scores = class_maps.float().flatten(2)  # [B, K, cells]
    spread = (scores - scores.mean(1, keepdim=True)).pow(2).mean(1)  # [B, cells]
    centres = cell_centres(height, width, class_maps.device)  # [cells, 2]
    distance = torch.cdist(centres.unsqueeze(0).expand(batch, -1, -1),
                           torch.nan_to_num(points.float(), nan=0.0))  # [B, cells, P]
    distance = torch.where(valid.to(torch.bool).unsqueeze(1), distance, torch.full_like(distance, math.inf))
    far = (distance.amin(-1) > radius) & valid.to(torch.bool).any(-1, keepdim=True)
    return (spread * far).sum() / far.sum().clamp(min=1)


@dataclass
class BackboneFeatures:
    """A backbone's last features in its own layout, the cell grid they cover, and extras."""

    native: torch.Tensor
    grid: tuple[int, int] | None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class LuabBackbone(nn.Module):
    """The one backbone adapter: transformers' ViT and ResNet, and any timm model.

    :meth:`forward` returns the backbone's :class:`BackboneFeatures`; :meth:`pool`,
    :meth:`feature_map` and :meth:`cell_features` turn them into pooled features ``[B, D]``, an
    NCHW map and per-cell head features ``[B, D, h, w]``.
    """

    def __init__(self, config: LuabConfig) -> None:
        super().__init__()
        backbone_config = config.backbone_config
        self.kind = backbone_config.model_type
        self.pooling = config.pooling
        self.prefix_tokens, self.output_fmt = 0, "NCHW"
        self.interpolate_pos_encoding = config.interpolate_pos_encoding
        extra = {"add_pooling_layer": False} if self.kind == "vit" else {}
        self.model = AutoModel.from_config(backbone_config, **extra)
        # transformers' checkpointing sets this (and the function below) on every module that has it
        self.gradient_checkpointing = False
        if self.kind == "vit":
            patch = backbone_config.patch_size
            self.patch = tuple(patch) if isinstance(patch, (list, tuple)) else (patch, patch)
            self.width = backbone_config.hidden_size
        elif self.kind == "resnet":
            self.width = backbone_config.hidden_sizes[-1]
        else:
            timm_model = self.model.timm_model
            self.width = getattr(timm_model, "head_hidden_size", None) or timm_model.num_features
            self.prefix_tokens = getattr(timm_model, "num_prefix_tokens", 0)
            self.output_fmt = str(getattr(timm_model, "output_fmt", "NCHW"))

    def forward(self, pixel_values: torch.Tensor, output_hidden_states: bool = False, output_attentions: bool = False,
                interpolate_pos_encoding: bool | None = None) -> BackboneFeatures:
        height, width = pixel_values.shape[-2:]
        if self.kind == "vit":
            interpolate = self.interpolate_pos_encoding if interpolate_pos_encoding is None else interpolate_pos_encoding
            out = self.model(pixel_values, output_hidden_states=output_hidden_states, output_attentions=output_attentions,
                             interpolate_pos_encoding=interpolate, return_dict=True)
            return BackboneFeatures(out.last_hidden_state, (height // self.patch[0], width // self.patch[1]),
                                    out.hidden_states, out.attentions)
        if self.kind == "resnet":
            last, hidden = self._resnet(pixel_values, output_hidden_states)
            return BackboneFeatures(last, None, hidden)
        timm_model = self.model.timm_model
        grid = None
        patch = getattr(getattr(timm_model, "patch_embed", None), "patch_size", None)
        if patch is not None:
            patch = tuple(patch) if isinstance(patch, (list, tuple)) else (patch, patch)
            grid = (height // patch[0], width // patch[1])
        if output_hidden_states:
            last, hidden = timm_model.forward_intermediates(pixel_values, output_fmt="NCHW")
            return BackboneFeatures(last, grid, tuple(hidden))
        return BackboneFeatures(timm_model.forward_features(pixel_values), grid)

    def _resnet(self, pixel_values: torch.Tensor, output_hidden_states: bool) -> tuple[torch.Tensor, tuple | None]:
        """transformers' ResNet, stage by stage, so each stage can be checkpointed."""
        resnet = self.model
        hidden = resnet.embedder(pixel_values)
        states = [hidden]
        for stage in resnet.encoder.stages:
            if self.gradient_checkpointing and self.training:
                hidden = self._gradient_checkpointing_func(stage.__call__, hidden)
            else:
                hidden = stage(hidden)
            states.append(hidden)
        return hidden, tuple(states) if output_hidden_states else None

    def feature_map(self, features: BackboneFeatures) -> torch.Tensor:
        """The last features as an NCHW map, whatever the backbone's own layout."""
        native = features.native
        if self.kind == "resnet" or native.dim() == 4 and self.output_fmt != "NHWC":
            return native
        if native.dim() == 4:  # NHWC (Swin, MambaOut)
            return native.permute(0, 3, 1, 2)
        tokens = native[:, 1 if self.kind == "vit" else self.prefix_tokens:]
        height, width = features.grid or (math.isqrt(tokens.shape[1]),) * 2
        return tokens[:, : height * width].transpose(1, 2).reshape(tokens.shape[0], -1, height, width)

    def pool(self, features: BackboneFeatures) -> torch.Tensor:
        """Pooled features ``[B, D]``: what the classifier and the byproduct heads read."""
        native = features.native
        if self.kind == "vit":
            return native[:, 1:].mean(1) if self.pooling == "mean" else native[:, 0]
        if self.kind == "resnet":
            return native.mean((-2, -1))
        return self.model.timm_model.forward_head(native, pre_logits=True)

    def cell_features(self, features: BackboneFeatures) -> torch.Tensor:
        """``[B, D, h, w]``: each cell as the head sees a pooled feature (for ViT and ResNet the map
        itself; for timm each cell goes through ``forward_head(pre_logits=True)`` alone)."""
        cells = self.feature_map(features)
        if self.kind != "timm_wrapper":
            return cells
        batch, channels, height, width = cells.shape
        flat = cells.permute(0, 2, 3, 1).reshape(batch * height * width, channels)
        if features.native.dim() == 3:  # tokens: one cell, repeated in the prefix slots a token pool may read
            single = flat.unsqueeze(1).expand(-1, self.prefix_tokens + 1, -1)
        elif self.output_fmt == "NHWC":
            single = flat.view(-1, 1, 1, channels)
        else:
            single = flat.view(-1, channels, 1, 1)
        head = self.model.timm_model.forward_head(single, pre_logits=True)
        return head.view(batch, height, width, -1).permute(0, 3, 1, 2)


class LuabPreTrainedModel(PreTrainedModel):
    config_class = LuabConfig
    base_model_prefix = "luab"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _no_split_modules = ["LuabBackbone"]

    def _init_weights(self, module: nn.Module) -> None:
        # Only the heads: the backbone was initialised by its own class (or loaded).
        if isinstance(module, nn.Linear) and getattr(module, "_is_luab_head", False):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            init.zeros_(module.bias)

    def save_pretrained(self, *args: Any, **kwargs: Any) -> Any:
        """As remote code, a checkpoint names every Auto class this file defines a model for (saving
        lists only the saved model's own class), so ``AutoModel`` and its pipelines load it too."""
        if self._auto_class is not None:
            module = type(self).__module__.rsplit(".", 1)[-1]
            self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}),
                                    "AutoModel": f"{module}.LuabModel",
                                    "AutoModelForImageClassification": f"{module}.LuabForImageClassification"}
        return super().save_pretrained(*args, **kwargs)

    def _set_gradient_checkpointing(self, enable: bool = True, *args, **kwargs) -> None:
        """transformers' own switch (ViT layers, and :class:`LuabBackbone` for ResNet stages); timm
        models checkpoint through their own ``set_grad_checkpointing``."""
        super()._set_gradient_checkpointing(enable, *args, **kwargs)
        for module in self.modules():
            if isinstance(module, LuabBackbone) and module.kind == "timm_wrapper":
                module.model.timm_model.set_grad_checkpointing(enable)


class LuabModel(LuabPreTrainedModel):
    """The backbone alone: pooled features and the channels-first feature map (``AutoModel``,
    ``pipeline("image-feature-extraction")``)."""

    def __init__(self, config: LuabConfig) -> None:
        super().__init__(config)
        self.backbone = LuabBackbone(config)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, output_hidden_states: bool | None = None,
                output_attentions: bool | None = None, interpolate_pos_encoding: bool | None = None,
                return_dict: bool | None = None, **kwargs) -> LuabModelOutput | tuple:
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        features = self.backbone(pixel_values, bool(output_hidden_states), bool(output_attentions),
                                 interpolate_pos_encoding)
        output = LuabModelOutput(last_hidden_state=self.backbone.feature_map(features),
                                 pooler_output=self.backbone.pool(features), hidden_states=features.hidden_states,
                                 attentions=features.attentions)
        return output if return_dict else output.to_tuple()


def _head(width: int, outputs: int) -> nn.Linear:
    layer = nn.Linear(width, outputs)
    layer._is_luab_head = True
    return layer


class LuabForImageClassification(LuabPreTrainedModel):
    """Backbone -> pooled features -> ``classifier``, with byproduct heads beside it."""

    def __init__(self, config: LuabConfig) -> None:
        super().__init__(config)
        self.luab = LuabModel(config)
        width = self.luab.backbone.width
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = _head(width, config.num_labels)
        targets = config.byproduct_targets
        self.point_head = _head(width, config.num_points * 2) if "click" in targets else None
        self.trace_head = _head(width, config.trace_steps * 2) if "mouse_trace" in targets else None
        self.time_head = _head(width, 1) if "time" in targets else None
        self.post_init()
        if config.attention_loss_weight > 0 and not self.class_maps_decompose():
            raise ValueError(
                f"LuabConfig: attention_loss_weight > 0 needs logits that are the mean of per-cell class scores; "
                f"the {self.backbone_type} backbone "
                f"{getattr(config.backbone_config, 'architecture', '')!s} pools or transforms its features "
                "non-linearly before the classifier (use ResNet, ViT with pooling='mean', or a timm model with "
                "average pooling and a linear head)")

    @property
    def backbone(self) -> LuabBackbone:
        return self.luab.backbone

    @property
    def backbone_type(self) -> str:
        return self.luab.backbone.kind

    @torch.no_grad()
    def class_maps_decompose(self) -> bool:
        """Whether the logits are the mean over cells of the class maps (checked on random features)."""
        backbone = self.luab.backbone
        if backbone.kind != "timm_wrapper":
            return backbone.kind == "resnet" or backbone.pooling == "mean"
        generator = torch.Generator().manual_seed(0)
        timm_model = backbone.model.timm_model
        channels = timm_model.num_features
        if backbone.output_fmt == "NHWC":
            native = torch.randn(2, 3, 3, channels, generator=generator)
        elif hasattr(timm_model, "pos_embed"):  # tokens
            native = torch.randn(2, backbone.prefix_tokens + 9, channels, generator=generator)
        else:
            native = torch.randn(2, channels, 3, 3, generator=generator)
        parameter = next(self.parameters())
        features = BackboneFeatures(native.to(parameter.device, parameter.dtype), (3, 3))
        was_training = timm_model.training
        timm_model.eval()
        try:
            pooled, cells = backbone.pool(features), backbone.cell_features(features).mean((-2, -1))
        finally:
            timm_model.train(was_training)
        return bool(torch.allclose(pooled, cells, rtol=1e-3, atol=1e-4))

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
        output_attentions: bool | None = None,
        output_feature_map: bool = False,
        output_class_maps: bool = False,
        interpolate_pos_encoding: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> LuabImageClassifierOutput | tuple:
        r"""
        labels (`torch.LongTensor` of shape `(batch_size,)`, or multi-hot `(batch_size, num_labels)`
            for multi-label): class targets; with them, the losses are computed.
        points (`torch.FloatTensor` of shape `(batch_size, num_points, 2)`), points_valid
            (`torch.BoolTensor` of shape `(batch_size, num_points)`): annotated click points, (x, y)
            in [0, 1] of the input image, and which of them count. Invalid points may hold anything;
            valid ones are checked on the data side (``collate_byproducts``), never here.
        trace / trace_valid (`(batch_size, trace_steps, 2)` / `(batch_size, trace_steps)`),
        annotation_time / annotation_time_valid (`(batch_size,)`): the optional byproduct targets.
        output_class_maps (`bool`): return `class_maps`, each cell's class scores.
        interpolate_pos_encoding (`bool`, *optional*): ViT only; defaults to the config's.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        output_hidden_states = bool(output_hidden_states if output_hidden_states is not None
                                    else self.config.output_hidden_states)
        output_attentions = bool(output_attentions if output_attentions is not None
                                 else getattr(self.config, "output_attentions", False))
        backbone = self.luab.backbone
        batch = pixel_values.shape[0]
        features = backbone(pixel_values, output_hidden_states, output_attentions, interpolate_pos_encoding)
        pooled = self.dropout(backbone.pool(features))
        logits = self.classifier(pooled)
        point_predictions = self.point_head(pooled).view(batch, -1, 2) if self.point_head is not None else None
        trace_predictions = self.trace_head(pooled).view(batch, -1, 2) if self.trace_head is not None else None
        time_predictions = self.time_head(pooled).squeeze(-1) if self.time_head is not None else None
        with_attention = labels is not None and self.config.attention_loss_weight > 0
        class_maps = None
        if output_class_maps or with_attention:
            cells = backbone.cell_features(features)
            class_maps = torch.einsum("bchw,kc->bkhw", cells, self.classifier.weight) \
                + self.classifier.bias.view(1, -1, 1, 1)

        loss = classification_loss = byproduct_loss = attention = None
        if labels is not None:
            classification_loss = self._classification_loss(logits, labels)
            byproduct_loss = self._byproduct_loss(
                batch,
                (point_predictions, points, points_valid, "points", self.config.num_points),
                (trace_predictions, trace, trace_valid, "trace", self.config.trace_steps),
                (time_predictions, annotation_time, annotation_time_valid, "annotation_time", None),
            )
            loss = classification_loss + self.config.byproduct_loss_weight * byproduct_loss
            if with_attention:
                if points is None or points_valid is None:
                    raise ValueError("attention_loss_weight > 0 needs `points` and `points_valid` (the clicks)")
                attention = attention_loss(class_maps, points, points_valid, self.config.attention_radius)
                loss = loss + self.config.attention_loss_weight * attention

        output = LuabImageClassifierOutput(
            loss=loss,
            logits=logits,
            point_predictions=point_predictions,
            trace_predictions=trace_predictions,
            time_predictions=time_predictions,
            classification_loss=classification_loss,
            byproduct_loss=byproduct_loss,
            attention_loss=attention,
            class_maps=class_maps if output_class_maps else None,
            hidden_states=features.hidden_states,
            attentions=features.attentions,
            feature_map=backbone.feature_map(features) if output_feature_map else None,
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
            return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
        if labels.shape != (batch,) or labels.is_floating_point():
            raise ValueError(
                f"single_label_classification expects integer class ids of shape ({batch},), got "
                f"{tuple(labels.shape)} {labels.dtype}; for multi-hot labels set problem_type="
                "'multi_label_classification'"
            )
        return F.cross_entropy(logits.float(), labels)

    def _byproduct_loss(self, batch: int, *terms: tuple) -> torch.Tensor:
        """Sum of the masked regression losses of every head; a head without a target adds an
        exact zero that still touches its parameters. Only shapes are checked here (they are
        static); the values are checked where the batch is made."""
        total = self.classifier.weight.new_zeros((), dtype=torch.float32)
        for predictions, targets, valid, name, length in terms:
            if predictions is None:
                if targets is not None:
                    raise ValueError(f"`{name}` was given but the model has no head for it "
                                     f"(byproduct_targets={self.config.byproduct_targets})")
                continue
            if targets is None:
                total = total + predictions.float().sum() * 0.0
                continue
            if valid is None:
                raise ValueError(f"`{name}` needs `{name}_valid` (a bool mask of the same leading shape)")
            expected = (batch, length, 2) if length is not None else (batch,)
            if tuple(targets.shape) != expected or tuple(valid.shape) != expected[:2 if length else 1]:
                raise ValueError(
                    f"`{name}` must have shape {expected} and `{name}_valid` shape {expected[:2 if length else 1]}, "
                    f"got {tuple(targets.shape)} and {tuple(valid.shape)}"
                )
            if length is None:  # a scalar per image
                predictions, targets = predictions.unsqueeze(-1), targets.unsqueeze(-1)
            total = total + masked_regression_loss(
                predictions, targets, valid, self.config.byproduct_loss, self.config.smooth_l1_beta
            )
        return total


__all__ = [
    "LuabForImageClassification",
    "LuabImageClassifierOutput",
    "LuabModel",
    "LuabModelOutput",
    "LuabPreTrainedModel",
    "attention_loss",
    "masked_regression_loss",
]
