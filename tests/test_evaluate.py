"""LUAB's metrics as ``evaluate`` modules: loaded by path with the Hub switched off, composed with
``evaluate.combine``, each checked against a known answer worked out by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from luab_hf.metrics import EVALUATE_MODULES, evaluate_module

REPO = Path(__file__).resolve().parent.parent


def test_every_module_loads_offline_composes_and_gives_the_known_answers(tmp_path):
    script = textwrap.dedent("""
        import json
        import evaluate
        from luab_hf.metrics import evaluate_module

        load = lambda name: evaluate.load(evaluate_module(name))
        # clicks at (0.5, 0.5); predictions 0, 0.1 and 0.3 away; the third row has no click
        points = dict(predictions=[[0.5, 0.5], [0.5, 0.6], [0.8, 0.5]], references=[[0.5, 0.5]] * 3)
        together = evaluate.combine([load("point_error"), load("attention_alignment")])
        out = {"combined": together.compute(**points, valid=[True, True, False]),
               "all_rows": load("point_error").compute(**points),
               "wide": load("attention_alignment").compute(**points, tolerance=0.35)}
        # class 0: positives ranked 1st and 3rd -> AP (1 + 2/3) / 2; class 1: its positive ranked 1st -> AP 1
        out["map"] = load("mean_average_precision").compute(
            predictions=[[0.9, 0.1], [0.8, 0.7], [0.3, 0.2]], references=[[1, 0], [0, 1], [1, 0]])
        # sigmoid(2) >= 0.5: predicted {0}, {0, 1}; truth {0}, {1}: tp 2, fp 1, fn 0
        out["f1"] = load("multilabel_f1").compute(predictions=[[2.0, -2.0], [2.0, 2.0]], references=[[1, 0], [0, 1]])
        print(json.dumps(out))
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["combined"] == pytest.approx({"point_error": 0.05, "attention_alignment": 1.0}, abs=1e-6)
    assert out["all_rows"]["point_error"] == pytest.approx((0 + 0.1 + 0.3) / 3, abs=1e-6)
    assert out["wide"]["attention_alignment"] == pytest.approx(1.0) and out["combined"]["attention_alignment"] == 1.0
    assert out["map"]["mAP"] == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2, abs=1e-6)
    # micro 2tp / (2tp + fp + fn) = 4/5; per class: class 0 (tp 1, fp 1) 2/3, class 1 (tp 1) 1
    assert out["f1"]["f1_micro"] == pytest.approx(4 / 5, abs=1e-6)
    assert out["f1"]["f1_macro"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-6)


def test_module_paths_ship_a_script_and_a_card_each():
    for name in EVALUATE_MODULES:
        folder = Path(evaluate_module(name))
        assert (folder / f"{name}.py").is_file() and (folder / "README.md").read_text().startswith("---\ntitle:")
    with pytest.raises(ValueError, match="expected one of"):
        evaluate_module("accuracy")
