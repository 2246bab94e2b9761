"""Each benchmark runs in --quick mode and ends with its JSON line (no timing assertions; the
demo's wall time is the demo, run once by tests/test_demo.py)."""

from __future__ import annotations

import json
import math
import runpy
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
EXPECTED = {
    "train_step": {"vit_ratio", "resnet_ratio"},
    "loader": {"samples_per_second", "plain_samples_per_second", "uint8_samples_per_second",
               "decode_limit_samples_per_second", "hf_example_samples_per_second", "timm_samples_per_second",
               "loader_vs_hf_example", "loader_vs_decode_limit", "loader_vs_timm", "float_vs_hf_example"},
    "ingest": {"tar_ratio", "records_per_second", "tar_records_per_second", "published_records_per_second",
               "rss_growth", "rss_mib_large", "pss_mib_large", "images_rss_growth", "images_rss_mib_large",
               "full_release_linearity", "images_copy_ratio", "release_size_seconds", "release_size_rss_mib",
               "linear_projection_seconds"},
    "coco_memory": {"coco_rss_mib", "coco_pss_mib", "json_load_rss_mib"},
}
#: What must hold between a script's figures whatever the machine: a broken measurement breaks it.
INVARIANTS = {
    "coco_memory": lambda f: f["coco_pss_mib"] <= f["coco_rss_mib"],  # shared pages counted once
    "ingest": lambda f: f["pss_mib_large"] <= f["rss_mib_large"] and f["records_large"] > f["records_small"]
    and math.isclose(f["tar_ratio"], f["tar_records_per_second"] / f["published_records_per_second"], rel_tol=5e-3),
    "loader": lambda f: math.isclose(f["loader_vs_hf_example"],
                                     f["uint8_samples_per_second"] / f["hf_example_samples_per_second"], rel_tol=2e-3)
    and math.isclose(f["loader_vs_decode_limit"], f["uint8_samples_per_second"] / f["decode_limit_samples_per_second"],
                     rel_tol=2e-3),
    "train_step": lambda f: f["ratio"] == max(f["vit_ratio"], f["resnet_ratio"]),
}


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_bench_script_prints_its_figures(script, monkeypatch, capsys):
    """Run as ``python bench/<script>.py --quick`` does, in this process (no second start-up)."""
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.chdir(BENCH.parent)
    monkeypatch.setattr(sys, "argv", [str(BENCH / f"{script}.py"), "--quick"])
    runpy.run_path(str(BENCH / f"{script}.py"), run_name="__main__")
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"ratio", *EXPECTED[script]} <= set(figures)
    assert all(isinstance(figures[key], (int, float)) and math.isfinite(figures[key])
               for key in EXPECTED[script] | {"ratio"})
    assert INVARIANTS[script](figures), figures
