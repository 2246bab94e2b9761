"""The README's code runs as written: its Python blocks, and the shell commands that work offline.

Everything runs in a scratch folder, offline, as the README says: the synthetic release and its
conversion (the README's own commands) stand in for ImageNet-AB and COCO-AB, and local folders
laid out like Hub repos stand in for the Hub ids the blocks name (``my-org/...``, ``google/...``).
The shell blocks not run need what no test machine has: the real releases under ``/data/``, a
GPU training run, or the Makefile that runs this very suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", (REPO / "README.md").read_text(), re.S)
PYTHON = [body for lang, body in BLOCKS if lang == "python"]
#: Shell blocks left out, and why: the user's own copy of the real releases, a real training run,
#: the Makefile (the suite itself runs under `make test`).
NOT_OFFLINE = ("/data/", "--mixed_precision bf16", "make test")
SHELL = [body for lang, body in BLOCKS if lang == "bash" and not any(mark in body for mark in NOT_OFFLINE)]

#: Runs each block in its own namespace, in README order, and says which failed.
RUNNER = textwrap.dedent("""
    import json, sys, traceback
    failed = []
    for index, block in enumerate(json.load(open(sys.argv[1]))):
        try:
            exec(compile(block, f"README python block {index}", "exec"), {"__name__": "__main__"})
        except Exception:
            failed.append(index)
            traceback.print_exc()
    print("failed:", failed)
    sys.exit(1 if failed else 0)
""")


def _stand_ins(folder: Path) -> None:
    """Local folders for the Hub ids and files the blocks name, laid out as the Hub serves them."""
    import timm
    import torch
    from safetensors.torch import save_file
    from transformers import ViTConfig, ViTModel

    from luab_hf import create_luab_model, make_image_processor

    (folder / "my-org").mkdir()
    os.symlink(folder / "ImageNet-AB", folder / "my-org" / "ImageNet-AB")
    model = create_luab_model("vit-micro", num_labels=3)
    model.save_pretrained(folder / "my-org" / "luab-vit-b16")
    make_image_processor(size=32).save_pretrained(folder / "my-org" / "luab-vit-b16")
    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8)).save_pretrained(folder / "google" / "vit-base-patch16-224-in21k")
    weights = {key: value.contiguous() for key, value in timm.create_model("resnet50").state_dict().items()}
    save_file(weights, folder / "resnet50.a1_in1k.safetensors")
    torch.manual_seed(0)


def test_the_readme_blocks_run_as_written(tmp_path):
    assert len(PYTHON) >= 8 and len(SHELL) >= 2
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "2"}
    for block in SHELL:  # the synthetic release, then its conversion: what the Python blocks read
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{block}\n{done.stderr[-3000:]}"
    _stand_ins(tmp_path)
    (tmp_path / "blocks.json").write_text(json.dumps(PYTHON))
    done = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "blocks.json")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-6000:]
    # what the blocks leave behind is what they say
    assert (tmp_path / "clicks.png").is_file() and (tmp_path / "luab_resnet50" / "config.json").is_file()
    assert "eval/accuracy" in (tmp_path / "luab-resnet18" / "README.md").read_text()


@pytest.mark.parametrize("mark", NOT_OFFLINE)
def test_every_shell_block_left_out_is_one_that_cannot_run_here(mark):
    assert any(mark in body for lang, body in BLOCKS if lang == "bash")
