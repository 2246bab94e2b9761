"""The demo pipeline end to end at a tiny size: generator -> converter -> accelerate -> report."""

from __future__ import annotations

import json

from training import demo


def test_demo_pipeline_writes_results_and_report(tmp_path):
    out = tmp_path / "demo_output"
    assert demo.main(["--output", str(out), "--quick"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"baseline", "luab"}
    for model in ("baseline", "luab"):
        for key in ("validation/accuracy", "validation_shifted/accuracy", "train_holdout/point_error"):
            assert 0 <= results[model][key] <= 2, (model, key)
        assert list(results[model]["seeds"]) == ["0"]
    assert results["baseline"]["seeds"]["0"] != results["luab"]["seeds"]["0"]  # lambda changed the run
    report = (out / "report.md").read_text()
    assert "validation_shifted/accuracy" in report and "pipeline" in report
    for figure in ("accuracy.png", "curves.png", "samples.png"):
        assert (out / figure).stat().st_size > 1000 and f"]({figure})" in report
    assert "data:image/png;base64," in (out / "report.html").read_text()
