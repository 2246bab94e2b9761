"""Dataset and model cards: what a Hub repo says about how its contents were made."""

from __future__ import annotations

import shlex
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from datasets import DatasetInfo, Features, SplitDict, SplitInfo
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard, DatasetCardData, EvalResult, ModelCard, ModelCardData

PAPER = "https://arxiv.org/abs/2303.17595"
CITATION = """@inproceedings{han2023neglected,
  title={Neglected Free Lunch -- Learning Image Classifiers Using Annotation Byproducts},
  author={Han, Dongyoon and Choe, Junsuk and Chun, Seonghyeok and Chung, John Joon Young and
          Chang, Minsuk and Yun, Sangdoo and Song, Jean Y. and Oh, Seong Joon},
  booktitle={International Conference on Computer Vision (ICCV)},
  year={2023}
}"""


def command_line(program: str, argv: Sequence[str] | None = None) -> str:
    """The command that reproduces a dataset or model, for its card: ``program`` and the
    arguments as given (this process's own when ``argv`` is None), quoted for a shell."""
    return f"{program} {shlex.join(sys.argv[1:] if argv is None else argv)}".rstrip()


@dataclass
class DatasetSummary:
    """What a conversion produced: enough for a card a reader can check against the files."""

    name: str
    description: str
    #: config name -> split name -> rows
    rows: dict[str, dict[str, int]]
    input_records: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    command: str = ""
    notes: list[str] = field(default_factory=list)
    #: config name -> its features, and config name -> split name -> Parquet bytes
    features: dict[str, Features] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    #: an image in the folder showing a few rows with their byproducts drawn
    preview: str | None = None


def _configs(rows: Mapping[str, Mapping[str, int]]) -> list[dict]:
    configs = []
    for config, splits in rows.items():
        entry = {
            "config_name": config,
            "data_files": [{"split": s, "path": f"data/{config}/{s}-*.parquet"} for s in splits],
        }
        if config == "default":
            entry["default"] = True
        configs.append(entry)
    return configs


