"""LUAB model configuration.

Shipped to the Hub beside ``modeling_luab.py``: it imports only ``transformers``, so a checkpoint
loads with ``trust_remote_code=True`` where ``luab_hf`` is not installed.
"""

from __future__ import annotations

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

#: Backbone families the model knows how to pool and map: transformers' ViT and ResNet, and
#: ``timm_wrapper`` for any timm architecture.
SUPPORTED_BACKBONES = ("vit", "resnet", "timm_wrapper")
#: Annotation byproducts the model can regress beside the class.
BYPRODUCT_TARGETS = ("click", "mouse_trace", "time")
REGRESSION_LOSSES = ("smooth_l1", "l1", "mse")
PROBLEM_TYPES = ("single_label_classification", "multi_label_classification")


class LuabConfig(PreTrainedConfig):
    r"""
    Configuration of [`LuabForImageClassification`]: an image backbone whose pooled features feed a
    classifier and, beside it, small heads that regress annotation byproducts.

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
        lambda in `loss = classification_loss + lambda * byproduct_loss`; 0 trains the plain
        baseline through the same code.
    byproduct_loss (`str`, *optional*, defaults to `"smooth_l1"`):
        Regression loss: `"smooth_l1"`, `"l1"` or `"mse"`.
    smooth_l1_beta (`float`, *optional*, defaults to 0.05):
        Where smooth-L1 turns from quadratic to linear, in normalised image units.
    classifier_dropout (`float`, *optional*, defaults to 0.0):
        Dropout on the pooled features before the heads.

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
    sub_configs_defaults = {"backbone_config": SubConfigSpec(config_class=AutoConfig, model_type="vit")}

    backbone_config: dict | PreTrainedConfig | None = None
    byproduct_targets: list[str] | tuple[str, ...] = ("click",)
    num_points: int = 1
    trace_steps: int = 8
    byproduct_loss_weight: float = 1.0
    byproduct_loss: str = "smooth_l1"
    smooth_l1_beta: float = 0.05
    classifier_dropout: float = 0.0
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs) -> None:
        super().__post_init__(**kwargs)
        if isinstance(self.byproduct_targets, str):
            self.byproduct_targets = [self.byproduct_targets]
        self.byproduct_targets = list(self.byproduct_targets)
        self.check()

    def check(self) -> None:
        """Every configuration mistake named before a model is built."""
        backbone = getattr(self.backbone_config, "model_type", None)
        if backbone not in SUPPORTED_BACKBONES:
            raise ValueError(
                f"LuabConfig: unknown backbone type {backbone!r}; expected a config of one of {SUPPORTED_BACKBONES}"
            )
        unknown = [t for t in self.byproduct_targets if t not in BYPRODUCT_TARGETS]
        if unknown or not self.byproduct_targets:
            raise ValueError(f"LuabConfig: byproduct_targets {list(self.byproduct_targets)!r}; "
                             f"choose one or more of {BYPRODUCT_TARGETS}")
        if self.byproduct_loss not in REGRESSION_LOSSES:
            raise ValueError(f"LuabConfig: byproduct_loss {self.byproduct_loss!r}; expected one of {REGRESSION_LOSSES}")
        if not self.byproduct_loss_weight >= 0:
            raise ValueError(f"LuabConfig: byproduct_loss_weight must be >= 0, got {self.byproduct_loss_weight}")
        if self.num_points < 1 or self.trace_steps < 2:
            raise ValueError(f"LuabConfig: num_points must be >= 1 and trace_steps >= 2, "
                             f"got {self.num_points} and {self.trace_steps}")
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"LuabConfig: problem_type {self.problem_type!r}; expected one of {PROBLEM_TYPES}")

    @property
    def is_multi_label(self) -> bool:
        return self.problem_type == "multi_label_classification"


__all__ = ["LuabConfig"]
