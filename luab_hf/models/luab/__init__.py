from .configuration_luab import LuabConfig
from .modeling_luab import (
    LuabForImageClassification,
    LuabImageClassifierOutput,
    LuabPreTrainedModel,
)

__all__ = ["LuabConfig", "LuabForImageClassification", "LuabImageClassifierOutput", "LuabPreTrainedModel"]
