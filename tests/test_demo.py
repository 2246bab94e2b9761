"""The demo pipeline end to end at a tiny size: generator -> converter -> accelerate -> report."""

from __future__ import annotations

import json

from training import demo


def test_demo_pipeline_writes_results_and_report(tmp_path):
    out = tmp_path / "demo_output"
    assert demo.main(["--output", str(out), "--quick"]) == 0
    written = json.loads((out / "results.json").read_text())
    results = written["benchmarks"]
    assert set(results) == {"patch", "background"}
    for benchmark in results.values():
        assert set(benchmark) == {"baseline", "luab", "attention"}
        for model, row in benchmark.items():
            for key in ("validation/accuracy", "validation_shifted/accuracy", "train_holdout/attention_alignment"):
                assert 0 <= row[key] <= 1, (model, key)
            assert list(row["seeds"]) == ["0"] and "validation/accuracy_std" not in row  # one seed: no spread
        # only the loss differs, and it changed the runs
        assert len({json.dumps(row["seeds"]["0"], sort_keys=True) for row in benchmark.values()}) == 3
    assert written["settings"]["attention_loss_weight"] == 1.0
    report = (out / "report.md").read_text()
    assert "validation_shifted/accuracy" in report and "pipeline" in report and "## patch benchmark" in report
    for figure in ("accuracy.png", "curves_patch.png", "samples_patch.png", "samples_background.png"):
        assert (out / figure).stat().st_size > 1000 and f"]({figure})" in report
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_the_three_models_differ_only_in_the_loss():
    args = demo.build_parser().parse_args([])
    flags = {model: demo.losses(model, args) for model in demo.MODELS}
    assert flags["baseline"] == ["--byproduct_loss_weight", "0.0", "--attention_loss_weight", "0.0"]
    assert flags["luab"][1] == str(args.byproduct_loss_weight) and flags["luab"][3] == "0.0"
    assert flags["attention"][1] == "0.0" and flags["attention"][3] == str(args.attention_loss_weight)
