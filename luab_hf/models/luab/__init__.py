"""The LUAB model: ``configuration_luab.py`` and ``modeling_luab.py`` are the flat files shipped
to the Hub for remote code; this package loads each only when asked (the configuration must load
without the modelling code while transformers' own auto modules are still importing)."""

from importlib import import_module
from typing import Any

_LAZY = {
    "LuabConfig": ".configuration_luab",
    "LuabForImageClassification": ".modeling_luab",
    "LuabImageClassifierOutput": ".modeling_luab",
    "LuabPreTrainedModel": ".modeling_luab",
    "LuabModel": ".modeling_luab",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LuabConfig", "LuabForImageClassification", "LuabImageClassifierOutput", "LuabModel", "LuabPreTrainedModel"]
