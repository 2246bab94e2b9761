"""The demo: what annotation byproducts buy on two shortcut benchmarks, through every real part.

    python training/demo.py --output demo_output [--seeds 0,1,2]

For each benchmark (``--cue patch``: a small patch of the class colour somewhere in the
background; ``--cue background``: the whole background colour) and each seed, it

1. writes a synthetic ImageNet-AB release with the generator (the cue matches the class in
   ``--cue-strength`` of train/validation images and is random in ``validation_shifted``);
2. converts it with the real converter into a Hub-layout dataset folder;
3. trains with ``accelerate launch training/train.py``, identically except for the loss:
   ``baseline`` (cross-entropy), ``luab`` (+ the paper's click regression) and ``attention``
   (+ the byproduct-guided attention loss: no class evidence far from the clicks);
4. evaluates each in distribution (``validation``) and under the shift (``validation_shifted``);
5. loads the attention model back with ``pipeline("image-classification")``;
6. writes ``results.json``, ``report.md`` / ``report.html`` and figures under ``--output``.

The demo reports what it measures; it asserts nothing about the margins.
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

import markdown
import torch
from datasets import load_dataset

from luab_hf import synthetic
from luab_hf.convert import imagenet_ab
from luab_hf.synthetic.cli import add_click_arguments

REPO = Path(__file__).resolve().parent.parent
MODELS = ("baseline", "luab", "attention")
LABELS = {"baseline": "baseline", "luab": "LUAB (click regression)", "attention": "attention loss"}
BENCHMARKS = ("patch", "background")
SPLITS = ("validation", "validation_shifted")
TABLE_METRICS = ("validation/accuracy", "validation_shifted/accuracy", "train_holdout/point_error",
                 "train_holdout/attention_alignment")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("demo_output"))
    parser.add_argument("--seeds", default="0", help="comma-separated; each seed makes new data and new models")
    parser.add_argument("--cue", choices=(*BENCHMARKS, "both"), default="both", help="which benchmarks to run")
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--images-per-class", type=int, default=160)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--cue-strength", type=float, default=0.9)
    parser.add_argument("--patch-size", type=float, default=0.15, help="the patch cue's side, a fraction of the image")
    parser.add_argument("--object-scale", type=float, nargs=2, default=(0.35, 0.5), metavar=("MIN", "MAX"),
                        help="object diameter as a fraction of the image side")
    add_click_arguments(parser)  # how the simulated annotators click, passed to the generator
    parser.add_argument("--backbone", default="resnet-micro")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--warmup-steps", type=int, default=20)
    parser.add_argument("--byproduct-loss-weight", type=float, default=5.0, help="the luab model's lambda")
    parser.add_argument("--byproduct-loss", default="mse")
    parser.add_argument("--attention-loss-weight", type=float, default=1.0, help="the attention model's weight")
    parser.add_argument("--attention-radius", type=float, default=0.25)
    parser.add_argument("--processes", type=int, default=1, help="accelerate processes per training run")
    parser.add_argument("--quick", action="store_true", help="a tiny run for tests: 3 classes, few steps")
    return parser


def losses(model: str, args: argparse.Namespace) -> list[str]:
    """The only flags in which the three runs differ."""
    byproduct = args.byproduct_loss_weight if model == "luab" else 0.0
    attention = args.attention_loss_weight if model == "attention" else 0.0
    return ["--byproduct_loss_weight", str(byproduct), "--attention_loss_weight", str(attention)]


# --------------------------------------------------------------------------- pipeline steps


def make_dataset(output: Path, args: argparse.Namespace, cue: str, seed: int) -> Path:
    """Synthetic raw release -> the real converter -> a Hub-layout dataset folder."""
    raw = output / f"raw_{cue}_seed{seed}"
    shutil.rmtree(raw, ignore_errors=True)
    style = synthetic.Style(image_size=args.image_size, cue_strength=args.cue_strength,
                            object_scale=tuple(args.object_scale), cue=cue, patch_size=args.patch_size,
                            click_model=args.click_model, click_noise=args.click_noise, miss_rate=args.miss_rate)
    synthetic.write_imagenet_ab(raw, args.classes, args.images_per_class, seed,
                                val_per_class=max(2, args.images_per_class // 4), style=style)
    dataset = output / f"ImageNet-AB_{cue}_seed{seed}"
    code = imagenet_ab.main([
        "--xml", str(raw), "--images", str(raw), "--label-set", "present", "--overwrite",
        "--eval-split", f"validation={raw / 'val'}", "--eval-split", f"validation_shifted={raw / 'val_shifted'}",
        "--output", str(dataset)])
    if code:
        raise SystemExit(f"conversion failed with exit code {code}")
    shutil.rmtree(raw)
    return dataset


def train_model(dataset: Path, run_dir: Path, model: str, seed: int, args: argparse.Namespace) -> dict:
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
        "--num_train_epochs", str(args.epochs), "--logging_steps", "10", "--byproduct_loss", args.byproduct_loss,
        "--attention_radius", str(args.attention_radius), *losses(model, args),
    ]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-6000:])
        raise SystemExit(f"training {run_dir.name} failed with exit code {done.returncode}")
    return json.loads((run_dir / "all_results.json").read_text())


def aggregate(per_seed: dict[str, dict[int, dict]]) -> dict:
    """``{model: {metric: mean, metric + "_std": spread, "seeds": {...}}}`` for one benchmark."""
    results = {}
    for model, seeds in per_seed.items():
        summary: dict = {"seeds": seeds}
        keys = sorted({k for r in seeds.values() for k in r if "/" in k and not k.startswith("train/")})
        for key in keys:
            values = [r[key] for r in seeds.values() if key in r]
            summary[key] = statistics.fmean(values)
            if len(values) > 1:
                summary[f"{key}_std"] = statistics.stdev(values)
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


def _figures(output: Path, results: dict, first: dict[str, tuple[Path, Path]],
             args: argparse.Namespace) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    benchmarks = list(results)
    # 1. accuracy bars with spread, per benchmark and model
    fig, axes = plt.subplots(1, len(benchmarks), figsize=(5.2 * len(benchmarks), 3.4), squeeze=False)
    width = 0.26
    for ax, benchmark in zip(axes[0], benchmarks):
        for index, model in enumerate(MODELS):
            row = results[benchmark][model]
            means = [row.get(f"{s}/accuracy", float("nan")) for s in SPLITS]
            spread = [row.get(f"{s}/accuracy_std", 0.0) for s in SPLITS]
            ax.bar([i + (index - 1) * width for i in range(2)], means, width, yerr=spread, capsize=3,
                   label=LABELS[model])
        ax.set_xticks(range(2), ["in distribution", "shifted"])
        ax.set_ylim(0, 1)
        ax.set_ylabel("top-1 accuracy")
        ax.set_title(f"{benchmark} cue")
    axes[0][0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(output / "accuracy.png", dpi=120)
    plt.close(fig)
    figures.append(("Accuracy per benchmark and model (mean and spread over seeds)", "accuracy.png"))

    # 2. the loss terms during training (first seed)
    for benchmark, (runs, _) in first.items():
        curves = _curves(runs)
        if not curves:
            continue
        tags = ("train/classification_loss", "train/byproduct_loss", "train/attention_loss")
        fig, axes = plt.subplots(1, 3, figsize=(11, 3))
        for model, series in curves.items():
            for ax, tag in zip(axes, tags):
                if tag in series:
                    steps, values = zip(*series[tag])
                    ax.plot(steps, values, label=LABELS[model])
                    ax.set_title(tag.split("/")[1].replace("_", " "))
                    ax.set_xlabel("step")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(output / f"curves_{benchmark}.png", dpi=120)
        plt.close(fig)
        figures.append((f"Loss terms during training, {benchmark} benchmark (first seed)", f"curves_{benchmark}.png"))

    # 3. where each model finds class evidence
    for benchmark, (runs, dataset) in first.items():
        samples = _samples(runs, dataset, args.image_size)
        if samples is not None:
            samples.save(output / f"samples_{benchmark}.png")
            figures.append((f"Where the class evidence is, {benchmark} benchmark: held-out training images with the "
                            "annotators' click (red ring); then the class-contrast map (how much the cell's class "
                            "scores differ, i.e. what the softmax can use there) of " +
                            ", ".join(LABELS[m] for m in MODELS), f"samples_{benchmark}.png"))
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


def class_contrast(class_maps: torch.Tensor) -> torch.Tensor:
    """``[K, h, w]`` -> ``[h, w]``: the spread of each cell's class scores around their mean, the
    class evidence a cell offers the softmax (zero where all classes score alike)."""
    return (class_maps - class_maps.mean(0, keepdim=True)).pow(2).mean(0)


@torch.no_grad()
def _samples(runs: Path, dataset: Path, image_size: int, count: int = 5):
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
        shown = image.resize((image_size, image_size))
        clicks = out["points"].tolist()
        tiles.append(draw_byproducts(shown, clicks=clicks, scale=scale))
        for model in MODELS:
            maps = models[model](pixels, output_class_maps=True).class_maps[0]
            tiles.append(draw_byproducts(shown, clicks=clicks, heatmap=class_contrast(maps).numpy(), scale=scale))
    return image_grid(tiles, columns=1 + len(MODELS))


def write_report(output: Path, results: dict, figures: list[tuple[str, str]], predictions: list[dict],
                 args: argparse.Namespace, seeds: list[int], seconds: float) -> None:
    def cell(benchmark: str, model: str, key: str) -> str:
        row = results[benchmark][model]
        if key not in row:
            return "n/a"
        spread = f" ± {row[key + '_std']:.3f}" if key + "_std" in row else ""
        return f"{row[key]:.3f}{spread}"

    lines = [
        "# LUAB demo: two shortcut benchmarks, three losses",
        "",
        f"Synthetic ImageNet-AB: {args.classes} classes x {args.images_per_class} train images of {args.image_size} px; "
        "the class is a foreground shape. A shortcut cue matches the class in "
        f"{args.cue_strength:.0%} of `train`/`validation` images and is random in `validation_shifted`: "
        f"**patch** (a small saturated square, {args.patch_size:g} of the side, of the class colour somewhere in the "
        "background) or **background** (the whole background colour). The three models are the same "
        f"`{args.backbone}` trained for {args.epochs} epochs with identical settings and seeds; they differ only in "
        f"the loss: `baseline` (cross-entropy), `luab` (+ {args.byproduct_loss_weight:g} x a {args.byproduct_loss} "
        f"regression of the click, the paper's loss) and `attention` (+ {args.attention_loss_weight:g} x the "
        f"byproduct-guided attention loss, radius {args.attention_radius:g}).",
        "",
        f"Simulated annotators click with the `{args.click_model}` model (noise {args.click_noise:g} of the side); "
        f"{args.miss_rate:.0%} of the images are clicked off the object.",
        "",
        f"Seeds: {', '.join(map(str, seeds))} (mean{' ± standard deviation' if len(seeds) > 1 else ''}). "
        f"Wall time: {seconds:.0f} s.",
        "",
    ]
    for benchmark in results:
        lines += [f"## {benchmark} benchmark", "", "| metric | " + " | ".join(LABELS[m] for m in MODELS) + " |",
                  "|---|" + "---|" * len(MODELS)]
        lines += [f"| {key} | " + " | ".join(cell(benchmark, m, key) for m in MODELS) + " |" for key in TABLE_METRICS]
        lines.append("")
    lines += [
        "`point_error` (luab only) and `attention_alignment` are measured on `train_holdout` (10% of train, held "
        "out with its clicks); the evaluation splits have no clicks. `attention_alignment`: fraction of clicks "
        "within 0.15 of the peak of the true class's map.",
        "",
    ]
    for caption, name in figures:
        lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    if predictions:
        lines += ["## The attention model through `pipeline(\"image-classification\")`", "",
                  "| image | true | predicted |", "|---|---|---|"]
        lines += [f"| {p['image_id']} | {p['true']} | {p['predicted']} |" for p in predictions]
    text = "\n".join(lines) + "\n"
    (output / "report.md").write_text(text)
    for _, name in figures:  # the HTML report is one file: figures inline
        data = base64.b64encode((output / name).read_bytes()).decode()
        text = text.replace(f"({name})", f"(data:image/png;base64,{data})")
    body = markdown.markdown(text, extensions=["tables"])
    (output / "report.html").write_text(f"<!doctype html>\n<html><head><meta charset='utf-8'><title>LUAB demo</title>"
                                        f"<style>{REPORT_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


REPORT_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
                "table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:.2em .6em}"
                "td:not(:first-child){text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}")


def print_table(results: dict) -> None:
    for benchmark, models in results.items():
        print(f"\n{benchmark + ' benchmark':<36}" + "".join(f"{m:>12}" for m in MODELS))
        for key in TABLE_METRICS:
            print(f"{key:<36}" + "".join(f"{models[m].get(key, float('nan')):>12.3f}" for m in MODELS))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.classes, args.images_per_class, args.epochs, args.image_size, args.warmup_steps = 3, 12, 2, 32, 0
    seeds = [int(s) for s in args.seeds.split(",")]
    benchmarks = list(BENCHMARKS) if args.cue == "both" else [args.cue]
    output = args.output
    output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results: dict[str, dict] = {}
    first: dict[str, tuple[Path, Path]] = {}
    for benchmark in benchmarks:
        per_seed: dict[str, dict[int, dict]] = {m: {} for m in MODELS}
        for seed in seeds:
            print(f"[{benchmark} seed {seed}] generating and converting the synthetic release", flush=True)
            dataset = make_dataset(output, args, benchmark, seed)
            runs = output / "runs" / benchmark / f"seed{seed}"
            for model in MODELS:
                print(f"[{benchmark} seed {seed}] training {model}", flush=True)
                per_seed[model][seed] = train_model(dataset, runs / model, model, seed, args)
            first.setdefault(benchmark, (runs, dataset))
        results[benchmark] = aggregate(per_seed)
    settings = {key: value for key, value in vars(args).items() if key != "output"}
    (output / "results.json").write_text(json.dumps({"benchmarks": results, "settings": settings}, indent=2))
    runs, dataset = first[benchmarks[0]]
    predictions = classify_with_pipeline(runs / "attention", dataset)
    for p in predictions:
        print(f"pipeline: {p['image_id']}: true {p['true']!r}, predicted {p['predicted']!r}")
    figures = _figures(output, results, first, args)
    seconds = time.perf_counter() - start
    write_report(output, results, figures, predictions, args, seeds, seconds)
    print_table(results)
    print(f"\nreport: {output / 'report.md'} (and report.html); results: {output / 'results.json'}; {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
