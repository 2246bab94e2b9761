"""Run folders and checkpoints: where a run writes, and resuming it exactly."""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

from accelerate import Accelerator
from safetensors import safe_open

from ..staging import publish, staging_path
from .args import LuabTrainingArguments, SetupError

CHECKPOINT_META = "luab_checkpoint.json"
#: What a run writes into --output_dir: all that --overwrite_output_dir may remove.
RUN_FILES = ("model.safetensors", "model.safetensors.index.json", "config.json", "configuration_luab.py",
             "modeling_luab.py", "preprocessor_config.json", "all_results.json", "training_args.json", "README.md",
             "logs", "checkpoints")


def _written_by_a_run(name: str) -> bool:
    """Whether a run writes this entry of --output_dir (sharded weights and Hub snapshots too)."""
    return name in RUN_FILES or name.startswith(".hub-step-") or (name.startswith("model-") and name.endswith(".safetensors"))


def foreign_entries(output: Path) -> list[str]:
    """Entries of ``output`` a run did not write."""
    return sorted(p.name for p in output.iterdir() if not _written_by_a_run(p.name))


def clear_run(output: Path) -> None:
    """Remove what an earlier run wrote into ``output``, and nothing else."""
    for entry in output.iterdir():
        if not _written_by_a_run(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def list_checkpoints(output_dir: Path) -> list[Path]:
    folder = output_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith("step_") and (p / CHECKPOINT_META).is_file())


def checkpoint_problem(path: Path) -> str | None:
    """What is wrong with a checkpoint folder, or None when every file in it reads back whole:
    the metadata parses, safetensors headers match their file sizes, torch archives pass their
    CRC checks. Nothing is unpickled."""
    try:
        json.loads((path / CHECKPOINT_META).read_text())
    except (OSError, ValueError) as error:
        return f"{CHECKPOINT_META} is unreadable ({error})"
    for file in sorted(path.rglob("*")):
        if not file.is_file() or file.name == CHECKPOINT_META:
            continue
        name = file.relative_to(path)
        if file.stat().st_size == 0:
            return f"{name} is empty"
        if file.suffix == ".safetensors":
            try:
                with safe_open(str(file), framework="pt"):
                    pass
            except Exception as error:  # safetensors raises its own types for every kind of damage
                return f"{name} is damaged ({error})"
        elif file.suffix in (".bin", ".pkl", ".pt", ".pth"):
            try:
                with zipfile.ZipFile(file) as archive:
                    bad = archive.testzip()
            except (zipfile.BadZipFile, OSError) as error:
                return f"{name} is not a complete torch archive ({error})"
            if bad is not None:
                return f"{name} is damaged (bad CRC in {bad})"
    return None


def resolve_checkpoint(args: LuabTrainingArguments) -> Path | None:
    """The checkpoint to resume from. ``latest`` takes the newest *complete* one, saying which
    damaged ones it skipped; a named one that is damaged is refused with the file at fault."""
    if args.resume_from_checkpoint is None:
        return None
    if args.resume_from_checkpoint == "latest":
        found = list_checkpoints(Path(args.output_dir))
        for candidate in reversed(found):
            problem = checkpoint_problem(candidate)
            if problem is None:
                return candidate
            print(f"note: skipping checkpoint {candidate}: {problem}", file=sys.stderr, flush=True)
        raise SetupError(f"--resume_from_checkpoint latest: no complete checkpoint in {args.output_dir}/checkpoints")
    path = Path(args.resume_from_checkpoint)
    if not path.is_dir():
        raise SetupError(f"--resume_from_checkpoint {path}: no such folder")
    if not (path / CHECKPOINT_META).is_file():
        raise SetupError(f"--resume_from_checkpoint {path}: not a checkpoint of this script (no {CHECKPOINT_META})")
    problem = checkpoint_problem(path)
    if problem is not None:
        raise SetupError(f"--resume_from_checkpoint {path}: {problem}; resume from an earlier checkpoint "
                         "(--resume_from_checkpoint latest skips damaged ones)")
    return path


def check_process_count(checkpoint: Path, processes: int) -> None:
    """A checkpoint holds one RNG state per process; resuming with another count cannot be exact."""
    saved = len(list(checkpoint.glob("random_states_*.pkl")))
    if saved and saved != processes:
        raise SetupError(f"--resume_from_checkpoint {checkpoint}: saved by {saved} processes, this run has {processes}; "
                         f"launch with --num_processes {saved} to resume it exactly")


def check_output_dir(args: LuabTrainingArguments, checkpoint: Path | None) -> None:
    output = Path(args.output_dir)
    existing = output
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise SetupError(f"--output_dir {output}: cannot write there ({existing} is not a writable folder)")
    if not output.exists() or not any(output.iterdir()):
        return
    if args.overwrite_output_dir:
        foreign = foreign_entries(output)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise SetupError(f"--output_dir {output} holds files a training run does not write ({shown}); "
                             "--overwrite_output_dir replaces only an earlier run's outputs: choose another folder")
        return
    if checkpoint is not None and output.resolve() in checkpoint.resolve().parents:
        return
    raise SetupError(f"--output_dir {output} already holds another run; pass --overwrite_output_dir to replace it, "
                     "--resume_from_checkpoint latest to continue it, or choose another folder")


def save_checkpoint(accelerator: Accelerator, output_dir: Path, step: int, epoch: int, signature: dict,
                    total_limit: int | None = None) -> Path:
    """``accelerator.save_state`` into a staging folder that every rank shares, published once
    complete, so a crash never leaves a half-written checkpoint where ``latest`` would find it."""
    final = output_dir / "checkpoints" / f"step_{step:08d}"
    staging = staging_path(final, owner="ranks")
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (staging / CHECKPOINT_META).write_text(json.dumps({"step": step, "epoch": epoch, "signature": signature}))
        publish(staging, final, replace=True)
        if total_limit:
            for old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final
