"""training/train.py end to end: real 2-process Accelerate runs on converted synthetic data."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoModelForImageClassification, pipeline

import luab_hf  # noqa: F401
from luab_hf import synthetic
from luab_hf import trainer as train
from luab_hf.convert import coco_ab, imagenet_ab
from luab_hf.labels import imagenet_name

REPO = Path(__file__).resolve().parent.parent
COMMON = ["--image_size", "32", "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "8",
          "--logging_steps", "1", "--learning_rate", "1e-3"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LAUNCH_ENV = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}


def launch_command(*args: str, processes: int = 2, launcher_args: list[str] | None = None) -> list[str]:
    """``accelerate launch`` with ``processes`` CPU processes (gloo), as a user would run it."""
    return [sys.executable, "-m", "accelerate.commands.launch", *(launcher_args or ["--multi_gpu"]),
            "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(_free_port()), str(REPO / "training" / "train.py"), *args]


def launch(*args: str, processes: int = 2, timeout: int = 300, launcher_args: list[str] | None = None
           ) -> subprocess.CompletedProcess:
    command = launch_command(*args, processes=processes, launcher_args=launcher_args)
    done = subprocess.run(command, env=LAUNCH_ENV, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


@pytest.fixture(scope="module")
def imagenet_raw(tmp_path_factory) -> Path:
    return synthetic.write_imagenet_ab(tmp_path_factory.mktemp("raw"), classes=3, images_per_class=16, seed=1,
                                       val_per_class=4)


@pytest.fixture(scope="module")
def imagenet_dataset(imagenet_raw, tmp_path_factory) -> Path:
    raw = imagenet_raw
    out = tmp_path_factory.mktemp("data") / "ImageNet-AB"
    assert imagenet_ab.main(["--xml", str(raw), "--images", str(raw), "--label-set", "present", "--output", str(out),
                             "--eval-split", f"validation={raw / 'val'}",
                             "--eval-split", f"validation_shifted={raw / 'val_shifted'}"]) == 0
    return out


@pytest.fixture(scope="module")
def coco_dataset(tmp_path_factory) -> Path:
    raw = synthetic.write_coco_ab(tmp_path_factory.mktemp("raw_coco"), images=24, seed=2, classes=4, val_images=8)
    out = tmp_path_factory.mktemp("data") / "COCO-AB"
    assert coco_ab.main(["--json", str(raw / "coco_ab_v1_0.json"), "--images", str(raw / "train2014"),
                         "--instances", str(raw / "annotations" / "instances_train2014.json"), "--output", str(out),
                         "--eval-split", f"validation={raw / 'val'}",
                         "--eval-instances", f"validation={raw / 'annotations' / 'instances_val.json'}"]) == 0
    return out


def _tensorboard_tags(folder: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for events in folder.rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
    return tags


def test_two_process_coco_multi_label_run(coco_dataset, tmp_path):
    out = tmp_path / "coco"
    launch("--dataset_name", str(coco_dataset), "--backbone", "resnet-micro", "--max_train_steps", "3",
           "--output_dir", str(out), *COMMON)
    results = json.loads((out / "all_results.json").read_text())
    assert {"validation/mAP", "validation/f1_micro", "validation/f1_macro"} <= set(results)
    model = AutoModelForImageClassification.from_pretrained(out)
    assert model.config.problem_type == "multi_label_classification" and model.config.num_points == 80
    predictions = pipeline("image-classification", model=str(out))(Image.new("RGB", (40, 40)), top_k=3)
    assert len(predictions) == 3 and all(p["label"] in model.config.id2label.values() for p in predictions)


def test_lambda_zero_baseline_and_push(imagenet_dataset, tmp_path, monkeypatch, capsys):
    uploads = []

    class FakeApi:
        def create_repo(self, repo_id, **kwargs):
            pass

        def upload_folder(self, **kwargs):
            uploads.append(kwargs)
            return "https://hub.example/commit/2"

    monkeypatch.setattr("luab_hf.hub.HfApi", FakeApi)
    out = tmp_path / "baseline"
    config = tmp_path / "run.yaml"
    config.write_text(f"dataset_name: {imagenet_dataset}\nbackbone: resnet-micro\nmax_train_steps: 2\n"
                      f"byproduct_loss_weight: 0.0\nreport_to: none\n")
    assert train.main([str(config), "--output_dir", str(out), "--push_to_hub", "true",
                       "--hub_model_id", "org/luab-baseline", *COMMON]) == 0
    assert uploads and uploads[0]["repo_id"] == "org/luab-baseline" and uploads[0]["repo_type"] == "model"
    assert "checkpoints/*" in uploads[0]["ignore_patterns"]
    assert AutoModelForImageClassification.from_pretrained(out).config.byproduct_loss_weight == 0.0
    assert "plain baseline" in (out / "README.md").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dataset_config", "byproducts", "--eval_splits", ""], "lacks columns: 'image'"),
        (["--eval_splits", "test"], "unknown split 'test'"),
        (["--resume_from_checkpoint", "/nonexistent/step_1"], "no such folder"),
        (["--byproduct_targets", "click,gaze"], "--byproduct_targets"),
        (["--backbone", "no_such_backbone_anywhere"], "unknown backbone"),
        (["--streaming"], "needs --max_train_steps"),
        (["--checkpointing_steps", "5e3"], "expected a whole number of steps"),
        (["--checkpointing_steps", "0"], "expected a whole number of steps"),
        (["--streaming", "--max_train_steps", "2", "--checkpointing_steps", "epoch"], "no epochs all ranks agree on"),
        (["--streaming", "--max_train_steps", "2", "--eval_epochs", "1"], "no epochs all ranks agree on"),
        (["--push_to_hub", "true"], "--push_to_hub needs --hub_model_id"),
        (["--hub_strategy", "checkpoint"], "choose 'end' or 'every_save'"),
    ],
)
def test_bad_setups_stop_before_training(imagenet_dataset, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    argv = ["--dataset_name", str(imagenet_dataset), "--backbone", "vit-micro", "--output_dir", str(out),
            "--report_to", "none", *COMMON, *extra]
    assert train.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (out / "model.safetensors").exists()


def test_a_diverged_run_stops_names_the_steps_and_writes_no_model(imagenet_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    code = train.main(["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--max_train_steps", "6",
                       "--report_to", "none", "--eval_splits", "", "--output_dir", str(out), "--max_grad_norm", "0",
                       *COMMON, "--learning_rate", "1e12"])
    error = capsys.readouterr().err
    assert code == 1 and "non-finite between steps" in error and "Traceback" not in error
    assert not (out / "model.safetensors").exists() and not (out / "README.md").exists()


def test_output_dir_and_checkpoint_ownership(imagenet_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["--dataset_name", str(imagenet_dataset), "--max_train_steps", "2", "--checkpointing_steps", "1",
            "--report_to", "none", "--eval_splits", "", *COMMON]
    assert train.main([*base, "--backbone", "vit-micro", "--output_dir", str(out)]) == 0
    assert train.main([*base, "--backbone", "vit-micro", "--output_dir", str(out)]) == 2
    assert "already holds another run" in capsys.readouterr().err
    other = tmp_path / "other"
    assert train.main([*base, "--backbone", "resnet-micro", "--output_dir", str(other),
                       "--resume_from_checkpoint", str(out / "checkpoints" / "step_00000001")]) == 2
    assert "belongs to another model" in capsys.readouterr().err
    (out / "checkpoints" / "step_00000001" / "extra.txt").write_text("inside a run folder: the run's own")
    assert train.main([*base, "--backbone", "vit-micro", "--output_dir", str(out), "--overwrite_output_dir"]) == 0
    # a folder holding anything a run does not write (the user's data, a dataset) is never cleared
    (out / "notes.txt").write_text("mine")
    (out / "ImageNet-AB").mkdir()
    assert train.main([*base, "--backbone", "vit-micro", "--output_dir", str(out), "--overwrite_output_dir"]) == 2
    assert "ImageNet-AB, notes.txt" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine" and (out / "model.safetensors").is_file()


def test_trackio_logs_the_loss_terms_offline(imagenet_dataset, tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setenv("TRACKIO_DIR", str(tmp_path / "trackio"))
    assert train.main(["--dataset_name", str(imagenet_dataset), "--backbone", "vit-micro", "--max_train_steps", "2",
                       "--eval_splits", "", "--report_to", "trackio", "--output_dir", str(tmp_path / "run"), *COMMON]) == 0
    (database,) = (tmp_path / "trackio").glob("*.db")
    logged = [json.loads(row[0]) for row in sqlite3.connect(database).execute("select metrics from metrics")]
    assert logged and all({"train/loss", "train/classification_loss", "train/byproduct_loss"} <= set(m) for m in logged)


def test_a_streamed_two_process_run_without_a_single_valid_point_takes_its_steps_and_finishes(tmp_path):
    """Nobody clicked anything, and each rank streams its own shard of the rows: both ranks take
    the same number of steps (no DDP hang on a loss term without targets) and the run finishes."""
    style = synthetic.Style(image_size=32, unselected_rate=1.0)
    raw = synthetic.write_imagenet_ab(tmp_path / "raw", classes=2, images_per_class=9, seed=3, style=style,
                                      val_per_class=2)
    data = tmp_path / "data"
    assert imagenet_ab.main(["--xml", str(raw), "--images", str(raw), "--label-set", "present", "--output", str(data),
                             "--eval-split", f"validation={raw / 'val'}"]) == 0
    out = tmp_path / "stream"
    launch("--dataset_name", str(data), "--backbone", "vit-micro", "--streaming", "--max_train_steps", "3",
           "--eval_splits", "validation", "--output_dir", str(out), *COMMON)  # 18 rows: 9 per rank, 2 batches a pass
    results = json.loads((out / "all_results.json").read_text())
    assert results["train/steps"] == 3 and results["train/epochs"] == 2 and "validation/accuracy" in results
    assert (out / "model.safetensors").exists()


def test_labels_outside_the_label_space_are_named_before_training(imagenet_dataset, tmp_path, capsys):
    from datasets import load_dataset

    rows = load_dataset(str(imagenet_dataset), split="train")
    broken = tmp_path / "broken"
    rows.map(lambda row, index: {"label": -1 if index == 5 else row["label"]}, with_indices=True) \
        .to_parquet(str(broken / "data" / "train.parquet"))
    code = train.main(["--dataset_name", str(broken), "--backbone", "vit-micro", "--output_dir", str(tmp_path / "run"),
                       "--report_to", "none", "--eval_splits", "", *COMMON])
    assert code == 2 and "label -1 is outside the 3 classes (first found at row 5)" in capsys.readouterr().err


def test_training_options_checkpoint_limit_subset_decay_and_top5(imagenet_dataset, tmp_path):
    from luab_hf import create_luab_model
    from luab_hf.trainer.loop import parameter_groups

    out = tmp_path / "run"
    assert train.main(["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--output_dir", str(out),
                       "--report_to", "none", "--max_train_steps", "4", "--checkpointing_steps", "1",
                       "--checkpoints_total_limit", "2", "--max_train_samples", "12", "--gradient_checkpointing", "true",
                       *COMMON]) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_00000003", "step_00000004"]
    results = json.loads((out / "all_results.json").read_text())
    assert "validation/accuracy" in results and not any("top5" in key for key in results)  # 3 classes
    # the seeded subset draws from every class (rows are stored grouped by class)
    from luab_hf.trainer.args import parse_args
    from luab_hf.trainer.data import load_data, make_loaders

    data_args, model_args, args = parse_args(["--dataset_name", str(imagenet_dataset), "--output_dir", str(out),
                                              "--max_train_samples", "12", "--image_size", "32"])
    data = load_data(data_args, ["click"])
    loader, _, _ = make_loaders(data, data_args, model_args, args, ["click"], __import__("accelerate").Accelerator(cpu=True))
    assert len(set(loader.dataset.with_format(None)["label"])) == 3 and len(loader.dataset) == 12

    vit = create_luab_model("vit-micro", num_labels=3)
    groups = parameter_groups(vit, 0.05)
    quiet = {id(p) for p in groups[1]["params"]}
    named = dict(vit.named_parameters())
    assert id(named["luab.backbone.model.embeddings.position_embeddings"]) in quiet
    assert id(named["luab.backbone.model.embeddings.cls_token"]) in quiet
    assert id(named["classifier.weight"]) not in quiet and id(named["classifier.bias"]) in quiet
    timm_vit = create_luab_model("test_vit", num_labels=3)
    quiet = {id(p) for p in parameter_groups(timm_vit, 0.05)[1]["params"]}
    assert id(dict(timm_vit.named_parameters())["luab.backbone.model.timm_model.pos_embed"]) in quiet


def test_fine_tuning_a_luab_checkpoint_keeps_its_image_size(imagenet_dataset, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--dataset_name", str(imagenet_dataset), "--report_to", "none", "--max_train_steps", "1",
              "--eval_splits", "validation", "--per_device_train_batch_size", "4"]
    assert train.main([*common, "--backbone", "vit-micro", "--image_size", "32", "--output_dir", str(first)]) == 0
    # no --image_size: the checkpoint's 32 px, not the 224 px default
    assert train.main([*common, "--model_name_or_path", str(first), "--output_dir", str(second)]) == 0
    processor = json.loads((second / "preprocessor_config.json").read_text())
    assert processor["crop_size"] == {"height": 32, "width": 32}


@pytest.mark.parametrize("steps", [6, 4], ids=["last step ends an epoch", "last step mid-epoch"])
def test_resuming_from_the_last_steps_checkpoint_ends_with_the_same_weights(imagenet_dataset, tmp_path, steps):
    base = ["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--report_to", "none",
            "--eval_splits", "validation", "--max_train_steps", str(steps), "--checkpointing_steps", "1", *COMMON]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert train.main([*base, "--output_dir", str(whole)]) == 0  # 48 rows, batch 8: 6 steps an epoch
    last = whole / "checkpoints" / f"step_{steps:08d}"
    assert train.main([*base, "--output_dir", str(resumed), "--resume_from_checkpoint", str(last)]) == 0
    for name, value in load_file(whole / "model.safetensors").items():
        assert torch.equal(value, load_file(resumed / "model.safetensors")[name]), name
    results = json.loads((resumed / "all_results.json").read_text())
    assert results["train/steps"] == steps and results["train/epochs"] == 1
    assert results["validation/accuracy"] == json.loads((whole / "all_results.json").read_text())["validation/accuracy"]


def test_damaged_checkpoints_are_named_and_latest_skips_them(imagenet_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--report_to", "none",
            "--eval_splits", "", "--max_train_steps", "3", "--checkpointing_steps", "1", *COMMON, "--output_dir", str(out)]
    assert train.main(base) == 0
    newest = out / "checkpoints" / "step_00000003"
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # truncated, as by a full disk
    assert train.main([*base, "--resume_from_checkpoint", str(newest)]) == 2
    error = capsys.readouterr().err
    assert "model.safetensors is damaged" in error and "Traceback" not in error
    optimizer = out / "checkpoints" / "step_00000002" / "optimizer.bin"
    optimizer.write_bytes(optimizer.read_bytes()[:-100])
    assert train.main([*base, "--resume_from_checkpoint", "latest"]) == 0
    captured = capsys.readouterr()
    assert "skipping checkpoint" in captured.err and "step_00000003" in captured.err and "step_00000002" in captured.err
    assert "step_00000001 at step 1" in captured.out


def test_a_checkpoint_from_another_process_count_is_refused(imagenet_dataset, tmp_path, capsys):
    import shutil

    out = tmp_path / "run"
    base = ["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--report_to", "none",
            "--eval_splits", "", "--max_train_steps", "2", "--checkpointing_steps", "1", *COMMON, "--output_dir", str(out)]
    assert train.main(base) == 0
    checkpoint = out / "checkpoints" / "step_00000001"
    shutil.copy(checkpoint / "random_states_0.pkl", checkpoint / "random_states_1.pkl")  # as two processes leave it
    assert train.main([*base, "--resume_from_checkpoint", str(checkpoint)]) == 2
    assert "saved by 2 processes, this run has 1" in capsys.readouterr().err


def test_model_card_metadata_names_the_dataset_and_the_base_model(imagenet_dataset, tmp_path):
    import timm
    from huggingface_hub import ModelCard
    from safetensors.torch import save_file

    weights = str(tmp_path / "test_resnet.safetensors")  # timm's own weights of the architecture
    save_file({k: v.contiguous() for k, v in timm.create_model("test_resnet").state_dict().items()}, weights)
    out = tmp_path / "run"
    assert train.main(["--dataset_name", str(imagenet_dataset), "--model_name_or_path", "test_resnet",
                       "--timm_weights", weights, "--report_to", "none", "--max_train_steps", "1",
                       "--output_dir", str(out), *COMMON]) == 0
    card = ModelCard.load(out / "README.md")
    assert card.data.base_model == "timm/test_resnet"
    splits = {result.dataset_split for result in card.data.eval_results}
    assert splits == {"validation"}  # the default --eval_splits
    # a local folder is named by its folder name, marked local (its path means nothing elsewhere)
    assert card.data.datasets == [imagenet_dataset.name] == ["ImageNet-AB"]
    assert all(result.dataset_type == imagenet_dataset.name for result in card.data.eval_results)
    assert not any(result.metric_type == "top5_accuracy" for result in card.data.eval_results)  # 3 classes


def test_the_loader_decodes_only_the_columns_the_targets_read(imagenet_dataset, tmp_path):
    from accelerate import Accelerator

    from luab_hf.trainer.args import parse_args
    from luab_hf.trainer.data import load_data, make_loaders

    for targets, expected in ((["click"], {"image", "label", "image_id", "click_point"}),
                              (["click", "mouse_trace"], {"image", "label", "image_id", "click_point", "annotations"})):
        data_args, model_args, args = parse_args(["--dataset_name", str(imagenet_dataset), "--output_dir", str(tmp_path),
                                                  "--image_size", "32"])
        loader, _, _ = make_loaders(load_data(data_args, targets), data_args, model_args, args, targets,
                                    Accelerator(cpu=True))
        assert set(loader.dataset.column_names) == expected
        batch = next(iter(loader))
        assert batch["pixel_values"].shape[-1] == 32 and ("trace" in batch) == ("mouse_trace" in targets)


def test_every_save_pushes_checkpoints_in_the_background_and_survives_a_failed_push(imagenet_dataset, tmp_path,
                                                                                   monkeypatch, capsys):
    import threading

    pushes, release = [], threading.Event()

    class FakeApi:
        def create_repo(self, repo_id, **kwargs):
            pass

        def upload_folder(self, **kwargs):
            files = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
            pushes.append((kwargs["commit_message"], files))
            if len(pushes) == 1:
                raise ConnectionError("the Hub is unreachable")
            if len(pushes) == 2:
                release.wait(timeout=30)  # a slow push: the next save must not start another
            return "https://hub.example/commit/3"

    monkeypatch.setattr("luab_hf.hub.HfApi", FakeApi)
    out = tmp_path / "run"
    argv = ["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--report_to", "none",
            "--eval_splits", "", "--max_train_steps", "4", "--checkpointing_steps", "1", "--output_dir", str(out),
            "--push_to_hub", "true", "--hub_model_id", "org/luab", "--hub_strategy", "every_save", *COMMON]
    timer = threading.Timer(3.0, release.set)
    timer.start()
    assert train.main(argv) == 0
    timer.cancel()
    said = capsys.readouterr().out
    assert "pushing step 1 failed (the Hub is unreachable); the next save pushes again" in said
    assert "the previous push still runs" in said
    messages = [message for message, _ in pushes]
    assert messages[:2] == ["Training in progress, step 1", "Training in progress, step 2"]
    assert messages[-1] == "LUAB training run, step 4" and len(messages) < 5  # a save was skipped, never doubled
    for _, files in pushes[:-1]:  # each checkpoint push is one commit of model, processor and card
        assert {"model.safetensors", "config.json", "preprocessor_config.json", "README.md"} <= set(files)
    assert not list(out.glob(".hub-step-*")) and (out / "model.safetensors").is_file()


def test_a_cpu_launch_that_starts_one_process_of_two_says_so(imagenet_dataset, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
               str(REPO / "training" / "train.py"), "--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro",
               "--max_train_steps", "1", "--eval_splits", "", "--report_to", "none", "--output_dir", str(tmp_path / "run"),
               *COMMON]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "training on 1 process(es)" in done.stdout
    assert "asked for several processes but started one" in done.stdout and "--multi_gpu" in done.stdout


def _process_tree(process) -> list:
    import psutil

    while True:  # loader workers come and go at each epoch: list again if one left meanwhile
        try:
            return [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue


def _alive(process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _pipeline_accuracy(model_dir: Path, split: Path) -> float:
    """Top-1 accuracy of a saved model through transformers' pipeline (its own preprocessing),
    over an image folder of ``<wnid>/*.JPEG`` whose wnids are the model's labels."""
    classify = pipeline("image-classification", model=str(model_dir))
    hits = [classify(Image.open(path).convert("RGB"), top_k=1)[0]["label"] == imagenet_name(path.parent.name)
            for path in sorted(split.rglob("*.JPEG"))]
    return sum(hits) / len(hits)


def test_sigterm_stops_every_rank_at_one_step_and_the_run_resumes_exactly(imagenet_dataset, imagenet_raw, tmp_path):
    """SIGTERM to a 2-process ``accelerate launch``: both ranks stop after the same step with a
    checkpoint of it, no process is left, no final model; resuming from that checkpoint ends with
    the weights of an uninterrupted run. That run's outputs: results the pipeline reproduces, a
    card naming the command and the dataset, TensorBoard logs, a model Auto classes load."""
    import psutil

    base = ["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--eval_splits",
            "validation,validation_shifted", "--train_val_split", "0.25", "--byproduct_loss_weight", "1.0",
            "--lr_scheduler_type", "constant", *COMMON]
    stopped = tmp_path / "stopped"  # with loader workers: they must go too; the batches are theirs alike
    launcher = psutil.Popen(launch_command(*base, "--dataloader_num_workers", "2", "--report_to", "none",
                                           "--max_train_steps", "100000",
                                           "--checkpointing_steps", "2", "--output_dir", str(stopped)),
                            env=LAUNCH_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not (stopped / "checkpoints" / "step_00000004").is_dir():
            assert launcher.poll() is None and time.monotonic() < deadline, launcher.communicate()[1][-3000:]
            time.sleep(0.1)
        family = _process_tree(launcher)  # the ranks and their loader workers
        launcher.terminate()
        _, stderr = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 143, stderr[-3000:]
    assert not [p for p in family if _alive(p)]
    said = re.findall(r"stopped by SIGTERM after step (\d+)", stderr)
    assert len(said) == 2 and len(set(said)) == 1, stderr[-3000:]  # both ranks, one step
    step = int(said[0])
    assert (stopped / "checkpoints" / f"step_{step:08d}").is_dir() and not (stopped / "model.safetensors").exists()

    total = str(step + 3)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    launch(*base, "--dataloader_num_workers", "0", "--report_to", "tensorboard", "--max_train_steps", total,
           "--output_dir", str(whole))
    launch(*base, "--dataloader_num_workers", "0", "--report_to", "none", "--max_train_steps", total,
           "--output_dir", str(resumed),
           "--resume_from_checkpoint", str(stopped / "checkpoints" / f"step_{step:08d}"))
    expected, got = load_file(whole / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in expected)

    results = json.loads((whole / "all_results.json").read_text())
    saved = json.loads((whole / "training_args.json").read_text())
    assert saved["data"]["train_val_split"] == 0.25 and saved["model"]["byproduct_loss_weight"] == 1.0
    assert results["train/steps"] == int(total)
    for split, folder in (("validation", "val"), ("validation_shifted", "val_shifted")):  # the pipeline agrees
        assert results[f"{split}/accuracy"] == pytest.approx(_pipeline_accuracy(whole, imagenet_raw / folder)), split
    assert {"train_holdout/point_error", "train_holdout/attention_alignment"} <= set(results)
    card = (whole / "README.md").read_text()
    shifted = round(results["validation_shifted/accuracy"], 6)
    assert "model-index" in card and f"value: {shifted}" in card and "revision=" in card
    assert "byproduct_loss_weight (lambda): 1.0" in card
    # the command that ran, and the dataset by its folder name, marked local
    assert f"accelerate launch --num_processes 2 training/train.py --dataset_name {imagenet_dataset} " in card
    assert "datasets:\n- ImageNet-AB\n" in card and "trained on `ImageNet-AB` (a local dataset folder)" in card
    assert {"train/loss", "train/classification_loss", "train/byproduct_loss", "train/learning_rate",
            "validation/accuracy"} <= _tensorboard_tags(whole / "logs")
    model = AutoModelForImageClassification.from_pretrained(whole)
    wnids = sorted(p.name for p in (imagenet_raw / "val").iterdir())
    assert [model.config.id2label[i] for i in range(3)] == [imagenet_name(wnid) for wnid in wnids]


def test_a_streamed_run_evaluates_from_its_own_split_files(imagenet_dataset, tmp_path):
    """Streaming trains from the stream and reads evaluation splits alone: a train shard that is
    never streamed whole is never prepared (here it is unreadable, and evaluation still loads)."""
    import shutil

    from luab_hf.trainer.data import load_splits

    copy = tmp_path / "data"
    shutil.copytree(imagenet_dataset, copy)
    for shard in (copy / "data" / "default").glob("train-*.parquet"):
        shard.write_bytes(b"not parquet")
    splits = load_splits(str(copy), None, ["validation", "validation_shifted"])
    assert [s.num_rows for s in splits.values()] == [12, 12] and "image" in splits["validation"].features
    with pytest.raises(train.SetupError, match="unknown split 'test'"):
        load_splits(str(copy), None, ["test"])


def test_streamed_batches_follow_the_epoch_with_loader_workers(imagenet_dataset, tmp_path, monkeypatch):
    """A stream read by two loader workers: each pass holds every row once, a new pass a new order
    and new crops, and the same pass again the same batches (the epoch reaches the workers)."""
    import datasets

    monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 0)  # datasets rests 5 s after each pass
    from accelerate import Accelerator

    from luab_hf.trainer.args import parse_args
    from luab_hf.trainer.data import load_data, make_loaders

    data_args, model_args, args = parse_args(["--dataset_name", str(imagenet_dataset), "--output_dir", str(tmp_path),
                                              "--image_size", "32", "--streaming", "--max_train_steps", "1",
                                              "--dataloader_num_workers", "2", "--per_device_train_batch_size", "8"])
    assert data_args.dataloader_num_workers == 2
    loader, _, transform = make_loaders(load_data(data_args, ["click"]), data_args, model_args, args, ["click"],
                                        Accelerator(cpu=True))

    def one_pass(epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        transform.set_epoch(epoch)
        loader.dataset.set_epoch(epoch)
        batches = list(loader)
        return torch.cat([b["pixel_values"] for b in batches]), torch.cat([b["labels"] for b in batches])

    (pixels0, labels0), (pixels1, labels1), (again, labels_again) = one_pass(0), one_pass(1), one_pass(0)
    assert len(labels0) == len(labels1) == 48 and sorted(labels0.tolist()) == sorted(labels1.tolist())
    assert not torch.equal(labels0, labels1) and not torch.equal(pixels0, pixels1)
    assert torch.equal(pixels0, again) and torch.equal(labels0, labels_again)


def test_torch_compile_trains_and_saves_plain_weights(imagenet_dataset, tmp_path):
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)  # an earlier test's state would keep its own (no) compile setting
    torch._dynamo.reset()
    out = tmp_path / "compiled"
    assert train.main(["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--report_to", "none",
                       "--eval_splits", "validation", "--max_train_steps", "2", "--dataloader_num_workers", "0",
                       "--torch_compile", "--torch_compile_backend", "aot_eager", "--output_dir", str(out), *COMMON]) == 0
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # it did compile
    keys = load_file(out / "model.safetensors").keys()
    assert keys and not any("_orig_mod" in key for key in keys)
    assert AutoModelForImageClassification.from_pretrained(out).config.num_labels == 3


def _fsdp2_save(rank: int, port: int, folder: str) -> None:
    """One rank of :func:`test_fsdp2_sharded_weights_are_gathered_on_every_rank_and_saved_whole`."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    from accelerate import Accelerator
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    from luab_hf.models.factory import create_luab_model
    from luab_hf.trainer.outputs import save_weights

    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    model = create_luab_model("vit-micro", num_labels=3)
    whole = {name: value.clone() for name, value in model.state_dict().items()}
    torch.save(whole, Path(folder) / f"reference_{rank}.pt")
    for layer in model.luab.backbone.model.layers:
        fully_shard(layer)
    fully_shard(model)
    assert all(isinstance(p, DTensor) for p in model.parameters())
    # accelerate routes only accelerators to FSDP; here its FSDP2 branch is entered on gloo
    accelerator.state.distributed_type = DistributedType.FSDP
    accelerator.state.fsdp_plugin = FullyShardedDataParallelPlugin(fsdp_version=2)
    assert accelerator.is_fsdp2
    save_weights(accelerator, model, Path(folder) / "model")
    accelerator.wait_for_everyone()


def test_fsdp2_sharded_weights_are_gathered_on_every_rank_and_saved_whole(tmp_path):
    """accelerate launches FSDP on accelerators only, so a CPU run cannot take that path; torch's
    FSDP2 runs on gloo, though: two processes shard a model, :func:`save_weights` gathers it on
    both and the main one writes every weight whole, equal to the unsharded model's."""
    import torch.multiprocessing as mp

    mp.spawn(_fsdp2_save, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    reference = torch.load(tmp_path / "reference_0.pt")
    loaded = AutoModelForImageClassification.from_pretrained(tmp_path / "model").state_dict()
    assert loaded.keys() == reference.keys()
    assert all(torch.equal(loaded[name], value) for name, value in reference.items())


def test_processes_that_each_came_up_alone_are_refused(imagenet_dataset, tmp_path, monkeypatch, capsys):
    """``accelerate launch --use_fsdp`` on a machine without accelerators starts two processes that
    accelerate never joins (each one alone, with the launcher's ``WORLD_SIZE=2`` in its
    environment): they would train side by side into one folder. Each stops before training."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    argv = ["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--max_train_steps", "1",
            "--eval_splits", "", "--report_to", "none", "--output_dir", str(tmp_path / "run"), *COMMON]
    assert train.main(argv) == 2
    assert "the launcher started 2 processes but accelerate joined none of them" in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.safetensors").exists()


@pytest.mark.parametrize(("argv0", "module", "processes", "expected"), [
    ("/venv/bin/luab-train", None, 1, "luab-train"),
    ("/x/luab_hf/trainer/__main__.py", "luab_hf.trainer.__main__", 1, "python -m luab_hf.trainer"),
    ("/x/luab_hf/trainer/__main__.py", "luab_hf.trainer.__main__", 2, "accelerate launch --num_processes 2 -m luab_hf.trainer"),
    ("training/train.py", None, 1, "python training/train.py"),
    (str(REPO / "training" / "train.py"), None, 2, "accelerate launch --num_processes 2 training/train.py"),
])
def test_the_card_records_how_the_run_was_started(argv0, module, processes, expected, monkeypatch):
    import types

    from luab_hf.trainer.outputs import launch_command

    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name=module) if module else None
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", [argv0])
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert launch_command(processes) == expected


def test_decoding_on_the_device_trains_the_same_weights(imagenet_dataset, tmp_path):
    """``--decode_on_device``: the JPEGs reach the step encoded and are decoded there (on this
    machine's CPU device); at a size where the workers decode at full size too, the run ends with
    the same weights as one decoding in the workers."""
    base = ["--dataset_name", str(imagenet_dataset), "--backbone", "resnet-micro", "--max_train_steps", "3",
            "--eval_splits", "", "--report_to", "none", *COMMON, "--image_size", "48"]  # 64 px images: crops < 96
    assert train.main([*base, "--output_dir", str(tmp_path / "workers")]) == 0
    assert train.main([*base, "--output_dir", str(tmp_path / "device"), "--decode_on_device", "true"]) == 0
    workers, device = load_file(tmp_path / "workers" / "model.safetensors"), load_file(tmp_path / "device" / "model.safetensors")
    assert all(torch.equal(workers[k], device[k]) for k in workers)
