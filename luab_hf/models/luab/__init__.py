"""The LUAB model, registered with transformers' Auto classes when this package is imported.

``configuration_luab.py`` and ``modeling_luab.py`` are the flat files shipped to the Hub for
remote code; the registration lives here, outside them, so a remote-code copy never claims the
``luab`` model type for itself.
"""

from transformers import AutoConfig, AutoModel, AutoModelForImageClassification

from .configuration_luab import LuabConfig
from .modeling_luab import (
    LuabForImageClassification,
    LuabImageClassifierOutput,
    LuabModel,
    LuabPreTrainedModel,
)

AutoConfig.register("luab", LuabConfig, exist_ok=True)
AutoModel.register(LuabConfig, LuabModel, exist_ok=True)
AutoModelForImageClassification.register(LuabConfig, LuabForImageClassification, exist_ok=True)
# save_pretrained then writes `auto_map` and copies the flat files, for `trust_remote_code` users
LuabConfig.register_for_auto_class()
LuabModel.register_for_auto_class("AutoModel")
LuabForImageClassification.register_for_auto_class("AutoModelForImageClassification")

__all__ = ["LuabConfig", "LuabForImageClassification", "LuabImageClassifierOutput", "LuabModel", "LuabPreTrainedModel"]
