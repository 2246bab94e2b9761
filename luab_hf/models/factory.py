"""Build LUAB models from a backbone name, a transformers checkpoint or a timm architecture.

``create_luab_model`` is to LUAB what ``timm.create_model`` is to timm: one call from a name to
a ready model, fresh or starting from pretrained backbone weights, with its image processor.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import timm
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoModel,
    PreTrainedConfig,
    ResNetConfig,
    TimmWrapperConfig,
    ViTConfig,
)

from .luab import LuabConfig, LuabForImageClassification


def _vit(hidden: int, layers: int, heads: int, patch: int = 16, image: int = 224) -> ViTConfig:
    return ViTConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=hidden * 4, patch_size=patch, image_size=image)


#: Fresh backbones by name (random weights; sizes as in the ViT and ResNet papers).
BACKBONES: dict[str, PreTrainedConfig] = {
    "vit-tiny": _vit(192, 12, 3),
    "vit-small": _vit(384, 12, 6),
    "vit-base": _vit(768, 12, 12),
    "resnet-18": ResNetConfig(depths=[2, 2, 2, 2], hidden_sizes=[64, 128, 256, 512], layer_type="basic"),
    "resnet-50": ResNetConfig(),
    # tiny configs for CPU tests and the demo
    "vit-micro": _vit(32, 2, 2, patch=8, image=64),
    "vit-mini": _vit(64, 4, 4, patch=8, image=64),
    "resnet-micro": ResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 64], depths=[1, 1, 1], layer_type="basic"),
}


def _is_checkpoint(name_or_path: str) -> bool:
    return (Path(name_or_path) / "config.json").is_file()


def backbone_config(name_or_path: str, image_size: int | None = None) -> PreTrainedConfig:
    """A backbone config from a preset name, a transformers checkpoint (folder or repo id), or a
    timm architecture name (prefix ``timm/`` optional)."""
    if name_or_path in BACKBONES:
        config = BACKBONES[name_or_path].__class__.from_dict(BACKBONES[name_or_path].to_dict())
    elif _is_checkpoint(name_or_path) or ("/" in name_or_path and not name_or_path.startswith("timm/")):
        config = AutoConfig.from_pretrained(name_or_path)
        if config.model_type == "luab":
            config = config.backbone_config
    else:
        architecture = name_or_path.removeprefix("timm/").split(".")[0]
        if not timm.is_model(architecture):
            close = timm.list_models(f"*{architecture.split('_')[0]}*")[:5]
            raise ValueError(f"unknown backbone {name_or_path!r}: not a preset ({', '.join(BACKBONES)}), "
                             f"a transformers checkpoint folder, or a timm model name"
                             + (f" (timm has e.g. {', '.join(close)})" if close else ""))
        config = TimmWrapperConfig(architecture=architecture)
    if image_size is not None and getattr(config, "image_size", None) is not None:
        config.image_size = image_size
    return config


def create_luab_model(
    backbone: str,
    num_labels: int,
    id2label: dict[int, str] | None = None,
    label2id: dict[str, int] | None = None,
    problem_type: str = "single_label_classification",
    pretrained: bool = False,
    timm_weights: str | os.PathLike | None = None,
    image_size: int | None = None,
    **config_kwargs: Any,
) -> LuabForImageClassification:
    """A LUAB model on ``backbone``; with ``pretrained`` the backbone weights come from the
    transformers checkpoint ``backbone`` (folder or repo id), and for timm backbones from the
    local safetensors file ``timm_weights``."""
    if id2label is None and label2id is not None:
        id2label = {index: name for name, index in label2id.items()}
    id2label = id2label or {i: f"LABEL_{i}" for i in range(num_labels)}
    inverse = {name: int(index) for index, name in id2label.items()}
    if label2id is not None and {name: int(index) for name, index in label2id.items()} != inverse:
        raise ValueError(f"label2id {label2id} is not the inverse of id2label {id2label}: pass one, or both consistent")
    config = LuabConfig(
        backbone_config=backbone_config(backbone, image_size),
        num_labels=num_labels,
        id2label=id2label,
        label2id=inverse,
        problem_type=problem_type,
        **config_kwargs,
    )
    model = LuabForImageClassification(config)
    if timm_weights is not None:
        load_timm_weights(model, timm_weights)
    elif pretrained and config.backbone_config.model_type == "timm_wrapper":
        _download_timm_weights(model)
    elif pretrained:
        extra = {"add_pooling_layer": False} if config.backbone_config.model_type == "vit" else {}
        loaded = AutoModel.from_pretrained(backbone, use_safetensors=True, **extra)
        model.backbone.model.load_state_dict(loaded.state_dict())
    return model


def _download_timm_weights(model: LuabForImageClassification) -> None:
    """timm's own pretrained weights (from the Hub, safetensors), minus its classifier."""
    architecture = model.config.backbone_config.architecture
    try:
        source = timm.create_model(architecture, pretrained=True, num_classes=0)
    except Exception as error:  # timm raises many kinds when it cannot fetch weights
        raise OSError(f"cannot fetch timm's pretrained weights for {architecture!r} ({error}); without network, "
                      "pass a local .safetensors file as timm_weights (--timm_weights)") from None
    model.backbone.model.timm_model.load_state_dict(source.state_dict())


def load_timm_weights(model: LuabForImageClassification, path: str | os.PathLike) -> None:
    """Load a timm checkpoint (safetensors only: no pickle) into a timm backbone, minus its
    classifier; any other missing or unexpected key is an error."""
    if model.backbone_type != "timm_wrapper":
        raise ValueError("timm weights need a timm backbone")
    if not str(path).endswith(".safetensors"):
        raise ValueError(f"{path}: only .safetensors weights are loaded (pickle checkpoints can run code)")
    timm_model = model.backbone.model.timm_model
    state = load_file(str(path))
    head = {f"{timm_model.default_cfg.get('classifier', 'head')}.weight", f"{timm_model.default_cfg.get('classifier', 'head')}.bias"}
    result = timm_model.load_state_dict({k: v for k, v in state.items() if k not in head}, strict=False)
    missing = [k for k in result.missing_keys if k not in head]
    if missing or result.unexpected_keys:
        raise ValueError(f"{path}: does not fit {model.config.backbone_config.architecture} "
                         f"(missing {missing[:5]}, unexpected {result.unexpected_keys[:5]})")
