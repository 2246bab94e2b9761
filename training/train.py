"""Train a LUAB image classifier (or its lambda = 0 baseline) with Accelerate.

    accelerate launch training/train.py --dataset_name ImageNet-AB --backbone vit-small \\
        --image_size 224 --byproduct_loss_weight 1.0 --output_dir runs/luab-vit-s

One CPU to many GPUs and nodes: DDP, FSDP, DeepSpeed and multi-node are Accelerate's
(``accelerate config``). Ends with a ``from_pretrained``-able folder: safetensors weights, the
remote-code modelling files, the image processor, ``all_results.json`` and a model card.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shlex
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import datasets
import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
from datasets import load_dataset
from datasets.distributed import split_dataset_by_node
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import AutoConfig, get_scheduler

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import luab_hf
from luab_hf import LuabForImageClassification, create_luab_model, make_image_processor
from luab_hf.cards import TrainingSummary, model_card
from luab_hf.data import LuabBatchTransform, collate_byproducts, detect_task
from luab_hf.hub import upload_folder
from luab_hf.metrics import (
    attention_alignment,
    cam_peaks,
    mean_average_precision,
    multilabel_f1,
    point_error,
    topk_accuracy,
)
from luab_hf.models.luab.configuration_luab import BYPRODUCT_TARGETS
from training.args import DataArguments, ModelArguments, TrainingArguments, parse_args

CHECKPOINT_META = "luab_checkpoint.json"
RUN_ARGS = "training_args.json"
HOLDOUT = "train_holdout"


class SetupError(Exception):
    """A problem found before training starts; the message says what to change."""


# --------------------------------------------------------------------------- checks


def _targets(model_args: ModelArguments) -> list[str]:
    targets = [t.strip() for t in model_args.byproduct_targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in BYPRODUCT_TARGETS]
    if unknown or not targets:
        raise SetupError(f"--byproduct_targets {model_args.byproduct_targets!r}: choose from {', '.join(BYPRODUCT_TARGETS)}")
    return targets


def _required_columns(task: str, targets: list[str]) -> dict[str, str]:
    """column -> why it is needed."""
    needed = {"image": "the images (use the dataset's 'default' config)"}
    needed["label" if task == "imagenet-ab" else "labels"] = "the class labels"
    columns = {
        "imagenet-ab": {"click": "click_point", "mouse_trace": "annotations", "time": "annotations"},
        "coco-ab": {"click": "points", "mouse_trace": "mouse_trace", "time": "time_spent_ms"},
    }[task]
    for target in targets:
        needed[columns[target]] = f"the {target!r} byproduct target"
    return needed


def _signature(model_args: ModelArguments, data_args: DataArguments, targets: list[str], num_labels: int) -> dict:
    """What makes a checkpoint belong to this run's model."""
    return {"model": model_args.model_name_or_path or model_args.backbone, "num_labels": num_labels,
            "byproduct_targets": targets, "image_size": data_args.image_size}


def _checkpoints(output_dir: Path) -> list[Path]:
    folder = output_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith("step_") and (p / CHECKPOINT_META).is_file()
                  and not p.name.endswith(".tmp"))


def _resolve_checkpoint(args: TrainingArguments) -> Path | None:
    if args.resume_from_checkpoint is None:
        return None
    if args.resume_from_checkpoint == "latest":
        found = _checkpoints(Path(args.output_dir))
        if not found:
            raise SetupError(f"--resume_from_checkpoint latest: no complete checkpoint in {args.output_dir}/checkpoints")
        return found[-1]
    path = Path(args.resume_from_checkpoint)
    if not path.is_dir():
        raise SetupError(f"--resume_from_checkpoint {path}: no such folder")
    if not (path / CHECKPOINT_META).is_file():
        raise SetupError(f"--resume_from_checkpoint {path}: not a checkpoint of this script (no {CHECKPOINT_META})")
    return path


