"""The LUAB training recipe: ``luab-train`` / ``accelerate launch training/train.py``.

    accelerate launch training/train.py --dataset_name ImageNet-AB --backbone vit-small \\
        --image_size 224 --byproduct_loss_weight 1.0 --output_dir runs/luab-vit-s

One CPU to many GPUs and nodes: DDP, FSDP, DeepSpeed and multi-node are Accelerate's
(``accelerate config``). Ends with a ``from_pretrained``-able folder: safetensors weights, the
remote-code modelling files, the image processor, ``all_results.json`` and a model card. Each
stage is a function of this package a user can call on its own.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import (
    DataLoaderConfiguration,
    ProjectConfiguration,
    TorchDynamoPlugin,
    send_to_device,
    set_seed,
)
from tqdm.auto import tqdm
from transformers import get_scheduler

from ..stopping import StopRequest, TrainingStopped, stop_requests
from ..transforms import normalize_pixels
from .args import (
    DataArguments,
    LuabTrainingArguments,
    ModelArguments,
    SetupError,
    checkpoint_every,
    parse_args,
)
from .checkpoints import (
    CHECKPOINT_META,
    check_output_dir,
    check_process_count,
    clear_run,
    resolve_checkpoint,
    save_checkpoint,
)
from .data import load_data, make_loaders
from .evaluation import evaluate
from .modeling import build_model, byproduct_targets, resolve_image_size
from .outputs import CheckpointPusher, save_outputs

RUN_ARGS = "training_args.json"


class TrainingDiverged(Exception):
    """The loss stopped being finite; the message names the steps."""


def _signature(model_args: ModelArguments, data_args: DataArguments, targets: list[str], num_labels: int) -> dict:
    """What makes a checkpoint belong to this run's model."""
    return {"model": model_args.model_name_or_path or model_args.backbone, "num_labels": num_labels,
            "byproduct_targets": targets, "image_size": data_args.image_size}


def _trackers(report_to: str) -> list[str] | None:
    names = [n.strip() for n in report_to.split(",") if n.strip()]
    if names in ([], ["none"]):
        return None
    return ["tensorboard", "trackio"] if names == ["all"] else names


