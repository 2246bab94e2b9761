"""The model a run trains: a fresh LUAB model, one on a pretrained backbone, or a LUAB checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub.errors import StrictDataclassError
from transformers import AutoConfig

from ..models.factory import create_luab_model
from ..models.luab.configuration_luab import BYPRODUCT_TARGETS
from ..models.luab.modeling_luab import LuabForImageClassification
from .args import DataArguments, ModelArguments, SetupError


def byproduct_targets(model_args: ModelArguments) -> list[str]:
    targets = [t.strip() for t in model_args.byproduct_targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in BYPRODUCT_TARGETS]
    if unknown or not targets:
        raise SetupError(f"--byproduct_targets {model_args.byproduct_targets!r}: choose from {', '.join(BYPRODUCT_TARGETS)}")
    return targets


DEFAULT_IMAGE_SIZE = 224


def luab_checkpoint(model_args: ModelArguments) -> Path | None:
    """``--model_name_or_path`` when it is a local LUAB checkpoint folder."""
    source = model_args.model_name_or_path
    if source and (Path(source) / "config.json").is_file() and AutoConfig.from_pretrained(source).model_type == "luab":
        return Path(source)
    return None


def resolve_image_size(data_args: DataArguments, model_args: ModelArguments) -> int:
    """The input side: ``--image_size``, else a LUAB checkpoint's own (its processor's crop, or
    its ViT's size), else 224. A size that differs from the checkpoint's is said, not refused:
    ViT position embeddings are interpolated and convolutional backbones take any size."""
    checkpoint = luab_checkpoint(model_args)
    own = None
    if checkpoint is not None:
        processor = checkpoint / "preprocessor_config.json"
        if processor.is_file():
            crop = json.loads(processor.read_text()).get("crop_size") or {}
            own = crop.get("height")
        if own is None:
            own = getattr(AutoConfig.from_pretrained(checkpoint).backbone_config, "image_size", None)
    if data_args.image_size is None:
        return int(own or DEFAULT_IMAGE_SIZE)
    if own is not None and int(own) != data_args.image_size:
        print(f"note: --image_size {data_args.image_size} differs from the checkpoint's {own} px; training at "
              f"{data_args.image_size} (ViT position embeddings are interpolated)", flush=True)
    return data_args.image_size


def build_model(model_args: ModelArguments, data_args: DataArguments, targets: list[str], id2label: dict[int, str],
                 multi_label: bool) -> LuabForImageClassification:
    common = {"byproduct_loss_weight": model_args.byproduct_loss_weight, "byproduct_loss": model_args.byproduct_loss,
              "attention_loss_weight": model_args.attention_loss_weight,
              "attention_radius": model_args.attention_radius}
    source = model_args.model_name_or_path
    if luab_checkpoint(model_args) is not None:
        model = LuabForImageClassification.from_pretrained(source, use_safetensors=True, **common)
        if model.config.num_labels != len(id2label):
            raise SetupError(f"--model_name_or_path {source}: has {model.config.num_labels} labels, the dataset {len(id2label)}")
        return model
    if not source and not model_args.backbone:
        raise SetupError("give --model_name_or_path (a checkpoint or timm name) or --backbone (a fresh model)")
    try:
        return create_luab_model(
            source or model_args.backbone,
            num_labels=len(id2label),
            id2label=id2label,
            problem_type="multi_label_classification" if multi_label else "single_label_classification",
            pretrained=bool(source),
            timm_weights=model_args.timm_weights,
            image_size=data_args.image_size,
            byproduct_targets=targets,
            num_points=len(id2label) if multi_label else 1,
            pooling=model_args.pooling,
            trace_steps=model_args.trace_steps,
            **common,
        )
    except (ValueError, OSError, StrictDataclassError) as error:
        raise SetupError(f"cannot build the model: {error}") from None
