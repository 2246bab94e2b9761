"""Register LUAB with transformers' Auto classes when transformers loads them, not before.

``import luab_hf`` must stay light (the parsers and converters need neither torch nor
transformers), yet ``import luab_hf`` followed by ``AutoModelForImageClassification.from_pretrained``
or ``pipeline(...)`` on a LUAB checkpoint must work without ``trust_remote_code``. So the
registration runs right after transformers' auto modules execute (or at once, when they already
have), through a post-import hook on exactly those two modules.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable
from types import ModuleType

_CONFIG_AUTO = "transformers.models.auto.configuration_auto"
_MODEL_AUTO = "transformers.models.auto.modeling_auto"
_LUAB_CONFIG = "luab_hf.models.luab.configuration_luab"
_LUAB_MODELING = "luab_hf.models.luab.modeling_luab"


def _importing(*names: str) -> bool:
    """Whether any of these modules is executing right now (then its own hook registers later)."""
    return any(getattr(getattr(sys.modules.get(name), "__spec__", None), "_initializing", False) for name in names)


def _register_config() -> None:
    if _importing(_LUAB_CONFIG, _CONFIG_AUTO):
        return
    from transformers import AutoConfig

    from .models.luab.configuration_luab import LuabConfig

    AutoConfig.register("luab", LuabConfig, exist_ok=True)
    # save_pretrained then writes `auto_map` and copies the flat modelling files for remote code.
    LuabConfig.register_for_auto_class()


def _register_models() -> None:
    if _importing(_LUAB_CONFIG, _LUAB_MODELING, _CONFIG_AUTO, _MODEL_AUTO):
        return
    from transformers import AutoModel, AutoModelForImageClassification

    from .models.luab.configuration_luab import LuabConfig
    from .models.luab.modeling_luab import LuabForImageClassification, LuabModel

    _register_config()
    AutoModel.register(LuabConfig, LuabModel, exist_ok=True)
    AutoModelForImageClassification.register(LuabConfig, LuabForImageClassification, exist_ok=True)
    LuabModel.register_for_auto_class("AutoModel")
    LuabForImageClassification.register_for_auto_class("AutoModelForImageClassification")


# transformers' auto modules, and LUAB's own two (for when they load first and pull transformers in)
_HOOKS: dict[str, Callable[[], None]] = {
    _CONFIG_AUTO: _register_config, _MODEL_AUTO: _register_models,
    _LUAB_CONFIG: _register_config, _LUAB_MODELING: _register_models,
}


class _RegisterAfter(importlib.abc.Loader):
    """Wraps a module's own loader: execute the module, then run its hook."""

    def __init__(self, loader: importlib.abc.Loader, hook: Callable[[], None]) -> None:
        self.loader, self.hook = loader, hook

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        module.__spec__._initializing = False  # executed: the hook may import it now
        self.hook()


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # noqa: ANN001 (the finder protocol)
        if name not in _HOOKS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RegisterAfter(spec.loader, _HOOKS[name])
                return spec
        return None


def install() -> None:
    """Register now for the modules already loaded; hook the others."""
    for name, hook in _HOOKS.items():
        if name in sys.modules and _CONFIG_AUTO in sys.modules:
            hook()
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
