"""The LUAB trainer as library code: ``luab-train`` runs :func:`main`, ``training/train.py`` too.

Each stage is importable on its own: :func:`~.data.load_data` / :func:`~.data.make_loaders`,
:func:`~.modeling.build_model`, :func:`~.loop.train`, :func:`~.evaluation.evaluate`,
:func:`~.checkpoints.save_checkpoint` and :func:`~.outputs.save_outputs`.
"""

from .args import DataArguments, ModelArguments, SetupError, TrainingArguments, parse_args
from .loop import main, train

__all__ = ["DataArguments", "ModelArguments", "SetupError", "TrainingArguments", "main", "parse_args", "train"]