#: Parameters no recipe decays: position embeddings and special tokens (besides norms and biases).
NO_DECAY_SUFFIXES = ("position_embeddings", "cls_token", "pos_embed", "mask_token", "dist_token", "reg_token")


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: weight decay on weight matrices and kernels, none on norms, biases, position
    embeddings and class tokens (nor on what a timm backbone lists in ``no_weight_decay()``)."""
    skip: set[str] = set()
    for prefix, module in model.named_modules():
        if hasattr(module, "no_weight_decay") and callable(module.no_weight_decay):
            skip |= {f"{prefix}.{name}" if prefix else name for name in module.no_weight_decay()}
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        quiet = parameter.ndim <= 1 or name in skip or name.endswith(NO_DECAY_SUFFIXES)
        (no_decay if quiet else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def report_processes(accelerator: Accelerator) -> None:
    """Say how many processes really run. ``accelerate launch --cpu --num_processes N`` without MPI
    starts one process, leaving only the launcher's rendezvous variables behind: then say so.
    Several processes that each came up alone (FSDP asked for on a machine without accelerators)
    would train side by side into one folder: refused."""
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if launched > accelerator.num_processes:
        raise SetupError(f"the launcher started {launched} processes but accelerate joined none of them into one run "
                         f"(distributed type {accelerator.distributed_type.value} on {accelerator.device}); FSDP and "
                         "DeepSpeed need accelerators: on CPUs launch with ACCELERATE_USE_CPU=true accelerate launch "
                         "--multi_gpu --num_processes N ...")
    accelerator.print(f"training on {accelerator.num_processes} process(es), device {accelerator.device}, "
                      f"{accelerator.distributed_type.value}")
    asked_for_more = "MASTER_ADDR" in os.environ and "RANK" not in os.environ and "LOCAL_RANK" not in os.environ
    if accelerator.num_processes == 1 and asked_for_more:
        accelerator.print("warning: the launcher was asked for several processes but started one (accelerate's CPU "
                          "launcher needs MPI for that); for N CPU processes use: ACCELERATE_USE_CPU=true accelerate "
                          "launch --multi_gpu --num_processes N ...")


def make_accelerator(args: LuabTrainingArguments) -> Accelerator:
    output_dir = Path(args.output_dir)
    return Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=_trackers(args.report_to),
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        # without --torch_compile, accelerate's own setting (`accelerate launch --dynamo_backend`) holds
        dynamo_plugin=TorchDynamoPlugin(backend=args.torch_compile_backend, mode=args.torch_compile_mode)
        if args.torch_compile else None,
    )


def evaluate_all(model, loaders: dict, accelerator: Accelerator, multi_label: bool, step: int) -> dict[str, float]:
    """Every evaluation split, as ``"<split>/<metric>"``, logged at ``step``."""
    results = {f"{name}/{metric}": value for name, loader in loaders.items()
               for metric, value in evaluate(model, loader, accelerator, multi_label).items()}
    if results:
        accelerator.log(results, step=step)
        accelerator.print(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(results.items())))
    return results


def train(data_args: DataArguments, model_args: ModelArguments, args: LuabTrainingArguments,
          argv: list[str]) -> dict[str, float]:
    """The whole run; returns the final evaluation results. SIGTERM and SIGINT stop it between
    steps (raising :class:`TrainingStopped`), after a checkpoint when checkpointing is on."""
    with stop_requests() as stop:
        return _train(data_args, model_args, args, argv, stop)


def _train(data_args: DataArguments, model_args: ModelArguments, args: LuabTrainingArguments,
           argv: list[str], stop: StopRequest) -> dict[str, float]:
    targets = byproduct_targets(model_args)
    if data_args.streaming and args.max_train_steps is None:
        raise SetupError("--streaming needs --max_train_steps (a stream has no length to count epochs by)")
    if data_args.streaming and args.eval_epochs:
        raise SetupError("--eval_epochs: a stream has no epochs all ranks agree on; evaluation runs at the end")
    every = checkpoint_every(args, data_args.streaming)
    if args.hub_strategy not in ("end", "every_save"):
        raise SetupError(f"--hub_strategy {args.hub_strategy!r}: choose 'end' or 'every_save'")
    checkpoint = resolve_checkpoint(args)
    check_output_dir(args, checkpoint)
    data_args.image_size = resolve_image_size(data_args, model_args)
    output_dir = Path(args.output_dir)
    data = load_data(data_args, targets)
    id2label = data.id2label
    signature = _signature(model_args, data_args, targets, len(id2label))
    if checkpoint is not None:
        saved = json.loads((checkpoint / CHECKPOINT_META).read_text())["signature"]
        if saved != signature:
            raise SetupError(f"--resume_from_checkpoint {checkpoint}: it belongs to another model ({saved}), "
                             f"this run builds {signature}")

    accelerator = make_accelerator(args)
    report_processes(accelerator)
    set_seed(args.seed)
    if accelerator.is_main_process:
        if args.overwrite_output_dir and checkpoint is None and output_dir.exists():
            clear_run(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / RUN_ARGS).write_text(json.dumps(
            {"data": asdict(data_args), "model": asdict(model_args), "training": asdict(args)}, indent=2))
    accelerator.wait_for_everyone()

    model = build_model(model_args, data_args, targets, id2label, data.task.multi_label)
    train_loader, eval_loaders, train_batches = make_loaders(data, data_args, model_args, args, targets, accelerator)

    if args.gradient_checkpointing:
        model.activation_checkpointing_enable()
    optimizer = torch.optim.AdamW(parameter_groups(model, args.weight_decay), lr=args.learning_rate)
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
        check_process_count(checkpoint, accelerator.num_processes)
        accelerator.load_state(str(checkpoint))
        meta = json.loads((checkpoint / CHECKPOINT_META).read_text())
        completed = meta["step"]
        if steps_per_epoch is None:  # a stream restarts at its epoch: resuming is approximate
            start_epoch = meta["epoch"]
        else:
            start_epoch = completed // steps_per_epoch
            skip_batches = (completed % steps_per_epoch) * args.gradient_accumulation_steps
        accelerator.print(f"resumed from {checkpoint} at step {completed}")

    progress = tqdm(total=max_steps, initial=completed, disable=not accelerator.is_local_main_process, desc="train")
    running = torch.zeros(5, device=accelerator.device)  # loss, classification, byproduct, attention; stop
    running_steps, window_start = 0, time.perf_counter()
    samples_per_step = args.per_device_train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps
    results: dict[str, float] = {}
    pusher = CheckpointPusher(args.hub_model_id, accelerator.print) \
        if args.push_to_hub and args.hub_strategy == "every_save" and accelerator.is_main_process else None

    def epochs_at(step: int) -> int:
        """Epochs begun by ``step`` (a stream counts its passes)."""
        return epoch + 1 if steps_per_epoch is None else math.ceil(step / steps_per_epoch)

    def push_checkpoint(step: int) -> None:
        """The checkpoint's model, processor and card, snapshotted and pushed in the background."""
        if not (args.push_to_hub and args.hub_strategy == "every_save"):
            return
        busy = accelerator.gather(torch.tensor([pusher is not None and pusher.busy], device=accelerator.device))
        if busy.any().item():  # every rank agrees, so all or none take part in gathering the weights
            accelerator.print(f"hub: the previous push still runs; step {step} is not pushed")
            return
        snapshot = output_dir / f".hub-step-{step:08d}"
        save_outputs(accelerator, model, data_args, model_args, args, targets, results, step, epochs_at(step),
                     samples_per_step, argv, folder=snapshot, push=False)
        if pusher is not None:
            pusher.push(snapshot, step)

    pixel_mean, pixel_std = (torch.tensor(v, device=accelerator.device)
                             for v in (train_batches.transform.mean, train_batches.transform.std))
    model.train()
    stop.listen()
    epoch = start_epoch
    # a checkpoint of the last step leaves nothing to train: only the final evaluation and outputs
    passes = [] if completed >= max_steps else itertools.count(start_epoch) if epochs is None else range(start_epoch, epochs)
    evaluated_at = None
    for epoch in passes:
        train_batches.set_epoch(epoch)
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)
        elif hasattr(train_loader.dataset, "set_epoch"):  # a stream: a new shuffle order each pass
            train_loader.dataset.set_epoch(epoch)
        loader = train_loader
        if epoch == start_epoch and skip_batches:
            loader = accelerator.skip_first_batches(train_loader, skip_batches)
        for batch in loader:
            batch = send_to_device(batch, accelerator.device, non_blocking=True)  # a stream is not prepared
            batch["pixel_values"] = normalize_pixels(batch["pixel_values"], pixel_mean, pixel_std)
            with accelerator.accumulate(model):
                out = model(**batch)
                accelerator.backward(out.loss)
                if accelerator.sync_gradients and args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            attention = out.attention_loss if out.attention_loss is not None else torch.zeros_like(out.loss)
            running[:4] += torch.stack([out.loss, out.classification_loss, out.byproduct_loss, attention]).detach().float()
            running_steps += 1
            if not accelerator.sync_gradients:
                continue
            completed += 1
            progress.update(1)
            # one process stops at once; several agree at the next logging step, through the
            # reduce that step does anyway (any rank's request stops them all there)
            halt = bool(stop) and accelerator.num_processes == 1
            if completed % args.logging_steps == 0 or completed == max_steps:
                running[4] = running_steps if stop else 0.0
                mean = accelerator.reduce(running / running_steps, "mean").tolist()
                halt = mean[4] > 0
                if not all(math.isfinite(value) for value in mean):  # every rank sees the same mean
                    raise TrainingDiverged(
                        f"the loss became non-finite between steps {completed - running_steps + 1} and {completed} "
                        f"(loss {mean[0]}, classification {mean[1]}, byproduct {mean[2]}, attention {mean[3]}); "
                        "no final model was written: lower --learning_rate, raise --num_warmup_steps or use "
                        "--max_grad_norm, and resume from the last checkpoint if you have one")
                elapsed = time.perf_counter() - window_start
                accelerator.log({"train/loss": mean[0], "train/classification_loss": mean[1],
                                 "train/byproduct_loss": mean[2], "train/attention_loss": mean[3],
                                 "train/learning_rate": scheduler.get_last_lr()[0],
                                 "train/samples_per_second": samples_per_step * running_steps
                                 / args.gradient_accumulation_steps / max(elapsed, 1e-9)}, step=completed)
                progress.set_postfix(loss=f"{mean[0]:.4f}")
                running.zero_()
                running_steps, window_start = 0, time.perf_counter()
            saved = bool(every) and completed % every == 0
            if saved:
                save_checkpoint(accelerator, output_dir, completed, epoch, signature, args.checkpoints_total_limit)
                push_checkpoint(completed)
            if halt and completed < max_steps:
                if args.checkpointing_steps and not saved:  # so the run can go on from this step
                    save_checkpoint(accelerator, output_dir, completed, epoch, signature, args.checkpoints_total_limit)
                _stop_run(accelerator, stop, completed, output_dir)
            if completed >= max_steps:
                break
        if args.checkpointing_steps == "epoch":
            save_checkpoint(accelerator, output_dir, completed, epoch + 1, signature, args.checkpoints_total_limit)
            push_checkpoint(completed)
        last = completed >= max_steps or epoch == (epochs or 0) - 1
        if last or (args.eval_epochs and (epoch + 1) % args.eval_epochs == 0):
            results, evaluated_at = evaluate_all(model, eval_loaders, accelerator, data.task.multi_label, completed), completed
        if completed >= max_steps:
            break
    progress.close()
    if evaluated_at != completed:  # resumed from the last step's checkpoint
        results = evaluate_all(model, eval_loaders, accelerator, data.task.multi_label, completed)
    accelerator.wait_for_everyone()
    if pusher is not None:
        pusher.finish()
    save_outputs(accelerator, model, data_args, model_args, args, targets, results, completed, epochs_at(completed),
                 samples_per_step, argv)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return results


def _stop_run(accelerator: Accelerator, stop: StopRequest, step: int, output_dir: Path) -> None:
    """End a run that was asked to stop: trackers closed, no final model, a message saying how to
    go on. Raises :class:`TrainingStopped`."""
    accelerator.end_training()
    found = (output_dir / "checkpoints" / f"step_{step:08d}").is_dir()
    then = (f"a checkpoint of step {step} is in {output_dir}/checkpoints: continue with --resume_from_checkpoint latest"
            if found else "no checkpoint of this step (pass --checkpointing_steps to have one)")
    raise TrainingStopped(f"stopped by {stop.name} after step {step}; no final model was written; {then}",
                          stop.signum or 2)


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
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except TrainingStopped as error:
        print(f"stopped: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:  # before training began
        print("stopped: interrupted before training began", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
