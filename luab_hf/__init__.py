"""luab-hf: image classifiers that learn from annotation byproducts.

The top level is lazy: ``import luab_hf.byproducts`` or a converter loads neither torch nor
transformers. The LUAB model registers itself with transformers' Auto classes as soon as
transformers loads them, so after ``import luab_hf``, ``AutoModelForImageClassification.from_pretrained``
and ``pipeline("image-classification")`` load LUAB checkpoints without ``trust_remote_code``.
"""

from importlib import import_module
from typing import Any

from . import _auto

__version__ = "0.1.0"

_auto.install()

_LAZY = {
    "LuabConfig": ".models.luab",
    "LuabForImageClassification": ".models.luab",
    "LuabImageClassifierOutput": ".models.luab",
    "PointTransform": ".transforms",
    "backbone_config": ".models.factory",
    "create_luab_model": ".models.factory",
    "export_timm": ".models.export",
    "LuabModel": ".models.luab",
    "LuabTrainer": ".hf_trainer",
    "make_image_processor": ".processing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "LuabConfig",
    "LuabForImageClassification",
    "LuabImageClassifierOutput",
    "PointTransform",
    "backbone_config",
    "LuabModel",
    "LuabTrainer",
    "create_luab_model",
    "export_timm",
    "make_image_processor",
]