def _check_output_dir(args: TrainingArguments, checkpoint: Path | None) -> None:
    output = Path(args.output_dir)
    existing = output
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise SetupError(f"--output_dir {output}: cannot write there ({existing} is not a writable folder)")
    if not output.exists() or not any(output.iterdir()):
        return
    if args.overwrite_output_dir:
        return
    if checkpoint is not None and output.resolve() in checkpoint.resolve().parents:
        return
    raise SetupError(f"--output_dir {output} already holds another run; pass --overwrite_output_dir to replace it, "
                     "--resume_from_checkpoint latest to continue it, or choose another folder")


def _load_splits(data_args: DataArguments, eval_names: list[str]) -> tuple[Any, dict[str, Any]]:
    try:
        loaded = load_dataset(data_args.dataset_name, data_args.dataset_config, streaming=data_args.streaming)
        eval_source = loaded if not data_args.streaming else (
            load_dataset(data_args.dataset_name, data_args.dataset_config) if eval_names else {})
    except (FileNotFoundError, ValueError, datasets.exceptions.DatasetNotFoundError) as error:
        raise SetupError(f"--dataset_name {data_args.dataset_name!r} (config {data_args.dataset_config!r}): "
                         f"cannot load it ({error})") from None
    for name in [data_args.train_split, *eval_names]:
        if name == HOLDOUT:
            continue
        if name not in loaded:
            raise SetupError(f"unknown split {name!r}; {data_args.dataset_name} has: {', '.join(loaded)}")
    train = loaded[data_args.train_split]
    evals = {name: eval_source[name] for name in eval_names if name != HOLDOUT}
    return train, evals


# --------------------------------------------------------------------------- model


def _build_model(model_args: ModelArguments, data_args: DataArguments, targets: list[str], id2label: dict[int, str],
                 multi_label: bool) -> LuabForImageClassification:
    common = {"byproduct_loss_weight": model_args.byproduct_loss_weight, "byproduct_loss": model_args.byproduct_loss}
    source = model_args.model_name_or_path
    if source and (Path(source) / "config.json").is_file() and AutoConfig.from_pretrained(source).model_type == "luab":
        model = LuabForImageClassification.from_pretrained(source, use_safetensors=True, **common)
        if model.config.num_labels != len(id2label):
            raise SetupError(f"--model_name_or_path {source}: has {model.config.num_labels} labels, the dataset {len(id2label)}")
        return model
    if not source and not model_args.backbone:
        raise SetupError("give --model_name_or_path (a checkpoint or timm name) or --backbone (a fresh model)")
    try:
        return create_luab_model(
            source or model_args.backbone,
            num_labels=len(id2label),
            id2label=id2label,
            problem_type="multi_label_classification" if multi_label else "single_label_classification",
            pretrained=bool(source),
            timm_weights=model_args.timm_weights,
            image_size=data_args.image_size,
            byproduct_targets=targets,
            num_points=len(id2label) if multi_label else 1,
            trace_steps=model_args.trace_steps,
            **common,
        )
    except (ValueError, OSError) as error:
        raise SetupError(f"cannot build the model: {error}") from None


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(model, loader, accelerator: Accelerator, multi_label: bool) -> dict[str, float]:
    """Classification metrics, point error and attention alignment over one split."""
    model.eval()
    core = accelerator.unwrap_model(model)
    parts: dict[str, list[torch.Tensor]] = {}
    for batch in loader:
        out = model(pixel_values=batch["pixel_values"], output_feature_map=True)
        if multi_label:
            cams = torch.einsum("bchw,kc->bkhw", out.feature_map.float(), core.classifier.weight.float())
        else:
            cams = core.class_activation_map(out.feature_map, batch["labels"]).unsqueeze(1)
        values = {"logits": out.logits.float(), "labels": batch["labels"], "points": batch["points"],
                  "points_valid": batch["points_valid"], "peaks": cam_peaks(cams)}
        if out.point_predictions is not None:
            values["point_predictions"] = out.point_predictions.float()
        for key, value in accelerator.gather_for_metrics(values).items():
            parts.setdefault(key, []).append(value.cpu())
    model.train()
    if not parts:
        return {}
    data = {key: torch.cat(value) for key, value in parts.items()}
    logits, labels = data["logits"], data["labels"]
    if multi_label:
        results = {"mAP": mean_average_precision(logits, labels), **multilabel_f1(logits, labels),
                   "loss": torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float()).item()}
        valid = data["points_valid"] & labels.bool()
    else:
        results = {"accuracy": topk_accuracy(logits, labels, 1), "top5_accuracy": topk_accuracy(logits, labels, 5),
                   "loss": torch.nn.functional.cross_entropy(logits, labels).item()}
        valid = data["points_valid"]
    if valid.any():
        results["attention_alignment"] = attention_alignment(data["peaks"], data["points"], valid)
        if "point_predictions" in data:
            results["point_error"] = point_error(data["point_predictions"], data["points"], valid)
    return results


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(accelerator: Accelerator, output_dir: Path, step: int, epoch: int, signature: dict) -> Path:
    """``accelerator.save_state`` into a temporary folder, renamed once complete, so a crash
    never leaves a half-written checkpoint where ``latest`` would find it."""
    final = output_dir / "checkpoints" / f"step_{step:08d}"
    staging = final.with_name(final.name + ".tmp")
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (staging / CHECKPOINT_META).write_text(json.dumps({"step": step, "epoch": epoch, "signature": signature}))
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    accelerator.wait_for_everyone()
    return final


