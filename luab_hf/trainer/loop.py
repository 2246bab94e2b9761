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
from dataclasses import asdict, dataclass, field
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
from ..transforms import decode_crops, normalize_pixels
from .args import (
    DataArguments,
    LuabTrainingArguments,
    ModelArguments,
    SetupError,
    check_arguments,
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
    check_arguments(data_args, args)
    with stop_requests() as stop:
        run = TrainingRun(data_args, model_args, args, argv, stop)
        run.resume()
        return run.train()


@dataclass
class Progress:
    """Where a run stands, and the loss terms summed over the current logging window."""

    completed: int = 0  # optimizer steps taken
    epoch: int = 0
    start_epoch: int = 0
    skip_batches: int = 0  # of the first epoch, when resuming mid-epoch
    window: torch.Tensor | None = None  # loss, classification, byproduct, attention
    window_steps: int = 0  # forward passes summed into the window
    window_start: float = 0.0
    results: dict[str, float] = field(default_factory=dict)
    evaluated_at: int | None = None


class TrainingRun:
    """One run, stage by stage: setup (here), :meth:`resume`, then :meth:`train`, which steps,
    closes logging windows, checkpoints, evaluates and finishes."""

    def __init__(self, data_args: DataArguments, model_args: ModelArguments, args: LuabTrainingArguments,
                 argv: list[str], stop: StopRequest) -> None:
        self.data_args, self.model_args, self.args, self.argv, self.stop = data_args, model_args, args, argv, stop
        self.targets = byproduct_targets(model_args)
        self.every = checkpoint_every(args, data_args.streaming)
        self.checkpoint = resolve_checkpoint(args)
        check_output_dir(args, self.checkpoint)
        data_args.image_size = resolve_image_size(data_args, model_args)
        self.output_dir = Path(args.output_dir)
        self.data = load_data(data_args, self.targets)
        self.signature = _signature(model_args, data_args, self.targets, len(self.data.id2label))
        if self.checkpoint is not None:
            saved = json.loads((self.checkpoint / CHECKPOINT_META).read_text())["signature"]
            if saved != self.signature:
                raise SetupError(f"--resume_from_checkpoint {self.checkpoint}: it belongs to another model ({saved}), "
                                 f"this run builds {self.signature}")

        self.accelerator = accelerator = make_accelerator(args)
        report_processes(accelerator)
        set_seed(args.seed)
        if accelerator.is_main_process:
            if args.overwrite_output_dir and self.checkpoint is None and self.output_dir.exists():
                clear_run(self.output_dir)
            self.output_dir.mkdir(parents=True, exist_ok=True)
            (self.output_dir / RUN_ARGS).write_text(json.dumps(
                {"data": asdict(data_args), "model": asdict(model_args), "training": asdict(args)}, indent=2))
        accelerator.wait_for_everyone()

        model = build_model(model_args, data_args, self.targets, self.data.id2label, self.data.task.multi_label)
        train_loader, eval_loaders, self.train_batches = make_loaders(self.data, data_args, model_args, args,
                                                                      self.targets, accelerator)
        if args.gradient_checkpointing:
            model.activation_checkpointing_enable()
        optimizer = torch.optim.AdamW(parameter_groups(model, args.weight_decay), lr=args.learning_rate)
        self.model, self.optimizer = accelerator.prepare(model, optimizer)
        # JPEGs left encoded must stay on the CPU (decode_jpeg reads its input there): _step moves the rest
        self.train_loader = train_loader if data_args.streaming else \
            accelerator.prepare_data_loader(train_loader, device_placement=not data_args.decode_on_device)
        self.eval_loaders = {name: accelerator.prepare(loader) for name, loader in eval_loaders.items()}

        # steps are counted after sharding: each process sees 1/num_processes of the batches. A stream
        # has no length: every process passes over its shard as often as needed for max_steps, so all
        # take the same number of steps even when their shards differ by a few rows (no DDP hang).
        if data_args.streaming:
            self.steps_per_epoch, self.max_steps, self.epochs = None, args.max_train_steps, None
        else:
            self.steps_per_epoch = max(1, math.ceil(len(self.train_loader) / args.gradient_accumulation_steps))
            self.max_steps = args.max_train_steps or args.num_train_epochs * self.steps_per_epoch
            self.epochs = math.ceil(self.max_steps / self.steps_per_epoch)
        scheduler = get_scheduler(args.lr_scheduler_type, self.optimizer,
                                  num_warmup_steps=args.num_warmup_steps * accelerator.num_processes,
                                  num_training_steps=self.max_steps * accelerator.num_processes)
        self.scheduler = accelerator.prepare(scheduler)
        config = {k: v for group in (data_args, model_args, args) for k, v in asdict(group).items()
                  if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers("luab", config=config)

        self.samples_per_step = args.per_device_train_batch_size * accelerator.num_processes \
            * args.gradient_accumulation_steps
        self.pusher = CheckpointPusher(args.hub_model_id, accelerator.print) \
            if args.push_to_hub and args.hub_strategy == "every_save" and accelerator.is_main_process else None
        self.pixel_mean, self.pixel_std = (torch.tensor(v, device=accelerator.device)
                                           for v in (self.train_batches.transform.mean, self.train_batches.transform.std))
        self.progress = Progress(window=torch.zeros(4, device=accelerator.device))

    def resume(self) -> None:
        """Load ``--resume_from_checkpoint``: weights, optimizer, scheduler, RNGs, and where to go on."""
        if self.checkpoint is None:
            return
        check_process_count(self.checkpoint, self.accelerator.num_processes)
        self.accelerator.load_state(str(self.checkpoint))
        meta = json.loads((self.checkpoint / CHECKPOINT_META).read_text())
        progress = self.progress
        progress.completed = meta["step"]
        if self.steps_per_epoch is None:  # a stream restarts at its epoch: resuming is approximate
            progress.start_epoch = meta["epoch"]
        else:
            progress.start_epoch = progress.completed // self.steps_per_epoch
            progress.skip_batches = (progress.completed % self.steps_per_epoch) * self.args.gradient_accumulation_steps
        self.accelerator.print(f"resumed from {self.checkpoint} at step {progress.completed}")

    def train(self) -> dict[str, float]:
        """Train to ``max_steps``, evaluate, write the outputs; returns the final results."""
        progress, args = self.progress, self.args
        bar = tqdm(total=self.max_steps, initial=progress.completed, disable=not self.accelerator.is_local_main_process,
                   desc="train")
        progress.window_start = time.perf_counter()
        self.model.train()
        self.stop.listen()
        progress.epoch = progress.start_epoch
        # a checkpoint of the last step leaves nothing to train: only the final evaluation and outputs
        done = progress.completed >= self.max_steps
        passes = [] if done else itertools.count(progress.start_epoch) if self.epochs is None \
            else range(progress.start_epoch, self.epochs)
        for epoch in passes:
            progress.epoch = epoch
            for batch in self._epoch_batches(epoch):
                if not self._step(batch):
                    continue
                bar.update(1)
                self._end_of_step(bar)
                if progress.completed >= self.max_steps:
                    break
            if args.checkpointing_steps == "epoch":
                self._checkpoint(epoch + 1)
            last = progress.completed >= self.max_steps or epoch == (self.epochs or 0) - 1
            if last or (args.eval_epochs and (epoch + 1) % args.eval_epochs == 0):
                self._evaluate()
            if progress.completed >= self.max_steps:
                break
        bar.close()
        return self._finish()

    def _epoch_batches(self, epoch: int):
        """The epoch's batches, shuffled for ``epoch``; a resumed epoch skips what was trained."""
        self.train_batches.set_epoch(epoch)
        loader = self.train_loader
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        elif hasattr(loader.dataset, "set_epoch"):  # a stream: a new shuffle order each pass
            loader.dataset.set_epoch(epoch)
        if epoch == self.progress.start_epoch and self.progress.skip_batches:
            return self.accelerator.skip_first_batches(loader, self.progress.skip_batches)
        return loader

    def _step(self, batch: dict) -> bool:
        """One forward and backward pass; whether it completed an optimizer step."""
        accelerator = self.accelerator
        # a stream is not prepared; JPEGs left encoded and their crops stay on the CPU (decode_crops)
        batch = send_to_device(batch, accelerator.device, non_blocking=True, skip_keys=["jpeg", "crop"])
        if "jpeg" in batch:
            batch["pixel_values"] = decode_crops(batch.pop("jpeg"), batch.pop("crop"), batch["pixel_values"])
        batch["pixel_values"] = normalize_pixels(batch["pixel_values"], self.pixel_mean, self.pixel_std)
        with accelerator.accumulate(self.model):
            out = self.model(**batch)
            accelerator.backward(out.loss)
            if accelerator.sync_gradients and self.args.max_grad_norm > 0:
                accelerator.clip_grad_norm_(self.model.parameters(), self.args.max_grad_norm)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad()
        attention = out.attention_loss if out.attention_loss is not None else torch.zeros_like(out.loss)
        self.progress.window += torch.stack([out.loss, out.classification_loss, out.byproduct_loss, attention]
                                            ).detach().float()
        self.progress.window_steps += 1
        if not accelerator.sync_gradients:
            return False
        self.progress.completed += 1
        return True

    def _end_of_step(self, bar: tqdm) -> None:
        """After an optimizer step: close the logging window when due, checkpoint when due, and
        stop when asked to before the last step (one process stops at once; several agree at the
        next logging step, through the reduce that step does anyway: any rank's request stops them
        all there), after a checkpoint of this step when checkpointing is on."""
        completed = self.progress.completed
        halt = bool(self.stop) and self.accelerator.num_processes == 1
        if completed % self.args.logging_steps == 0 or completed == self.max_steps:
            halt = self._log_window(bar)
        saved = bool(self.every) and completed % self.every == 0
        if saved:
            self._checkpoint(self.progress.epoch)
        if halt and completed < self.max_steps:
            if self.args.checkpointing_steps and not saved:
                self._checkpoint(self.progress.epoch, push=False)  # so the run can go on from this step
            _stop_run(self.accelerator, self.stop, completed, self.output_dir)

    def _log_window(self, bar: tqdm) -> bool:
        """Log the window's mean loss terms (all ranks), start a new window; whether any rank was
        asked to stop. A non-finite mean ends the run."""
        progress, accelerator = self.progress, self.accelerator
        stop = torch.tensor([progress.window_steps if self.stop else 0.0], device=accelerator.device)
        mean = accelerator.reduce(torch.cat([progress.window, stop]) / progress.window_steps, "mean").tolist()
        completed = progress.completed
        if not all(math.isfinite(value) for value in mean):  # every rank sees the same mean
            raise TrainingDiverged(
                f"the loss became non-finite between steps {completed - progress.window_steps + 1} and {completed} "
                f"(loss {mean[0]}, classification {mean[1]}, byproduct {mean[2]}, attention {mean[3]}); "
                "no final model was written: lower --learning_rate, raise --num_warmup_steps or use "
                "--max_grad_norm, and resume from the last checkpoint if you have one")
        elapsed = time.perf_counter() - progress.window_start
        accelerator.log({"train/loss": mean[0], "train/classification_loss": mean[1],
                         "train/byproduct_loss": mean[2], "train/attention_loss": mean[3],
                         "train/learning_rate": self.scheduler.get_last_lr()[0],
                         "train/samples_per_second": self.samples_per_step * progress.window_steps
                         / self.args.gradient_accumulation_steps / max(elapsed, 1e-9)}, step=completed)
        bar.set_postfix(loss=f"{mean[0]:.4f}")
        progress.window.zero_()
        progress.window_steps, progress.window_start = 0, time.perf_counter()
        return mean[4] > 0

    def _checkpoint(self, epoch: int, push: bool = True) -> None:
        """Save the state at this step (``epoch``: the one to resume in), and push its model when asked."""
        save_checkpoint(self.accelerator, self.output_dir, self.progress.completed, epoch, self.signature,
                        self.args.checkpoints_total_limit)
        if push and self.args.push_to_hub and self.args.hub_strategy == "every_save":
            self._push_checkpoint(self.progress.completed)

    def _push_checkpoint(self, step: int) -> None:
        """The checkpoint's model, processor and card, snapshotted and pushed in the background."""
        accelerator = self.accelerator
        busy = accelerator.gather(torch.tensor([self.pusher is not None and self.pusher.busy], device=accelerator.device))
        if busy.any().item():  # every rank agrees, so all or none take part in gathering the weights
            accelerator.print(f"hub: the previous push still runs; step {step} is not pushed")
            return
        snapshot = self.output_dir / f".hub-step-{step:08d}"
        self._save_outputs(snapshot, push=False)
        if self.pusher is not None:
            self.pusher.push(snapshot, step)

    def _evaluate(self) -> None:
        self.progress.results = evaluate_all(self.model, self.eval_loaders, self.accelerator,
                                             self.data.task.multi_label, self.progress.completed)
        self.progress.evaluated_at = self.progress.completed

    def _epochs_at(self, step: int) -> int:
        """Epochs begun by ``step`` (a stream counts its passes)."""
        return self.progress.epoch + 1 if self.steps_per_epoch is None else math.ceil(step / self.steps_per_epoch)

    def _save_outputs(self, folder: Path | None = None, push: bool = True) -> None:
        completed = self.progress.completed
        save_outputs(self.accelerator, self.model, self.data_args, self.model_args, self.args, self.targets,
                     self.progress.results, completed, self._epochs_at(completed), self.samples_per_step, self.argv,
                     folder=folder, push=push)

    def _finish(self) -> dict[str, float]:
        """The final evaluation (unless the last epoch just ran it), the outputs, trackers closed."""
        if self.progress.evaluated_at != self.progress.completed:  # resumed from the last step's checkpoint
            self._evaluate()
        self.accelerator.wait_for_everyone()
        if self.pusher is not None:
            self.pusher.finish()
        self._save_outputs()
        self.accelerator.wait_for_everyone()
        self.accelerator.end_training()
        return self.progress.results


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
