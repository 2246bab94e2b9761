"""Run every benchmark, then rewrite ``bench/results.json`` and the table in ``BENCHMARKS.md``.

    python bench/run_all.py            # the real sizes (a few minutes on 2 cores)
    python bench/run_all.py --quick    # tiny sizes: checks the scripts run, figures meaningless
    python bench/run_all.py --only loader   # rerun one script; the others' figures stay those of their last run
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import _util

BENCH = Path(__file__).resolve().parent
SCRIPTS = ("train_step", "loader", "ingest", "coco_memory", "demo_time")


def run(script: str, quick: bool) -> dict:
    command = [sys.executable, str(BENCH / f"{script}.py"), *(["--quick"] if quick else [])]
    print(f"== {script}", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, cwd=_util.REPO)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        raise SystemExit(f"{script} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _versions() -> str:
    import datasets
    import pyarrow
    import torch
    import transformers

    return (f"Python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
            f"datasets {datasets.__version__}, pyarrow {pyarrow.__version__}")


def table(figures: dict) -> list[str]:
    f = figures
    rows = [
        ("Train step, LUAB / plain classifier (worst of ViT-S/16, ResNet-50; 224 px, batch 8, CPU)",
         f"{f['train_step_ratio']:.3f}x (ViT {f['train_step']['vit_ratio']:.3f}x, ResNet {f['train_step']['resnet_ratio']:.3f}x)",
         "≤ 1.01x", f["train_step_ratio"] <= 1.01),
        ("Loader throughput, byproduct-aware / the same path without points (float output; median of interleaved rounds)",
         f"{f['loader_ratio']:.3f}x ({f['loader']['samples_per_second']:.0f} vs {f['loader']['plain_samples_per_second']:.0f} "
         f"samples/s; best rounds {f['loader']['ratio_best']:.3f}x)",
         "≥ 0.99x", f["loader_ratio"] >= 0.99),
        ("Loader throughput with uint8 output (normalised later, batched, on the device)",
         f"{f['loader']['uint8_ratio']:.3f}x ({f['loader']['uint8_samples_per_second']:.0f} vs "
         f"{f['loader']['plain_uint8_samples_per_second']:.0f} samples/s; whole input path "
         f"{f['loader']['uint8_samples_per_second'] / f['loader']['samples_per_second']:.2f}x the float one)",
         "≥ 0.99x", f["loader"]["uint8_ratio"] >= 0.99),
        ("Training input pipeline / transformers' image-classification example (ours uint8 out, as `luab-train` "
         "runs it; the same JPEGs, workers and batch)",
         f"{f['loader']['loader_vs_hf_example']:.2f}x ({f['loader']['uint8_samples_per_second']:.0f} vs "
         f"{f['loader']['hf_example_samples_per_second']:.0f} samples/s; float out "
         f"{f['loader']['float_vs_hf_example']:.2f}x)", "≥ 2.0x", f["loader"]["loader_vs_hf_example"] >= 2.0),
        ("Training input pipeline / the JPEG-decode limit (`decode_jpeg` of the same bytes, nothing else)",
         f"{f['loader']['loader_vs_decode_limit']:.2f}x ({f['loader']['uint8_samples_per_second']:.0f} vs "
         f"{f['loader']['decode_limit_samples_per_second']:.0f} samples/s)", "≥ 0.5x",
         f["loader"]["loader_vs_decode_limit"] >= 0.5),
        ("Training input pipeline / timm's `create_loader` on `hfds/` (colour jitter off)",
         f"{f['loader']['loader_vs_timm']:.2f}x ({f['loader']['timm_samples_per_second']:.0f} samples/s)",
         "(reference)", None),
        ("ImageNet-AB ingest from the `.tar.gz`, whole conversion (2 cores) / published loader's parse (1 core)",
         f"{f['ingest_tar_ratio']:.2f}x ({f['ingest']['tar_records_per_second']:,} vs "
         f"{f['ingest']['published_records_per_second']:,} records/s; spread {f['ingest']['spread']['tar']:.2f})",
         "≥ 1.0x", f["ingest_tar_ratio"] >= 1.0),
        ("ImageNet-AB ingest from a folder, the same",
         f"{f['ingest_ratio']:.2f}x ({f['ingest']['records_per_second']:,} records/s; spread "
         f"{f['ingest']['spread']['folder']:.2f})", "(reference)", None),
        (f"Full release from the `.tar.gz` (1,281,167 XML files, 2 cores): one run at "
         f"{f['ingest']['release_size_records']:,} files / 12.8x the {f['ingest']['records']:,}-file run",
         f"{f['full_release_linearity']:.3f}x ({f['ingest']['release_size_seconds']:.0f} s at "
         f"{f['ingest']['release_size_records']:,} files; the {f['ingest']['records']:,}-file rate says "
         f"{f['ingest']['linear_projection_seconds']:.0f} s)", "≤ 1.15x", f["full_release_linearity"] <= 1.15),
        (f"Joining images, `--images` conversion vs `shutil.copytree` of the same "
         f"{f['ingest']['images_large']:,} JPEGs (page cache): copy time / conversion time",
         f"{f['ingest_images_copy_ratio']:.2f}x ({f['ingest']['images_convert_seconds']:.1f} s vs "
         f"{f['ingest']['images_copy_seconds']:.1f} s)", "≥ 0.7x", f["ingest_images_copy_ratio"] >= 0.7),
        (f"Ingest peak memory from the `.tar.gz`, {f['ingest']['records_large']:,} vs {f['ingest']['records_small']:,} "
         "records: summed RSS (summed PSS)",
         f"{f['ingest_rss_growth']:.3f}x ({f['ingest']['rss_mib_small']:.0f} → {f['ingest_rss_mib']:.0f} MiB; PSS "
         f"{f['ingest']['pss_mib_small']:.0f} → {f['ingest']['pss_mib_large']:.0f} MiB)",
         "≤ 1.2x and < 1 GiB", f["ingest_rss_growth"] <= 1.2 and f["ingest_rss_mib"] < 1024),
        (f"Ingest peak memory at the full release's size ({f['ingest']['release_size_records']:,} records from the "
         "`.tar.gz`): summed RSS", f"{f['ingest_release_rss_mib']:.0f} MiB", "< 1 GiB", f["ingest_release_rss_mib"] < 1024),
        (f"Ingest peak memory with `--images`, {f['ingest']['images_large']:,} vs {f['ingest']['images_small']:,} images "
         f"(~{f['ingest']['jpeg_kb']:.0f} KB JPEGs): summed RSS (summed PSS)",
         f"{f['ingest_images_rss_growth']:.3f}x ({f['ingest']['images_rss_mib_small']:.0f} → "
         f"{f['ingest_images_rss_mib']:.0f} MiB; PSS {f['ingest']['images_pss_mib_small']:.0f} → "
         f"{f['ingest']['images_pss_mib_large']:.0f} MiB)", "≤ 1.2x and ≤ 1024 MiB",
         f["ingest_images_rss_growth"] <= 1.2 and f["ingest_images_rss_mib"] <= 1024),
        (f"COCO-AB conversion peak memory ({f['coco']['file_mib']:.0f} MiB JSON): summed PSS (summed RSS)",
         f"{f['coco_pss_mib']:.0f} MiB (RSS {f['coco_rss_mib']:.0f} MiB)", "≤ 512 MiB",
         f["coco_pss_mib"] <= 512),
        ("Plain `json.load` of the same file", f"{f['json_load_rss_mib']:.0f} MiB", "(reference)", None),
        ("Demo main job, wall time", f"{f['demo_seconds']:.0f} s", "≤ 300 s", f["demo_seconds"] <= 300),
    ]
    lines = ["| measure | figure | goal | met |", "|---|---|---|---|"]
    lines += [f"| {m} | {v} | {g} | {'' if ok is None else ('yes' if ok else '**no**')} |" for m, v, g, ok in rows]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave the files alone")
    parser.add_argument("--only", help="comma-separated scripts to rerun; the others' figures come from "
                                       "bench/results.json, with the date they were measured")
    args = parser.parse_args()
    rerun = SCRIPTS if not args.only else tuple(args.only.split(","))
    previous = json.loads((BENCH / "results.json").read_text()) if args.only else {}
    if args.only and "date" not in previous:  # written before figures carried their date: the table's
        found = re.search(r"Measured (\d{4}-\d\d-\d\d)", (_util.REPO / "BENCHMARKS.md").read_text())
        previous["date"] = found.group(1) if found else "earlier"
    today = datetime.date.today().isoformat()
    measured = {script: today if script in rerun else previous.get("measured", {}).get(script, previous["date"])
                for script in SCRIPTS}
    results = {}
    for script in SCRIPTS:
        if script in rerun:
            results[script] = run(script, args.quick)
        elif script == "demo_time":  # its one figure is kept at the top level
            results[script] = {"demo_seconds": previous["demo_seconds"]}
        else:
            results[script] = previous["coco" if script == "coco_memory" else script]
    figures = {
        "train_step_ratio": results["train_step"]["ratio"],
        "loader_ratio": results["loader"]["ratio"],
        "ingest_tar_ratio": results["ingest"]["tar_ratio"],
        "ingest_ratio": results["ingest"]["ratio"],
        "full_release_linearity": results["ingest"]["full_release_linearity"],
        "ingest_images_copy_ratio": results["ingest"]["images_copy_ratio"],
        "ingest_rss_growth": results["ingest"]["rss_growth"],
        "ingest_rss_mib": results["ingest"]["rss_mib_large"],
        "ingest_release_rss_mib": results["ingest"]["release_size_rss_mib"],
        "ingest_images_rss_growth": results["ingest"]["images_rss_growth"],
        "ingest_images_rss_mib": results["ingest"]["images_rss_mib_large"],
        "coco_rss_mib": results["coco_memory"]["coco_rss_mib"],
        "coco_pss_mib": results["coco_memory"]["coco_pss_mib"],
        "json_load_rss_mib": results["coco_memory"]["json_load_rss_mib"],
        "demo_seconds": results["demo_time"]["demo_seconds"],
        "train_step": results["train_step"], "loader": results["loader"], "ingest": results["ingest"],
        "coco": results["coco_memory"], "quick": args.quick, "date": today,
        "measured": measured,
    }
    print(json.dumps({k: v for k, v in figures.items() if not isinstance(v, dict)}, indent=2))
    if args.no_write:
        return
    (BENCH / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    dates = ", ".join(f"{script} {day}" for script, day in figures["measured"].items())
    header = [
        f"Measured ({dates}) on {platform.machine()} with {os.cpu_count()} cores "
        f"({platform.platform()}); {_versions()}.",
        f"Command: `{'make bench' if not args.quick else 'python bench/run_all.py --quick'}`. Ratios compare two "
        "things measured in the same run on the same machine.", "",
    ]
    path = _util.REPO / "BENCHMARKS.md"
    text = path.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    before, rest = text.split(start)
    _, after = rest.split(end)
    path.write_text(f"{before}{start}\n" + "\n".join(header + table(figures)) + f"\n{end}{after}")
    print(f"wrote {path} and {BENCH / 'results.json'}")


if __name__ == "__main__":
    main()
