"""``LuabTrainer``: transformers' ``Trainer`` for LUAB models, for those who train with it.

Three things differ from a plain ``Trainer``, each because of what LUAB batches are:

- the dataset's columns are kept: ``LuabBatchTransform`` (``set_transform``) builds the model's
  inputs from the raw columns (``image``, ``click_point``, ...), which ``remove_unused_columns``
  (on by default) would drop first, as not being arguments of ``forward``;
- batches are collated with :func:`~luab_hf.data.collate_byproducts` unless another collator is
  given (points and their validity masks beside the pixels);
- the loss terms (classification, byproduct, attention) are logged beside ``loss``, averaged over
  each logging window, and the output folder gets the model card ``luab-train`` writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import Trainer

from .cards import TrainingSummary, model_card
from .data import collate_byproducts

#: The loss terms a LUAB model's output carries (``LuabImageClassifierOutput``).
LOSS_TERMS = ("classification_loss", "byproduct_loss", "attention_loss")


class LuabTrainer(Trainer):
    """A ``transformers.Trainer`` for :class:`~luab_hf.LuabForImageClassification`; takes the same
    arguments (plain ``transformers.TrainingArguments``, defaults included)."""

    def __init__(self, *args: Any, data_collator: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, data_collator=data_collator or collate_byproducts, **kwargs)
        self._terms: dict[str, torch.Tensor] = {}
        self._term_steps = 0

    def _remove_unused_columns(self, dataset: Any, description: str | None = None) -> Any:
        """Keep every column: the batch transform reads them (see the module's docstring)."""
        return dataset

    def _get_collator_with_removed_columns(self, data_collator: Any, description: str | None = None) -> Any:
        return data_collator

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if model.training:  # summed on the device, read once per logging window: no sync per step
            for name in LOSS_TERMS:
                term = outputs.get(name) if hasattr(outputs, "get") else None
                if term is not None:
                    self._terms[name] = self._terms.get(name, 0) + term.detach()
            self._term_steps += 1
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if "loss" in logs and self._term_steps:
            for name, total in self._terms.items():
                logs[name] = round(self.accelerator.reduce(total, reduction="mean").item() / self._term_steps, 6)
            self._terms, self._term_steps = {}, 0
        super().log(logs, *args, **kwargs)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call)
        if self.args.should_save:
            folder = Path(output_dir or self.args.output_dir)
            model_card(self._summary(folder)).save(folder / "README.md")

    def _summary(self, folder: Path) -> TrainingSummary:
        """What the run did, as ``luab-train``'s card states it."""
        from .trainer.outputs import launch_command, versions

        config = self.model.config
        dataset = getattr(getattr(self.train_dataset, "info", None), "dataset_name", None) or "unnamed dataset"
        # the last evaluation's metrics, as "eval/<metric>" (timings left out)
        results = {f"eval/{key.removeprefix('eval_')}": value for entry in self.state.log_history
                   for key, value in entry.items() if key.startswith("eval_") and isinstance(value, float)
                   and not key.endswith(("_runtime", "_per_second"))}
        return TrainingSummary(
            model_name=self.args.hub_model_id or folder.name, dataset=dataset, dataset_config=None,
            backbone=getattr(config.backbone_config, "architecture", None) or config.backbone_config.model_type,
            byproduct_loss_weight=config.byproduct_loss_weight, byproduct_targets=list(config.byproduct_targets),
            seed=self.args.seed,
            command=launch_command(self.accelerator.num_processes) + " (transformers Trainer)", results=results,
            versions=versions(),
            hyperparameters={"learning_rate": self.args.learning_rate, "weight_decay": self.args.weight_decay,
                             "train_batch_size": self.args.per_device_train_batch_size * self.args.world_size,
                             "steps": self.state.global_step, "lr_scheduler_type": str(self.args.lr_scheduler_type),
                             "attention_loss_weight": config.attention_loss_weight,
                             "attention_radius": config.attention_radius})
