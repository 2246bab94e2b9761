"""What a finished run leaves: the model folder, its results, its card, and the Hub push."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path

import datasets
import torch
from accelerate import Accelerator

from .. import __version__
from ..cards import TrainingSummary, command_line, model_card
from ..hub import upload_folder
from ..processing import make_image_processor
from .args import DataArguments, LuabTrainingArguments, ModelArguments


def versions() -> dict[str, str]:
    import accelerate
    import timm
    import torchvision
    import transformers

    return {"luab_hf": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "transformers": transformers.__version__, "datasets": datasets.__version__,
            "accelerate": accelerate.__version__, "timm": timm.__version__}


def base_model(model_args: ModelArguments) -> str | None:
    """The Hub repo a fine-tuned model started from: a repo id, or timm's ``timm/<name>``; None for
    a fresh backbone or a local folder (a path means nothing on the Hub)."""
    source = model_args.model_name_or_path
    if not source or Path(source).exists():
        return None
    return source if "/" in source else f"timm/{source}"


HUB_IGNORE = ["checkpoints/*", "logs/*", ".hub-step-*"]


class CheckpointPusher:
    """``--hub_strategy every_save``: each checkpoint's model, processor and card go to the Hub as
    one commit from a snapshot folder, in a background thread, so training goes on. A save that
    comes while the previous push still runs is not pushed (the next one is); a failed push is
    reported and the next save pushes again; a push never ends the run."""

    def __init__(self, repo_id: str, say) -> None:
        self.repo_id, self.say = repo_id, say
        self._thread: threading.Thread | None = None
        self._step = 0

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def push(self, snapshot: Path, step: int) -> None:
        self._thread, self._step = threading.Thread(target=self._run, args=(snapshot, step), daemon=True), step
        self._thread.start()

    def _run(self, snapshot: Path, step: int) -> None:
        try:
            url = upload_folder(snapshot, self.repo_id, "model", commit_message=f"Training in progress, step {step}")
            self.say(f"hub: pushed step {step} to {url}")
        except Exception as error:  # the Hub client raises many kinds; none may end the run
            self.say(f"hub: pushing step {step} failed ({error}); the next save pushes again")
        finally:
            shutil.rmtree(snapshot, ignore_errors=True)

    def finish(self) -> None:
        if self._thread is not None:
            self._thread.join()


def save_weights(accelerator: Accelerator, model: torch.nn.Module, folder: Path) -> None:
    """The full weights in ``folder``, ``from_pretrained``-able. Called on every rank: under FSDP or
    ZeRO-3 each holds a shard, and gathering them (accelerate's ``get_state_dict``) is collective;
    the main process writes."""
    # --torch_compile wraps the model once more; its weights are saved under their own names
    state_dict = {name.removeprefix("_orig_mod."): value for name, value in accelerator.get_state_dict(model).items()}
    if accelerator.is_main_process:
        accelerator.unwrap_model(model, keep_torch_compile=False).save_pretrained(
            folder, state_dict=state_dict, safe_serialization=True)


def launch_command(num_processes: int) -> str:
    """How this run was started, for the card's reproduction line: ``luab-train``, ``python -m
    luab_hf.trainer`` or ``python <script>``, under ``accelerate launch`` when accelerate (or
    torchrun) started it."""
    main = sys.modules["__main__"]
    module = getattr(getattr(main, "__spec__", None), "name", None)
    script = Path(sys.argv[0])
    if module:  # python -m ...
        program = f"-m {module.removesuffix('.__main__')}"
    elif script.name == "luab-train":
        program = "luab-train"
    else:
        program = os.path.relpath(script) if script.is_absolute() and Path.cwd() in script.parents else str(script)
    if num_processes > 1 or "LOCAL_RANK" in os.environ:  # set by accelerate launch and torchrun for each process
        return f"accelerate launch --num_processes {num_processes} {program}"
    return program if program == "luab-train" else f"python {program}"


def save_outputs(accelerator: Accelerator, model: torch.nn.Module, data_args: DataArguments, model_args: ModelArguments,
                 args: LuabTrainingArguments, targets: list[str], results: dict[str, float], completed: int, epochs: int,
                 samples_per_step: int, argv: list[str], folder: Path | None = None, push: bool = True) -> None:
    """``from_pretrained``-able weights, the image processor, ``all_results.json`` and a model card
    in ``folder`` (default ``output_dir``); then the push, when asked. Every rank takes part in
    gathering the weights (sharded under FSDP or ZeRO-3), the main process writes them."""
    output_dir = Path(folder or args.output_dir)
    save_weights(accelerator, model, output_dir)
    if not accelerator.is_main_process:
        return
    make_image_processor(size=data_args.image_size).save_pretrained(output_dir)
    all_results = {**results, "train/steps": completed, "train/epochs": epochs}
    (output_dir / "all_results.json").write_text(json.dumps(all_results, indent=2))
    summary = TrainingSummary(
        model_name=args.hub_model_id or output_dir.name, dataset=data_args.dataset_name,
        dataset_config=data_args.dataset_config, backbone=model_args.model_name_or_path or model_args.backbone,
        byproduct_loss_weight=model_args.byproduct_loss_weight, byproduct_targets=targets, seed=args.seed,
        command=command_line(launch_command(accelerator.num_processes), argv),
        results=results, versions=versions(), base_model=base_model(model_args),
        hyperparameters={"learning_rate": args.learning_rate, "weight_decay": args.weight_decay,
                         "train_batch_size": samples_per_step, "steps": completed,
                         "lr_scheduler_type": args.lr_scheduler_type, "image_size": data_args.image_size,
                         "byproduct_loss": model_args.byproduct_loss, "mixed_precision": args.mixed_precision,
                         "attention_loss_weight": model_args.attention_loss_weight,
                         "attention_radius": model_args.attention_radius, "pooling": model_args.pooling},
    )
    model_card(summary).save(output_dir / "README.md")
    if args.push_to_hub and push:
        url = upload_folder(output_dir, args.hub_model_id or output_dir.name, "model",
                            commit_message=f"LUAB training run, step {completed}", ignore_patterns=HUB_IGNORE)
        accelerator.print(f"pushed to {url}")
