"""The LUAB trainer as library code: ``luab-train`` runs :func:`main`, ``training/train.py`` too.

Each stage is importable on its own: :func:`~.data.load_data` / :func:`~.data.make_loaders`,
:func:`~.modeling.build_model`, :func:`~.loop.train`, :func:`~.evaluation.evaluate`,
:func:`~.checkpoints.save_checkpoint` and :func:`~.outputs.save_outputs`.
"""

import warnings
from typing import Any

from .args import DataArguments, LuabTrainingArguments, ModelArguments, SetupError, parse_args
from .checkpoints import save_checkpoint
from .data import load_data, make_loaders
from .evaluation import evaluate
from .loop import main, train
from .modeling import build_model
from .outputs import save_outputs

__all__ = ["DataArguments", "LuabTrainingArguments", "ModelArguments", "SetupError", "build_model", "evaluate",
           "load_data", "main", "make_loaders", "parse_args", "save_checkpoint", "save_outputs", "train"]


def __getattr__(name: str) -> Any:
    """``TrainingArguments``: the old name of :class:`LuabTrainingArguments`, kept for one release
    (it read as transformers' own class)."""
    if name == "TrainingArguments":
        warnings.warn("luab_hf.trainer.TrainingArguments is now LuabTrainingArguments; the old name goes in the "
                      "next release", FutureWarning, stacklevel=2)
        return LuabTrainingArguments
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
