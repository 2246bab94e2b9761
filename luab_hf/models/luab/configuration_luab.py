"""LUAB model configuration.

Shipped to the Hub beside ``modeling_luab.py``: it imports only ``transformers`` (and
``huggingface_hub``), so a checkpoint loads with ``trust_remote_code=True`` where ``luab_hf`` is
not installed.
"""


from collections.abc import Callable
from typing import Literal

from huggingface_hub.dataclasses import strict, validated_field
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

#: Backbone families the model knows how to pool and map: transformers' ViT and ResNet, and
#: ``timm_wrapper`` for any timm architecture (ConvNeXt, Swin, MambaOut, MobileNet, ...).
SUPPORTED_BACKBONES = ("vit", "resnet", "timm_wrapper")
#: Annotation byproducts the model can regress beside the class.
BYPRODUCT_TARGETS = ("click", "mouse_trace", "time")
ByproductTarget = Literal["click", "mouse_trace", "time"]
REGRESSION_LOSSES = ("smooth_l1", "l1", "mse")
PROBLEM_TYPES = ("single_label_classification", "multi_label_classification")


def _at_least(minimum: float, strictly: bool = False) -> Callable[[float], None]:
    def check(value: float) -> None:
        if not (value > minimum if strictly else value >= minimum):
            raise ValueError(f"must be {'>' if strictly else '>='} {minimum}, got {value}")
    return check


def _probability(value: float) -> None:
    if not 0 <= value < 1:
        raise ValueError(f"must be in [0, 1), got {value}")


@strict
class LuabConfig(PreTrainedConfig):
    r"""
    Configuration of [`LuabForImageClassification`]: an image backbone whose pooled features feed a
    classifier and, beside it, small heads that regress annotation byproducts.

    Every field is checked on assignment too, so `from_pretrained(..., byproduct_loss="huber")` or
    a negative weight is refused with the field named.

    backbone_config (`dict` or `PreTrainedConfig`, *optional*, defaults to a `ViTConfig`):
        The backbone: a `ViTConfig`, `ResNetConfig` or `TimmWrapperConfig` (any timm model).
    byproduct_targets (`list[str]`, *optional*, defaults to `["click"]`):
        What to regress: `"click"` (the annotators' click point(s), LUAB's target), `"mouse_trace"`
        (the pointer path resampled to `trace_steps` points) and `"time"` (log annotation time).
    num_points (`int`, *optional*, defaults to 1):
        Points per image for the click head: 1 for ImageNet-AB, one per class (80) for COCO-AB.
    trace_steps (`int`, *optional*, defaults to 8):
        Points the mouse trace is resampled to.
    byproduct_loss_weight (`float`, *optional*, defaults to 1.0):
        lambda in `loss = classification_loss + lambda * byproduct_loss + ...`; 0 trains the plain
        baseline through the same code.
    byproduct_loss (`str`, *optional*, defaults to `"smooth_l1"`):
        Regression loss: `"smooth_l1"`, `"l1"` or `"mse"`.
    smooth_l1_beta (`float`, *optional*, defaults to 0.05):
        Where smooth-L1 turns from quadratic to linear, in normalised image units.
    classifier_dropout (`float`, *optional*, defaults to 0.0):
        Dropout on the pooled features before the heads.
    pooling (`str`, *optional*, defaults to `"cls"`):
        ViT only: the pooled feature is the class token (`"cls"`) or the mean of the patch tokens
        (`"mean"`; then the logits are the mean of the per-patch class scores).
    attention_loss_weight (`float`, *optional*, defaults to 0.0):
        Weight of the byproduct-guided attention loss: class evidence must come from near the
        clicks (see `LuabForImageClassification`). Needs logits that decompose over feature-map
        cells: ResNet, ViT with `pooling="mean"`, timm models with average pooling and a linear head.
    attention_radius (`float`, *optional*, defaults to 0.25):
        Cells farther than this from every valid click (normalised image units) must be
        class-neutral under the attention loss.
    interpolate_pos_encoding (`bool`, *optional*, defaults to `True`):
        ViT only: interpolate position embeddings for inputs of another size than the config's
        (a no-op at the config's size), so processors that resize differently still work.

    Example:

    ```python
    >>> from transformers import ViTConfig
    >>> from luab_hf import LuabConfig, LuabForImageClassification
    >>> config = LuabConfig(backbone_config=ViTConfig(hidden_size=32, num_hidden_layers=2,
    ...     num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8), num_labels=10)
    >>> model = LuabForImageClassification(config)
    ```
    """

    model_type = "luab"
    # Trainer.evaluate hands compute_metrics the logits alone
    keys_to_ignore_at_inference = [
        "point_predictions", "trace_predictions", "time_predictions", "classification_loss", "byproduct_loss",
        "attention_loss", "class_maps", "hidden_states", "attentions", "feature_map",
    ]
    sub_configs_defaults = {"backbone_config": SubConfigSpec(config_class=AutoConfig, model_type="vit")}

    backbone_config: dict | PreTrainedConfig | None = None
    byproduct_targets: list[ByproductTarget] | tuple[ByproductTarget, ...] = ("click",)
    num_points: int = validated_field(_at_least(1), default=1)
    trace_steps: int = validated_field(_at_least(2), default=8)
    byproduct_loss_weight: float | int = validated_field(_at_least(0), default=1.0)
    byproduct_loss: Literal["smooth_l1", "l1", "mse"] = "smooth_l1"
    smooth_l1_beta: float | int = validated_field(_at_least(0, strictly=True), default=0.05)
    classifier_dropout: float | int = validated_field(_probability, default=0.0)
    initializer_range: float = 0.02
    pooling: Literal["cls", "mean"] = "cls"
    attention_loss_weight: float | int = validated_field(_at_least(0), default=0.0)
    attention_radius: float | int = validated_field(_at_least(0), default=0.25)
    interpolate_pos_encoding: bool = True

    def __post_init__(self, **kwargs) -> None:
        if isinstance(self.byproduct_targets, str):
            self.byproduct_targets = [self.byproduct_targets]
        self.byproduct_targets = list(self.byproduct_targets)
        super().__post_init__(**kwargs)

    def validate_luab(self) -> None:
        """What the field types cannot say, named before a model is built."""
        backbone = getattr(self.backbone_config, "model_type", None)
        if backbone not in SUPPORTED_BACKBONES:
            raise ValueError(
                f"LuabConfig: unknown backbone type {backbone!r}; expected a config of one of {SUPPORTED_BACKBONES}"
            )
        if not self.byproduct_targets:
            raise ValueError(f"LuabConfig: byproduct_targets is empty; choose one or more of {BYPRODUCT_TARGETS}")
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"LuabConfig: problem_type {self.problem_type!r}; expected one of {PROBLEM_TYPES}")
        if self.attention_loss_weight > 0 and backbone == "vit" and self.pooling != "mean":
            raise ValueError("LuabConfig: attention_loss_weight > 0 constrains the per-patch class scores, which "
                             "make the logits only with pooling='mean'; a ViT with pooling='cls' classifies from "
                             "the class token, which the loss cannot reach")

    @property
    def is_multi_label(self) -> bool:
        return self.problem_type == "multi_label_classification"


__all__ = ["LuabConfig"]
