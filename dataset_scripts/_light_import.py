"""Let the converters use luab_hf's data modules without importing torch.

``import luab_hf`` registers the model with transformers, which imports torch: seconds of start-up
and hundreds of MiB in every converter process, for nothing the converters use. When luab_hf is
not imported yet, this installs the package as a bare namespace, so ``luab_hf.byproducts``,
``luab_hf.schema``, ``luab_hf.cards`` ... load alone. Scripts import it first when run directly; as a module (tests, the demo) it is not used.
"""

from __future__ import annotations

import importlib.util
import sys
import types

if "luab_hf" not in sys.modules:
    _spec = importlib.util.find_spec("luab_hf")
    if _spec is not None and _spec.submodule_search_locations:
        _package = types.ModuleType("luab_hf", "luab-hf data modules (models not loaded)")
        _package.__path__ = list(_spec.submodule_search_locations)
        _package.__spec__ = _spec
        sys.modules["luab_hf"] = _package
