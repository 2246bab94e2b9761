"""luab-hf: image classifiers that learn from annotation byproducts.

Importing the package registers the LUAB model with transformers' Auto classes, so
``AutoModelForImageClassification.from_pretrained`` and ``pipeline("image-classification")``
load LUAB checkpoints without ``trust_remote_code``. The factory and the transforms (timm,
torchvision) load on first use.
"""

from importlib import import_module
from typing import Any

from transformers import AutoConfig, AutoModelForImageClassification

from .models.luab import LuabConfig, LuabForImageClassification, LuabImageClassifierOutput

__version__ = "0.1.0"

AutoConfig.register("luab", LuabConfig, exist_ok=True)
AutoModelForImageClassification.register(LuabConfig, LuabForImageClassification, exist_ok=True)
# save_pretrained then writes `auto_map` and copies the flat modelling files for remote code.
LuabConfig.register_for_auto_class()
LuabForImageClassification.register_for_auto_class("AutoModelForImageClassification")

_LAZY = {
    "PointTransform": ".transforms",
    "backbone_config": ".models.factory",
    "create_luab_model": ".models.factory",
    "make_image_processor": ".models.factory",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LuabConfig",
    "LuabForImageClassification",
    "LuabImageClassifierOutput",
    "PointTransform",
    "backbone_config",
    "create_luab_model",
    "make_image_processor",
]
