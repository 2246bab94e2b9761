"""The package as users install and import it: a wheel with console commands, Auto
registration on import, one evaluation preprocessing, and entry points that are only entry points."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> Path:
    """A fresh virtualenv with luab-hf installed from its wheel (not editable). The heavy
    dependencies come from the test environment's site-packages through a ``.pth`` line, so
    nothing is downloaded; luab_hf itself must come from the wheel."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "demo_output",
                                                                 "__pycache__", ".pytest_cache", ".ruff_cache"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"),
          str(source)])
    wheel = next((root / "dist").glob("luab_hf-*.whl"))
    assert wheel.name.endswith("-py3-none-any.whl")  # pure Python: no compiled code of our own parses input
    names = zipfile.ZipFile(wheel).namelist()
    assert not [name for name in names if name.endswith((".c", ".so", ".pyd"))]
    assert {"luab_hf/evaluate_modules/point_error/point_error.py", "luab_hf/evaluate_modules/point_error/README.md"} <= set(names)
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    site = Path(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # pip installs into the new environment (console scripts included) from outside it
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps", "-q",
          str(wheel)])
    shutil.rmtree(source)
    return venv


def test_console_commands_from_a_wheel_convert_and_train(wheel_env, tmp_path):
    bin_dir = wheel_env / "bin"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    where = _run([str(bin_dir / "python"), "-c", "import luab_hf; print(luab_hf.__file__)"], cwd=tmp_path, env=env)
    assert str(wheel_env) in where.stdout and str(REPO) not in where.stdout
    _run([str(bin_dir / "luab-convert"), "synthetic", "imagenet-ab", "--out", "raw", "--classes", "2",
          "--images-per-class", "6", "--val-per-class", "2", "--seed", "0"], cwd=tmp_path, env=env)
    _run([str(bin_dir / "luab-convert"), "imagenet-ab", "--xml", "raw", "--images", "raw", "--label-set", "present",
          "--eval-split", "validation=raw/val", "--output", "data", "--num-workers", "1"], cwd=tmp_path, env=env)
    _run([str(bin_dir / "luab-train"), "--dataset_name", "data", "--backbone", "vit-micro", "--image_size", "32",
          "--max_train_steps", "2", "--per_device_train_batch_size", "4", "--report_to", "none",
          "--output_dir", "run"], cwd=tmp_path, env=env)
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert "luab-convert imagenet-ab --xml raw" in (tmp_path / "data" / "README.md").read_text()


def test_import_luab_hf_registers_the_auto_classes(tmp_path):
    from luab_hf import create_luab_model

    create_luab_model("resnet-micro", num_labels=3).save_pretrained(tmp_path)
    script = textwrap.dedent(f"""
        import luab_hf
        from transformers import AutoModelForImageClassification
        model = AutoModelForImageClassification.from_pretrained({str(tmp_path)!r})
        print(type(model).__module__)
    """)
    assert _run([sys.executable, "-c", script]).stdout.strip() == "luab_hf.models.luab.modeling_luab"


def test_evaluation_transform_feeds_the_pipeline_pixels(tmp_path):
    from transformers import pipeline

    from luab_hf import PointTransform, create_luab_model, make_image_processor

    model = create_luab_model("resnet-micro", num_labels=3)
    model.save_pretrained(tmp_path)
    make_image_processor(size=48, crop_pct=0.8).save_pretrained(tmp_path)
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (71, 103, 3), dtype=np.uint8))
    seen = []
    classifier = pipeline("image-classification", model=str(tmp_path))
    classifier.model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs.get("pixel_values",
                                               args[0] if args else None)), with_kwargs=True)
    classifier(image)
    ours = PointTransform.for_eval(size=48, crop_pct=0.8)(image)["pixel_values"]
    assert seen[0].shape[-2:] == ours.shape[-2:] == (48, 48)
    torch.testing.assert_close(seen[0][0], ours, rtol=0, atol=0)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _edits_sys_path(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("insert", "append", "extend") \
                and isinstance(node.value, ast.Attribute) and node.value.attr == "path" \
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "sys":
            return True
    return False


def test_the_library_never_imports_entry_points_and_nothing_edits_sys_path():
    for path in (REPO / "luab_hf").rglob("*.py"):
        outside = {n for n in _imports(path) if n.split(".")[0] in ("training", "dataset_scripts", "bench", "tests")}
        assert not outside, f"{path} imports {outside}"
    for folder in ("luab_hf", "training", "dataset_scripts", "bench", "tests"):
        for path in (REPO / folder).rglob("*.py"):
            assert not _edits_sys_path(path), path


def test_the_trainer_arguments_class_has_its_own_name_and_the_old_one_warns():
    import luab_hf.trainer as trainer

    assert trainer.LuabTrainingArguments.__name__ == "LuabTrainingArguments"
    assert trainer.load_data is trainer.data.load_data and trainer.make_loaders is trainer.data.make_loaders
    with pytest.warns(FutureWarning, match="now LuabTrainingArguments"):
        assert trainer.TrainingArguments is trainer.LuabTrainingArguments
