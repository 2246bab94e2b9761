"""The demo: LUAB on a synthetic shortcut benchmark, through every real part of the project.

    python training/demo.py --output demo_output

1. writes a synthetic ImageNet-AB release (a foreground shape is the class; the background colour
   is a shortcut tied to the class in train/val and random in val_shifted) with the generator;
2. converts it with the real converter into a Hub-layout dataset folder;
3. trains, with ``accelerate launch training/train.py``, a baseline (lambda = 0) and a LUAB model
   (lambda > 0), identical in everything else, for each seed;
4. evaluates both in distribution (``validation``) and under the shift (``validation_shifted``);
5. loads the LUAB model back with ``pipeline("image-classification")`` and classifies a few images;
6. writes ``results.json``, ``report.md`` / ``report.html`` and figures under ``--output``.

The demo reports what it measures; it asserts nothing about the margin.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from datasets import load_dataset

from luab_hf.convert import imagenet_ab, synthetic

REPO = Path(__file__).resolve().parent.parent
MODELS = ("baseline", "luab")
SPLITS = ("validation", "validation_shifted")
TABLE_METRICS = ("validation/accuracy", "validation_shifted/accuracy", "train_holdout/point_error",
                 "train_holdout/attention_alignment")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("demo_output"))
    parser.add_argument("--seeds", default="0", help="comma-separated; each seed makes new data and new models")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--images-per-class", type=int, default=100)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--cue-strength", type=float, default=0.95)
    parser.add_argument("--backbone", default="resnet-micro")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--warmup-steps", type=int, default=20)
    parser.add_argument("--byproduct-loss-weight", type=float, default=5.0, help="LUAB's lambda")
    parser.add_argument("--byproduct-loss", default="mse")
    parser.add_argument("--processes", type=int, default=1, help="accelerate processes per training run")
    parser.add_argument("--quick", action="store_true", help="a tiny run for tests: 3 classes, few steps")
    return parser


# --------------------------------------------------------------------------- pipeline steps


def make_dataset(output: Path, args: argparse.Namespace, seed: int) -> Path:
    """Synthetic raw release -> the real converter -> a Hub-layout dataset folder."""
    raw = output / f"raw_seed{seed}"
    shutil.rmtree(raw, ignore_errors=True)
    style = synthetic.Style(image_size=args.image_size, cue_strength=args.cue_strength)
    synthetic.write_imagenet_ab(raw, args.classes, args.images_per_class, seed,
                                val_per_class=max(2, args.images_per_class // 5), style=style)
    dataset = output / f"ImageNet-AB_seed{seed}"
    code = imagenet_ab.main([
        "--xml", str(raw), "--images", str(raw), "--label-set", "present", "--overwrite",
        "--eval-split", f"validation={raw / 'val'}", "--eval-split", f"validation_shifted={raw / 'val_shifted'}",
        "--output", str(dataset)])
    if code:
        raise SystemExit(f"conversion failed with exit code {code}")
    shutil.rmtree(raw)
    return dataset


def train_model(dataset: Path, run_dir: Path, byproduct_loss_weight: float, seed: int, args: argparse.Namespace) -> dict:
    """One ``accelerate launch training/train.py`` run; returns its all_results.json."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(args.processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    env = dict(os.environ)
    if args.processes > 1 and not torch.cuda.is_available():
        command.insert(command.index("--num_processes"), "--multi_gpu")
        env["ACCELERATE_USE_CPU"] = "true"
    command += [
        str(REPO / "training" / "train.py"), "--dataset_name", str(dataset), "--output_dir", str(run_dir),
        "--overwrite_output_dir", "--backbone", args.backbone, "--image_size", str(args.image_size),
        "--eval_splits", ",".join(SPLITS), "--train_val_split", "0.1", "--seed", str(seed),
        "--per_device_train_batch_size", str(args.batch_size // args.processes), "--per_device_eval_batch_size", "64",
        "--learning_rate", str(args.learning_rate), "--num_warmup_steps", str(args.warmup_steps), "--min_crop_scale", "0.35",
        "--num_train_epochs", str(args.epochs), "--logging_steps", "10",
        "--byproduct_loss_weight", str(byproduct_loss_weight), "--byproduct_loss", args.byproduct_loss,
    ]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-6000:])
        raise SystemExit(f"training {run_dir.name} failed with exit code {done.returncode}")
    return json.loads((run_dir / "all_results.json").read_text())


