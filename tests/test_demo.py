"""The demo pipeline end to end at a tiny size: generator -> converter -> accelerate -> report."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from luab_hf.trainer import parse_args
from training import demo


class _Tables(HTMLParser):
    """The text of every table cell, table by table and row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_demo_pipeline_writes_results_and_report(tmp_path):
    out = tmp_path / "demo_output"
    assert demo.main(["--output", str(out), "--quick", "--cue", "patch"]) == 0
    written = json.loads((out / "results.json").read_text())
    (benchmark,) = written["benchmarks"].values()
    assert set(written["benchmarks"]) == {"patch"} and set(benchmark) == set(demo.MODELS)
    for model, row in benchmark.items():  # one seed: each figure is that run's own result
        run = json.loads((out / "runs" / "patch" / "seed0" / model / "all_results.json").read_text())
        for key in demo.TABLE_METRICS:
            assert row.get(key) == run.get(key), (model, key)
        assert row["seeds"] == {"0": run} and "validation/accuracy_std" not in row
    # only the loss differs, and it changed the runs
    assert len({json.dumps(row["seeds"]["0"], sort_keys=True) for row in benchmark.values()}) == 3
    assert written["settings"]["attention_loss_weight"] == 1.0

    report = (out / "report.md").read_text()
    assert "## patch benchmark" in report and "pipeline" in report
    for figure in ("accuracy.png", "curves_patch.png", "samples_patch.png"):
        assert (out / figure).stat().st_size > 1000 and f"]({figure})" in report
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "](" not in page  # every figure inline, no Markdown left
    tables = _Tables()
    tables.feed(page)
    results_table = tables.tables[0]  # one table: a header and one row per metric, a column per model
    assert results_table[0] == ["metric", *(demo.LABELS[m] for m in demo.MODELS)]
    assert [row[0] for row in results_table[1:]] == list(demo.TABLE_METRICS)
    for row in results_table[1:]:
        values = [benchmark[m].get(row[0]) for m in demo.MODELS]
        assert row[1:] == ["n/a" if v is None else f"{v:.3f}" for v in values], row


def test_the_three_models_differ_only_in_the_loss():
    args = demo.build_parser().parse_args([])
    weights = {}
    for model in demo.MODELS:
        _, model_args, _ = parse_args(["--dataset_name", "d", "--output_dir", "o", *demo.losses(model, args)])
        weights[model] = (model_args.byproduct_loss_weight, model_args.attention_loss_weight)
    assert weights == {"baseline": (0.0, 0.0), "luab": (args.byproduct_loss_weight, 0.0),
                       "attention": (0.0, args.attention_loss_weight)}
