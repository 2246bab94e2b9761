"""luab-hf: image classifiers that learn from annotation byproducts.

Importing it registers the LUAB model with transformers' Auto classes (:mod:`.models.luab`), so
after ``import luab_hf``, ``AutoModelForImageClassification.from_pretrained`` and
``pipeline("image-classification")`` load LUAB checkpoints without ``trust_remote_code``. The other
public names load on first use.
"""

from importlib import import_module
from typing import Any

from . import models  # noqa: F401  (registers the model with the Auto classes)

__version__ = "0.1.0"

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