def aggregate(per_seed: dict[str, dict[int, dict]]) -> dict:
    """``{"baseline": {metric: mean, metric + "_std": spread, "seeds": {...}}, "luab": ...}``."""
    results = {}
    for model, seeds in per_seed.items():
        summary: dict = {"seeds": seeds}
        keys = sorted({k for r in seeds.values() for k in r if "/" in k and not k.startswith("train/")})
        for key in keys:
            values = [r[key] for r in seeds.values() if key in r]
            summary[key] = statistics.fmean(values)
            summary[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        results[model] = summary
    return results


def classify_with_pipeline(model_dir: Path, dataset: Path, count: int = 4) -> list[dict]:
    """Load the LUAB model back as a user would and label a few shifted images."""
    from transformers import pipeline

    import luab_hf  # noqa: F401  (registers the Auto classes)

    classify = pipeline("image-classification", model=str(model_dir))
    split = load_dataset(str(dataset), split="validation_shifted")
    names = split.features["label"].names
    rows = split.shuffle(seed=0).select(range(min(count, len(split))))
    return [{"image_id": row["image_id"], "true": names[row["label"]],
             "predicted": classify(row["image"], top_k=1)[0]["label"]} for row in rows]


# --------------------------------------------------------------------------- report


def _figures(output: Path, results: dict, runs: Path, dataset: Path, args: argparse.Namespace) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    # 1. bar chart
    fig, ax = plt.subplots(figsize=(6, 3.2))
    width = 0.38
    labels = ["in distribution", "shifted"]
    for offset, model in ((-width / 2, "baseline"), (width / 2, "luab")):
        means = [results[model].get(f"{s}/accuracy", float("nan")) for s in SPLITS]
        spread = [results[model].get(f"{s}/accuracy_std", 0.0) for s in SPLITS]
        ax.bar([i + offset for i in range(2)], means, width, yerr=spread, capsize=3,
               label="baseline (lambda 0)" if model == "baseline" else f"LUAB (lambda {args.byproduct_loss_weight:g})")
    ax.set_xticks(range(2), labels)
    ax.set_ylabel("top-1 accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Shortcut benchmark")
    fig.tight_layout()
    fig.savefig(output / "accuracy.png", dpi=120)
    plt.close(fig)
    figures.append(("Accuracy, baseline vs LUAB", "accuracy.png"))

    # 2. training curves of the loss terms (first seed)
    curves = _curves(runs)
    if curves:
        fig, axes = plt.subplots(1, 2, figsize=(8, 3))
        for model, series in curves.items():
            for ax, tag in zip(axes, ("train/classification_loss", "train/byproduct_loss")):
                if tag in series:
                    steps, values = zip(*series[tag])
                    ax.plot(steps, values, label=model)
                    ax.set_title(tag.split("/")[1].replace("_", " "))
                    ax.set_xlabel("step")
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(output / "curves.png", dpi=120)
        plt.close(fig)
        figures.append(("Training curves (first seed)", "curves.png"))

    # 3. samples with clicks, LUAB's predicted point and each model's class-activation map
    samples = _samples(runs, dataset, args.image_size)
    if samples is not None:
        samples.save(output / "samples.png")
        figures.append(("Held-out training images: annotators' click (red ring), LUAB's predicted click "
                        "(cyan cross); middle: baseline CAM; right: LUAB CAM", "samples.png"))
    return figures


def _curves(runs: Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    curves = {}
    for model in MODELS:
        series: dict[str, list[tuple[int, float]]] = {}
        for events in sorted((runs / model / "logs").rglob("events.out.tfevents.*")):
            accumulator = EventAccumulator(str(events))
            accumulator.Reload()
            for tag in accumulator.Tags()["scalars"]:
                series.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
        if series:
            curves[model] = series
    return curves


@torch.no_grad()
def _samples(runs: Path, dataset: Path, image_size: int, count: int = 6):
    import luab_hf  # noqa: F401
    from luab_hf import LuabForImageClassification
    from luab_hf.transforms import PointTransform
    from luab_hf.visualization import draw_byproducts, image_grid

    models = {m: LuabForImageClassification.from_pretrained(runs / m).eval() for m in MODELS}
    split = load_dataset(str(dataset), split="train")
    rows = [r for r in split.shuffle(seed=1).select(range(min(60, len(split)))) if r["click_point"] is not None][:count]
    if not rows:
        return None
    transform = PointTransform.for_eval(image_size, crop_pct=1.0)
    scale = max(1, 160 // image_size)
    tiles = []
    for row in rows:
        image = row["image"].convert("RGB")
        out = transform(image, torch.tensor([row["click_point"]]))
        pixels = out["pixel_values"].unsqueeze(0)
        label = torch.tensor([row["label"]])
        shown = image.resize((image_size, image_size))
        outputs = {model: models[model](pixels, output_class_maps=True) for model in MODELS}
        tiles.append(draw_byproducts(shown, clicks=out["points"].tolist(),
                                     predictions=outputs["luab"].point_predictions[0].tolist(), scale=scale))
        for model in MODELS:
            cam = outputs[model].class_maps[0, label[0]]
            tiles.append(draw_byproducts(shown, clicks=out["points"].tolist(), heatmap=cam.numpy(), scale=scale))
    return image_grid(tiles, columns=6)


def write_report(output: Path, results: dict, figures: list[tuple[str, str]], predictions: list[dict],
                 args: argparse.Namespace, seeds: list[int], seconds: float) -> None:
    def cell(model: str, key: str) -> str:
        if key not in results[model]:
            return "n/a"
        spread = f" ± {results[model][key + '_std']:.3f}" if len(seeds) > 1 else ""
        return f"{results[model][key]:.3f}{spread}"

    table = [f"| metric | baseline (lambda 0) | LUAB (lambda {args.byproduct_loss_weight:g}) |", "|---|---|---|"]
    table += [f"| {key} | {cell('baseline', key)} | {cell('luab', key)} |" for key in TABLE_METRICS]
    lines = [
        "# LUAB demo: the shortcut benchmark",
        "",
        f"Synthetic ImageNet-AB: {args.classes} classes x {args.images_per_class} train images of {args.image_size} px. "
        f"The class is a foreground shape; the background colour matches the class in {args.cue_strength:.0%} of "
        "`train`/`validation` images and is random in `validation_shifted`. Both models are the same "
        f"`{args.backbone}` trained for {args.epochs} epochs with identical settings and seeds; LUAB adds "
        f"lambda = {args.byproduct_loss_weight:g} x a {args.byproduct_loss} regression of the annotators' click.",
        "",
        f"Seeds: {', '.join(map(str, seeds))} (mean{' ± standard deviation' if len(seeds) > 1 else ''}). "
        f"Wall time: {seconds:.0f} s.",
        "",
        *table,
        "",
        "`point_error` and `attention_alignment` are measured on `train_holdout` (10% of train, held out with "
        "its clicks); the evaluation splits have no clicks. `attention_alignment`: fraction of clicks within "
        "0.15 of the peak of the class-activation map.",
        "",
    ]
    for caption, name in figures:
        lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    if predictions:
        lines += ["## The LUAB model through `pipeline(\"image-classification\")`", "",
                  "| image | true | predicted |", "|---|---|---|"]
        lines += [f"| {p['image_id']} | {p['true']} | {p['predicted']} |" for p in predictions]
    markdown = "\n".join(lines) + "\n"
    (output / "report.md").write_text(markdown)
    html = markdown
    for _, name in figures:
        data = base64.b64encode((output / name).read_bytes()).decode()
        html = html.replace(f"({name})", f"(data:image/png;base64,{data})")
    (output / "report.html").write_text(_markdown_to_html(html))


def _markdown_to_html(markdown: str) -> str:
    """Just enough Markdown for the report: headings, tables, images, paragraphs."""
    import html
    import re

    body = []
    for line in markdown.splitlines():
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("|---"):
            continue
        elif line.startswith("|"):
            cells = "".join(f"<td>{html.escape(c.strip())}</td>" for c in line.strip("|").split("|"))
            body.append(f"<table><tr>{cells}</tr></table>")
        elif (match := re.match(r"!\[(.*)\]\((.*)\)", line)):
            body.append(f'<img alt="{html.escape(match.group(1))}" src="{match.group(2)}">')
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    return "<!doctype html><meta charset='utf-8'><title>LUAB demo</title>\n" + "\n".join(body) + "\n"


def print_table(results: dict) -> None:
    print(f"\n{'metric':<36}{'baseline':>12}{'luab':>12}")
    for key in TABLE_METRICS:
        row = [results[m].get(key, float("nan")) for m in MODELS]
        print(f"{key:<36}{row[0]:>12.3f}{row[1]:>12.3f}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.classes, args.images_per_class, args.epochs, args.image_size, args.warmup_steps = 3, 12, 2, 32, 0
        args.backbone = "vit-micro"
    seeds = [int(s) for s in args.seeds.split(",")]
    output = args.output
    output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    per_seed: dict[str, dict[int, dict]] = {m: {} for m in MODELS}
    first_runs = first_dataset = None
    for seed in seeds:
        print(f"[seed {seed}] generating and converting the synthetic release", flush=True)
        dataset = make_dataset(output, args, seed)
        runs = output / "runs" / f"seed{seed}"
        for model, weight in (("baseline", 0.0), ("luab", args.byproduct_loss_weight)):
            print(f"[seed {seed}] training {model} (lambda {weight:g})", flush=True)
            per_seed[model][seed] = train_model(dataset, runs / model, weight, seed, args)
        first_runs, first_dataset = first_runs or runs, first_dataset or dataset
    results = aggregate(per_seed)
    (output / "results.json").write_text(json.dumps(results, indent=2))
    predictions = classify_with_pipeline(first_runs / "luab", first_dataset)
    for p in predictions:
        print(f"pipeline: {p['image_id']}: true {p['true']!r}, predicted {p['predicted']!r}")
    figures = _figures(output, results, first_runs, first_dataset, args)
    seconds = time.perf_counter() - start
    write_report(output, results, figures, predictions, args, seeds, seconds)
    print_table(results)
    print(f"\nreport: {output / 'report.md'} (and report.html); results: {output / 'results.json'}; {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