# --------------------------------------------------------------------------- main


def _versions() -> dict[str, str]:
    import accelerate
    import timm
    import torchvision
    import transformers

    return {"luab_hf": luab_hf.__version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "transformers": transformers.__version__, "datasets": datasets.__version__,
            "accelerate": accelerate.__version__, "timm": timm.__version__}


def _trackers(report_to: str) -> list[str] | None:
    names = [n.strip() for n in report_to.split(",") if n.strip()]
    if names in ([], ["none"]):
        return None
    return ["tensorboard", "trackio"] if names == ["all"] else names


def train(data_args: DataArguments, model_args: ModelArguments, args: TrainingArguments,
          argv: list[str]) -> dict[str, float]:
    """The whole run; returns the final evaluation results."""
    targets = _targets(model_args)
    if data_args.streaming and args.max_train_steps is None:
        raise SetupError("--streaming needs --max_train_steps (a stream has no length to count epochs by)")
    checkpoint = _resolve_checkpoint(args)
    _check_output_dir(args, checkpoint)
    output_dir = Path(args.output_dir)
    eval_names = [n.strip() for n in data_args.eval_splits.split(",") if n.strip()]
    if data_args.train_val_split > 0 and HOLDOUT not in eval_names:
        eval_names.append(HOLDOUT)
    train_data, eval_data = _load_splits(data_args, eval_names)

    features = train_data.features
    task = detect_task(list(features))
    missing = {c: why for c, why in _required_columns(task, targets).items() if c not in features}
    if missing:
        raise SetupError(f"dataset {data_args.dataset_name} lacks columns: "
                         + "; ".join(f"{c!r} ({why})" for c, why in missing.items()))
    multi_label = task == "coco-ab"
    class_label = features["labels"].feature if multi_label else features["label"]
    id2label = dict(enumerate(class_label.names))
    signature = _signature(model_args, data_args, targets, len(id2label))
    if checkpoint is not None:
        saved = json.loads((checkpoint / CHECKPOINT_META).read_text())["signature"]
        if saved != signature:
            raise SetupError(f"--resume_from_checkpoint {checkpoint}: it belongs to another model ({saved}), "
                             f"this run builds {signature}")

    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=_trackers(args.report_to),
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    set_seed(args.seed)
    if accelerator.is_main_process:
        if args.overwrite_output_dir and checkpoint is None and output_dir.exists():
            shutil.rmtree(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / RUN_ARGS).write_text(json.dumps(
            {"data": asdict(data_args), "model": asdict(model_args), "training": asdict(args)}, indent=2))
    accelerator.wait_for_everyone()

    model = _build_model(model_args, data_args, targets, id2label, multi_label)
    train_transform = luab_hf.PointTransform.for_training(data_args.image_size, scale=(data_args.min_crop_scale, 1.0))
    eval_transform = luab_hf.PointTransform.for_eval(data_args.image_size)

    def batches(transform, seed=None):
        return LuabBatchTransform(transform, task, len(id2label), targets, model_args.trace_steps,
                                  data_args.drop_labels_outside_crop, seed=seed)

    train_batches = batches(train_transform, seed=args.seed)

    if data_args.max_train_samples is not None:
        train_data = train_data.take(data_args.max_train_samples) if data_args.streaming else \
            train_data.select(range(min(data_args.max_train_samples, len(train_data))))
    if data_args.train_val_split > 0:
        if data_args.streaming:
            raise SetupError("--train_val_split needs a map-style dataset (drop --streaming)")
        parts = train_data.train_test_split(test_size=data_args.train_val_split, seed=args.seed)
        train_data, eval_data[HOLDOUT] = parts["train"], parts["test"]

    loader_kwargs = {"collate_fn": collate_byproducts, "num_workers": data_args.dataloader_num_workers}
    if data_args.streaming:
        stream = split_dataset_by_node(train_data, accelerator.process_index, accelerator.num_processes)
        stream = stream.shuffle(seed=args.seed, buffer_size=1000)
        stream = stream.map(train_batches, batched=True, remove_columns=list(features))
        train_loader = DataLoader(stream, batch_size=args.per_device_train_batch_size, **loader_kwargs)
    else:
        train_data.set_transform(train_batches)
        train_loader = DataLoader(train_data, batch_size=args.per_device_train_batch_size, shuffle=True, **loader_kwargs)
    eval_loaders = {}
    for name, split in eval_data.items():
        split.set_transform(batches(eval_transform))
        eval_loaders[name] = DataLoader(split, batch_size=args.per_device_eval_batch_size, **loader_kwargs)

    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    if not data_args.streaming:
        train_loader = accelerator.prepare(train_loader)
    eval_loaders = {name: accelerator.prepare(loader) for name, loader in eval_loaders.items()}

    # steps are counted after sharding: each process sees 1/num_processes of the batches. A stream
    # has no length: every process passes over its shard as often as needed for max_steps, so all
    # take the same number of steps even when their shards differ by a few rows (no DDP hang).
    if data_args.streaming:
        steps_per_epoch, max_steps, epochs = None, args.max_train_steps, None
    else:
        steps_per_epoch = max(1, math.ceil(len(train_loader) / args.gradient_accumulation_steps))
        max_steps = args.max_train_steps or args.num_train_epochs * steps_per_epoch
        epochs = math.ceil(max_steps / steps_per_epoch)
    scheduler = get_scheduler(args.lr_scheduler_type, optimizer,
                              num_warmup_steps=args.num_warmup_steps * accelerator.num_processes,
                              num_training_steps=max_steps * accelerator.num_processes)
    scheduler = accelerator.prepare(scheduler)

    config = {k: v for group in (data_args, model_args, args) for k, v in asdict(group).items()
              if isinstance(v, (int, float, str, bool))}
    accelerator.init_trackers("luab", config=config)

    completed, start_epoch, skip_batches = 0, 0, 0
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        meta = json.loads((checkpoint / CHECKPOINT_META).read_text())
        completed = meta["step"]
        if steps_per_epoch is None:  # a stream restarts at its epoch: resuming is approximate
            start_epoch = meta["epoch"]
        else:
            start_epoch = completed // steps_per_epoch
            skip_batches = (completed % steps_per_epoch) * args.gradient_accumulation_steps
        accelerator.print(f"resumed from {checkpoint} at step {completed}")

    every = int(args.checkpointing_steps) if args.checkpointing_steps and args.checkpointing_steps.isdigit() else None
    progress = tqdm(total=max_steps, initial=completed, disable=not accelerator.is_local_main_process, desc="train")
    running = torch.zeros(3, device=accelerator.device)  # loss, classification, byproduct
    running_steps, window_start = 0, time.perf_counter()
    samples_per_step = args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps
    results: dict[str, float] = {}
    model.train()
    for epoch in itertools.count(start_epoch) if epochs is None else range(start_epoch, epochs):
        train_batches.set_epoch(epoch)
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)
        loader = train_loader
        if epoch == start_epoch and skip_batches:
            loader = accelerator.skip_first_batches(train_loader, skip_batches)
        for batch in loader:
            with accelerator.accumulate(model):
                out = model(**batch)
                accelerator.backward(out.loss)
                if accelerator.sync_gradients and args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            running += torch.stack([out.loss.detach(), out.classification_loss.detach(), out.byproduct_loss.detach()]).float()
            running_steps += 1
            if not accelerator.sync_gradients:
                continue
            completed += 1
            progress.update(1)
            if completed % args.logging_steps == 0 or completed == max_steps:
                mean = accelerator.reduce(running / running_steps, "mean").tolist()
                elapsed = time.perf_counter() - window_start
                accelerator.log({"train/loss": mean[0], "train/classification_loss": mean[1],
                                 "train/byproduct_loss": mean[2], "train/learning_rate": scheduler.get_last_lr()[0],
                                 "train/samples_per_second": samples_per_step * running_steps
                                 / args.gradient_accumulation_steps / max(elapsed, 1e-9)}, step=completed)
                progress.set_postfix(loss=f"{mean[0]:.4f}")
                running.zero_()
                running_steps, window_start = 0, time.perf_counter()
            if every and completed % every == 0:
                save_checkpoint(accelerator, output_dir, completed, epoch, signature)
            if completed >= max_steps:
                break
        if args.checkpointing_steps == "epoch":
            save_checkpoint(accelerator, output_dir, completed, epoch + 1, signature)
        last = completed >= max_steps or epoch == (epochs or 0) - 1
        if last or (args.eval_epochs and (epoch + 1) % args.eval_epochs == 0):
            results = {f"{name}/{metric}": value for name, loader in eval_loaders.items()
                       for metric, value in evaluate(model, loader, accelerator, multi_label).items()}
            if results:
                accelerator.log(results, step=completed)
                accelerator.print(f"epoch {epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(results.items())))
        if completed >= max_steps:
            break
    progress.close()

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        unwrapped.save_pretrained(output_dir, safe_serialization=True)
        make_image_processor(size=data_args.image_size).save_pretrained(output_dir)
        all_results = {**results, "train/steps": completed, "train/epochs": epoch + 1}
        (output_dir / "all_results.json").write_text(json.dumps(all_results, indent=2))
        command = f"accelerate launch --num_processes {accelerator.num_processes} training/train.py {shlex.join(argv)}"
        summary = TrainingSummary(
            model_name=args.hub_model_id or output_dir.name, dataset=data_args.dataset_name,
            dataset_config=data_args.dataset_config, backbone=model_args.model_name_or_path or model_args.backbone,
            byproduct_loss_weight=model_args.byproduct_loss_weight, byproduct_targets=targets, seed=args.seed,
            command=command, results=results, versions=_versions(),
            hyperparameters={"learning_rate": args.learning_rate, "weight_decay": args.weight_decay,
                             "train_batch_size": samples_per_step, "steps": completed,
                             "lr_scheduler_type": args.lr_scheduler_type, "image_size": data_args.image_size,
                             "byproduct_loss": model_args.byproduct_loss, "mixed_precision": args.mixed_precision},
        )
        model_card(summary).save(output_dir / "README.md")
        if args.push_to_hub:
            url = upload_folder(output_dir, args.hub_model_id or output_dir.name, "model",
                                commit_message=f"LUAB training run, step {completed}",
                                ignore_patterns=["checkpoints/*", "logs/*"])
            accelerator.print(f"pushed to {url}")
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    data_args, model_args, args = parse_args(argv)
    if args.push_to_hub and not args.hub_model_id:
        print("error: --push_to_hub needs --hub_model_id ORG/NAME", file=sys.stderr)
        return 2
    try:
        train(data_args, model_args, args, argv)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