def _size_category(count: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if count < limit:
            return name
    return "1M<n<10M"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _add_dataset_info(data: DatasetCardData, summary: DatasetSummary) -> None:
    """``dataset_info`` per config: features, split sizes and row counts.

    Beyond informing the Hub viewer, it keys the ``datasets`` cache: a local folder is cached by
    its name, configs and this info, so a re-conversion into the same folder is not served stale.
    """
    infos = {}
    for config, features in summary.features.items():
        splits = SplitDict()
        for split, rows in summary.rows.get(config, {}).items():
            splits.add(SplitInfo(name=split, num_bytes=summary.sizes.get(config, {}).get(split, 0), num_examples=rows))
        size = sum(summary.sizes.get(config, {}).values())
        infos[config] = DatasetInfo(features=features, splits=splits, download_size=size, dataset_size=size)
    if infos:
        DatasetInfosDict(infos).to_dataset_card_data(data)


def _preview(name: str | None) -> str:
    if not name:
        return ""
    return (f"\n![The first train rows with every click (red rings) and mouse trace (yellow) drawn]({name})\n\n"
            "*The first train rows, every click (red) and mouse trace (yellow) drawn: the Hub's viewer shows "
            "these columns as text.*\n")


def dataset_card(summary: DatasetSummary) -> DatasetCard:
    """A dataset card whose YAML ``configs:`` make ``load_dataset(folder_or_repo)`` work."""
    train_rows = max((splits.get("train", 0) for splits in summary.rows.values()), default=0)
    data = DatasetCardData(
        license="apache-2.0",
        pretty_name=summary.name,
        task_categories=["image-classification"],
        size_categories=_size_category(train_rows),
        tags=["annotation-byproducts", "luab"],
        configs=_configs(summary.rows),
    )
    _add_dataset_info(data, summary)
    rows = [(config, split, count) for config, splits in summary.rows.items() for split, count in splits.items()]
    reasons = Counter(reason.split(" (")[0] for _, reason in summary.skipped)
    skipped = (
        _table(["reason", "records"], reasons.most_common())
        + "\n\nEvery skipped record, with its file or record index, is listed in `skipped.jsonl`."
        if summary.skipped
        else "No record was skipped."
    )
    options = _table(["option", "value"], sorted(summary.options.items())) if summary.options else ""
    notes = "\n".join(f"- {note}" for note in summary.notes)
    body = f"""
# {summary.name}

{summary.description}
{_preview(summary.preview)}
Annotation byproducts from *Neglected Free Lunch: Learning Image Classifiers Using Annotation
Byproducts* (ICCV 2023, [paper]({PAPER})), converted with
luab-hf into Parquet so that `load_dataset` works.

## Configs and counts

- `byproducts`: the byproduct columns only, no images. Redistributable under Apache-2.0.
- `default` (when present): the same rows with the images embedded, plus image-only evaluation
  splits whose byproduct columns are empty. The images keep their own licence terms.

{_table(["config", "split", "rows"], rows)}

Input records: {summary.input_records}; skipped: {len(summary.skipped)}; train rows: {train_rows}
(rows + skipped = input records).

## Skipped records

{skipped}

## How the rows were built

{notes}

{options}

```
{summary.command}
```

## Licence

The byproducts are released under Apache-2.0. Images joined into the `default` config come from
the user's own copy and keep their original terms; do not publish that config where those terms
forbid it.

## Citation

```bibtex
{CITATION}
```
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}")


@dataclass
class TrainingSummary:
    """What a training run did and measured: everything its model card states."""

    model_name: str
    dataset: str
    dataset_config: str | None
    backbone: str
    byproduct_loss_weight: float
    byproduct_targets: list[str]
    seed: int
    command: str
    #: "<split>/<metric>" -> value
    results: dict[str, float]
    versions: dict[str, str]
    hyperparameters: dict[str, object] = field(default_factory=dict)
    #: the Hub model this one was fine-tuned from (a repo id), when there is one
    base_model: str | None = None


def model_card(summary: TrainingSummary) -> ModelCard:
    """A model card with ``model-index`` results for every evaluation split and metric."""
    # a local folder is named by its folder name (its path means nothing elsewhere), marked local
    local = Path(summary.dataset).is_dir()
    dataset = Path(summary.dataset).name if local else summary.dataset
    dataset_name = dataset.rstrip("/").split("/")[-1]
    evals = [
        EvalResult(task_type="image-classification", dataset_type=dataset, dataset_name=dataset_name,
                   dataset_config=summary.dataset_config, dataset_split=key.split("/")[0],
                   metric_type=key.split("/", 1)[1], metric_value=round(float(value), 6), metric_name=key)
        for key, value in sorted(summary.results.items()) if "/" in key and value == value  # skip NaN
    ]
    data = ModelCardData(
        model_name=summary.model_name, license="apache-2.0", library_name="transformers",
        pipeline_tag="image-classification", tags=["luab", "annotation-byproducts", "image-classification"],
        datasets=[dataset],
        base_model=summary.base_model,
        eval_results=evals or None,
    )
    method = ("the plain baseline: cross-entropy only (`byproduct_loss_weight` = 0)" if summary.byproduct_loss_weight == 0
              else f"LUAB: cross-entropy plus {summary.byproduct_loss_weight} x a masked regression of "
                   f"{', '.join(summary.byproduct_targets)}")
    results = _table(["split/metric", "value"], [(k, f"{v:.4f}") for k, v in sorted(summary.results.items())])
    hyper = _table(["hyperparameter", "value"], sorted((k, v) for k, v in summary.hyperparameters.items()))
    versions = ", ".join(f"{name} {version}" for name, version in sorted(summary.versions.items()))
    body = f"""
# {summary.model_name}

An image classifier on a `{summary.backbone}` backbone trained on `{dataset}`{" (a local dataset folder)" if local else ""}
(config `{summary.dataset_config or "default"}`) with {method}, following *Neglected Free Lunch:
Learning Image Classifiers Using Annotation Byproducts* ([paper]({PAPER})).

## Results

{results}

`attention_alignment` is a pointing game: the fraction of annotated clicks near the peak of the
model's class map for the true class. `point_error` is the mean distance of the predicted click from the
annotated one (normalised image units).

## How to use

```python
import luab_hf  # registers the model with transformers
from transformers import pipeline

classify = pipeline("image-classification", model="{summary.model_name}")
classify("image.jpg")
```

Without `luab_hf`, load the model's own code and pin the revision you reviewed:

```python
from transformers import AutoModelForImageClassification
model = AutoModelForImageClassification.from_pretrained(
    "{summary.model_name}", trust_remote_code=True, revision="<commit sha>")
```

## Training

- byproduct_loss_weight (lambda): {summary.byproduct_loss_weight}
- byproduct targets: {", ".join(summary.byproduct_targets)}
- seed: {summary.seed}
- libraries: {versions}

{hyper}

```bash
{summary.command}
```

## Citation

```bibtex
{CITATION}
```
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
