"""A run's data: the splits, checked against the targets, and their loaders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import datasets
import pyarrow.compute as pc
from accelerate import Accelerator
from datasets import load_dataset, load_dataset_builder
from datasets.distributed import split_dataset_by_node
from torch.utils.data import DataLoader

from ..data import LuabBatchTransform, collate_byproducts, with_stored_images
from ..schema import TaskSchema, detect_task
from ..stopping import ignore_stop_signals
from ..transforms import PointTransform
from .args import DataArguments, LuabTrainingArguments, ModelArguments, SetupError

#: The split ``--train_val_split`` holds out of train; it keeps the byproducts, so point error
#: and attention alignment can be measured on it.
HOLDOUT = "train_holdout"


@dataclass
class RunData:
    """The splits of one run and what their schema says."""

    train: Any
    evals: dict[str, Any]
    task: TaskSchema
    id2label: dict[int, str]


def load_data(data_args: DataArguments, targets: list[str]) -> RunData:
    """Load the train and evaluation splits and check they hold what ``targets`` need."""
    eval_names = [n.strip() for n in data_args.eval_splits.split(",") if n.strip() and n.strip() != HOLDOUT]
    try:
        loaded = load_dataset(data_args.dataset_name, data_args.dataset_config, streaming=data_args.streaming)
        eval_source = loaded if not data_args.streaming else load_splits(
            data_args.dataset_name, data_args.dataset_config, [name for name in eval_names if name in loaded])
    except (FileNotFoundError, ValueError, datasets.exceptions.DatasetNotFoundError) as error:
        raise SetupError(f"--dataset_name {data_args.dataset_name!r} (config {data_args.dataset_config!r}): "
                         f"cannot load it ({error})") from None
    for name in [data_args.train_split, *eval_names]:
        if name not in loaded:
            raise SetupError(f"unknown split {name!r}; {data_args.dataset_name} has: {', '.join(loaded)}")
    train = loaded[data_args.train_split]
    features = train.features
    task = detect_task(features)
    missing = {c: why for c, why in task.required_columns(targets).items() if c not in features}
    if missing:
        raise SetupError(f"dataset {data_args.dataset_name} lacks columns: "
                         + "; ".join(f"{c!r} ({why})" for c, why in missing.items()))
    id2label = dict(enumerate(task.class_names(features)))
    if not data_args.streaming:
        check_labels(train, task, len(id2label), data_args.train_split)
    return RunData(train, {name: eval_source[name] for name in eval_names}, task, id2label)


def load_splits(name: str, config: str | None, splits: list[str]) -> dict[str, Any]:
    """Each split, map-style, from its own data files only: a streamed run evaluates without
    downloading and preparing the train split it streams."""
    if not splits:
        return {}
    files = load_dataset_builder(name, config).config.data_files or {}
    for split in splits:
        if split not in files:
            raise SetupError(f"unknown split {split!r}; {name} has: {', '.join(files)}")
    return {split: load_dataset(name, config, data_files={split: files[split]}, split=split) for split in splits}


def make_loaders(data: RunData, data_args: DataArguments, model_args: ModelArguments, args: LuabTrainingArguments,
                 targets: list[str], accelerator: Accelerator) -> tuple[DataLoader, dict[str, DataLoader], LuabBatchTransform]:
    """The train loader (with its augmentation, whose epoch the loop sets) and one loader per
    evaluation split (the checkpoint's evaluation preprocessing)."""

    def batches(transform: PointTransform, seed: int | None = None, on_device: bool = False) -> LuabBatchTransform:
        return LuabBatchTransform(transform, data.task, len(data.id2label), targets, model_args.trace_steps,
                                  data_args.drop_labels_outside_crop, seed=seed, decode_on_device=on_device)

    # uint8 out of the workers (a quarter of the bytes to move); the loop normalises on the device
    train_batches = batches(PointTransform.for_training(data_args.image_size, scale=(data_args.min_crop_scale, 1.0),
                                                        normalize=False), seed=args.seed,
                            on_device=data_args.decode_on_device)
    # decode only what the targets read: all mouse traces and hovers of a row cost more than its click
    needed = [*data.task.required_columns(targets), "image_id"]
    train = with_stored_images(data.train.select_columns([c for c in data.train.features if c in needed]))
    if data_args.max_train_samples is not None:  # a seeded random subset, not the first N rows
        if data_args.streaming:
            train = train.shuffle(seed=args.seed, buffer_size=10_000).take(data_args.max_train_samples)
        else:
            count = min(data_args.max_train_samples, len(train))
            train = train.shuffle(seed=args.seed).select(range(count)).flatten_indices()
    if data_args.train_val_split > 0:
        if data_args.streaming:
            raise SetupError("--train_val_split needs a map-style dataset (drop --streaming)")
        parts = train.train_test_split(test_size=data_args.train_val_split, seed=args.seed)
        train, data.evals[HOLDOUT] = parts["train"], parts["test"]

    workers = data_args.dataloader_num_workers
    loader_kwargs = {"collate_fn": collate_byproducts, "num_workers": workers,
                     "pin_memory": accelerator.device.type == "cuda",
                     "worker_init_fn": ignore_stop_signals if workers else None}
    if data_args.streaming:
        stream = split_dataset_by_node(train, accelerator.process_index, accelerator.num_processes)
        stream = stream.shuffle(seed=args.seed, buffer_size=1000)
        stream = stream.map(train_batches, batched=True, remove_columns=list(train.features))
        train_loader = DataLoader(stream, batch_size=args.per_device_train_batch_size, **loader_kwargs)
    else:
        train.set_transform(train_batches)
        train_loader = DataLoader(train, batch_size=args.per_device_train_batch_size, shuffle=True, **loader_kwargs)
    eval_transform = batches(PointTransform.for_eval(data_args.image_size))
    eval_loaders = {}
    for name, split in data.evals.items():
        split.set_transform(eval_transform)
        eval_loaders[name] = DataLoader(split, batch_size=args.per_device_eval_batch_size, **loader_kwargs)
    return train_loader, eval_loaders, train_batches


def check_labels(split: Any, task: TaskSchema, num_labels: int, name: str) -> None:
    """Every label within the label space (-1, ClassLabel's "missing", included), named before training."""
    column = split.data.column(task.label_column)
    values = pc.list_flatten(column) if task.multi_label else column
    if len(values) == 0 or values.null_count == len(values):
        return
    low, high = pc.min_max(values).values()
    if low.as_py() < 0 or high.as_py() >= num_labels:
        bad = low.as_py() if low.as_py() < 0 else high.as_py()
        index = pc.index(column if not task.multi_label else pc.list_flatten(column), bad).as_py()
        raise SetupError(f"split {name!r}: label {bad} is outside the {num_labels} classes (first found at "
                         f"{'row' if not task.multi_label else 'label entry'} {index}); fix or drop those rows")
