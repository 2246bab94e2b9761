"""Command-line arguments of ``luab-train`` (``training/train.py``), parsed with ``HfArgumentParser``.

Flags follow transformers' ``run_image_classification_no_trainer.py`` where one exists, plus
LUAB's own. A YAML or JSON file given as the first argument supplies defaults that later flags
override: ``train.py run.yaml --learning_rate 1e-3``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from transformers import HfArgumentParser

from .._system import available_cpus


@dataclass
class DataArguments:
    dataset_name: str = field(metadata={"help": "A dataset folder made by luab-convert, or a Hub repo id."})
    dataset_config: str | None = field(default=None, metadata={"help": "Config name; default: the dataset's default (with images)."})
    train_split: str = field(default="train")
    eval_splits: str = field(default="validation", metadata={"help": "Comma-separated splits to evaluate on; '' for none."})
    train_val_split: float = field(
        default=0.0,
        metadata={"help": "Hold out this fraction of train as split 'train_holdout', which keeps the byproducts, "
                          "so point error and attention alignment can be measured."},
    )
    streaming: bool = field(default=False, metadata={"help": "Stream the dataset (needs --max_train_steps)."})
    image_size: int | None = field(
        default=None, metadata={"help": "Input side in pixels; default: a LUAB checkpoint's own (--model_name_or_path), "
                                        "else 224."})
    min_crop_scale: float = field(default=0.08, metadata={"help": "RandomResizedCrop's smallest area fraction."})
    drop_labels_outside_crop: bool = field(
        default=False, metadata={"help": "COCO-AB: drop a class label when its click leaves the crop (the published loader's quirk)."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Train on a seeded random subset of N rows."})
    decode_on_device: bool = field(
        default=False, metadata={"help": "Decode training JPEGs on the accelerator in batches (nvJPEG on CUDA); the "
                                         "loader workers still draw each crop and flip and map the points."})
    dataloader_num_workers: int = field(
        default_factory=lambda: min(8, available_cpus()),
        metadata={"help": "Loader processes per training process; default: min(8, the CPU cores available)."})


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "A LUAB checkpoint, a transformers backbone checkpoint (folder or repo id), or a timm model name."})
    backbone: str | None = field(
        default=None, metadata={"help": "A fresh backbone instead: a preset (vit-small, resnet-50, vit-micro, ...) or a timm name."})
    timm_weights: str | None = field(default=None, metadata={"help": "Local .safetensors weights for a timm backbone."})
    byproduct_loss_weight: float = field(default=1.0, metadata={"help": "lambda; 0 trains the plain baseline."})
    byproduct_loss: str = field(default="smooth_l1", metadata={"help": "smooth_l1, l1 or mse."})
    byproduct_targets: str = field(default="click", metadata={"help": "Comma-separated: click, mouse_trace, time."})
    attention_loss_weight: float = field(
        default=0.0, metadata={"help": "Weight of the byproduct-guided attention loss: cells farther than "
                                       "--attention_radius from every click must carry no class evidence."})
    attention_radius: float = field(default=0.25, metadata={"help": "In normalised image units."})
    pooling: str = field(default="cls", metadata={"help": "ViT backbones: 'cls' or 'mean' (the attention loss needs 'mean')."})
    trace_steps: int = field(default=8)


@dataclass
class LuabTrainingArguments:
    output_dir: str = field(metadata={"help": "Where the model, checkpoints, logs and card go."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace an output_dir that holds another run."})
    per_device_train_batch_size: int = field(default=32)
    per_device_eval_batch_size: int = field(default=64)
    learning_rate: float = field(default=5e-4)
    weight_decay: float = field(default=0.05)
    num_train_epochs: int = field(default=3)
    max_train_steps: int | None = field(default=None, metadata={"help": "Overrides num_train_epochs."})
    gradient_accumulation_steps: int = field(default=1)
    lr_scheduler_type: str = field(default="cosine")
    num_warmup_steps: int = field(default=0)
    max_grad_norm: float = field(default=1.0)
    mixed_precision: str = field(default="no", metadata={"help": "no, fp16 or bf16."})
    seed: int = field(default=42)
    checkpointing_steps: str | None = field(default=None, metadata={"help": "Save state every N steps, or 'epoch'."})
    checkpoints_total_limit: int | None = field(
        default=None, metadata={"help": "Keep at most this many checkpoints (the oldest complete ones go first)."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Recompute activations in backward: less memory."})
    torch_compile: bool = field(default=False, metadata={"help": "Compile the model with torch.compile."})
    torch_compile_backend: str = field(default="inductor", metadata={"help": "torch.compile backend (with --torch_compile)."})
    torch_compile_mode: str | None = field(
        default=None, metadata={"help": "torch.compile mode, e.g. max-autotune (with --torch_compile)."})
    resume_from_checkpoint: str | None = field(default=None, metadata={"help": "A checkpoint folder, or 'latest' in output_dir."})
    logging_steps: int = field(
        default=10, metadata={"help": "Log the loss every N steps; with several processes, SIGTERM/SIGINT stop the run "
                                      "at the next such step (all ranks at the same one)."})
    eval_epochs: int = field(default=0, metadata={"help": "Also evaluate every N epochs; 0: only at the end."})
    report_to: str = field(default="tensorboard", metadata={"help": "tensorboard, trackio, all or none (comma-separated)."})
    push_to_hub: bool = field(default=False)
    hub_model_id: str | None = field(default=None)
    hub_strategy: str = field(
        default="end", metadata={"help": "'end': push the final model; 'every_save': also push each checkpoint's model, "
                                         "processor and card as one commit, in the background."})


ARGUMENT_CLASSES = (DataArguments, ModelArguments, LuabTrainingArguments)


class SetupError(Exception):
    """A problem found before training starts; the message says what to change."""


def checkpoint_every(args: LuabTrainingArguments, streaming: bool) -> int | None:
    """``--checkpointing_steps`` as a step count (None for none or 'epoch'), or a clear refusal."""
    value = args.checkpointing_steps
    if value is None or value == "":
        return None
    if value == "epoch":
        if streaming:
            raise SetupError("--checkpointing_steps epoch: a stream has no epochs all ranks agree on; give a number "
                             "of steps")
        return None
    if not value.isdigit() or int(value) == 0:
        raise SetupError(f"--checkpointing_steps {value!r}: expected a whole number of steps > 0 (e.g. 5000) or 'epoch'")
    return int(value)


def check_arguments(data_args: DataArguments, args: LuabTrainingArguments) -> None:
    """Refuse flag combinations no run can honour, before anything is loaded."""
    if data_args.streaming and args.max_train_steps is None:
        raise SetupError("--streaming needs --max_train_steps (a stream has no length to count epochs by)")
    if data_args.streaming and args.eval_epochs:
        raise SetupError("--eval_epochs: a stream has no epochs all ranks agree on; evaluation runs at the end")
    checkpoint_every(args, data_args.streaming)
    if args.hub_strategy not in ("end", "every_save"):
        raise SetupError(f"--hub_strategy {args.hub_strategy!r}: choose 'end' or 'every_save'")
    if args.push_to_hub and not args.hub_model_id:
        raise SetupError("--push_to_hub needs --hub_model_id ORG/NAME")


def parse_args(argv: list[str] | None) -> tuple[DataArguments, ModelArguments, LuabTrainingArguments]:
    """Parse flags, with an optional leading YAML/JSON config file as defaults."""
    argv = list(argv or [])
    if argv and argv[0].endswith((".yaml", ".yml", ".json")):
        path = Path(argv.pop(0))
        text = path.read_text()
        values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        if not isinstance(values, dict):
            raise SystemExit(f"{path}: expected a mapping of argument names to values")
        defaults = []
        for key, value in values.items():
            if isinstance(value, bool):
                defaults += [f"--{key}", str(value).lower()]
            elif value is not None:
                defaults += [f"--{key}", str(value)]
        argv = defaults + argv
    parser = HfArgumentParser(ARGUMENT_CLASSES)
    data, model, training = parser.parse_args_into_dataclasses(args=argv)
    return data, model, training
