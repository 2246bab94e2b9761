"""luab-hf: image classifiers that learn from annotation byproducts.

Importing the package registers the LUAB model with transformers' Auto classes, so
``AutoModelForImageClassification.from_pretrained`` and ``pipeline("image-classification")``
load LUAB checkpoints without ``trust_remote_code``.
"""

from transformers import AutoConfig, AutoModelForImageClassification

from .models.factory import backbone_config, create_luab_model, make_image_processor
from .models.luab import LuabConfig, LuabForImageClassification, LuabImageClassifierOutput
from .transforms import PointTransform

__version__ = "0.1.0"

AutoConfig.register("luab", LuabConfig, exist_ok=True)
AutoModelForImageClassification.register(LuabConfig, LuabForImageClassification, exist_ok=True)
# save_pretrained then writes `auto_map` and copies the flat modelling files for remote code.
LuabConfig.register_for_auto_class()
LuabForImageClassification.register_for_auto_class("AutoModelForImageClassification")

__all__ = [
    "LuabConfig",
    "LuabForImageClassification",
    "LuabImageClassifierOutput",
    "PointTransform",
    "backbone_config",
    "create_luab_model",
    "make_image_processor",
]
