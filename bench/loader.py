"""Loader throughput: the byproduct-aware training input path vs the same path without byproducts.

Ours: ``LuabBatchTransform`` over ``PointTransform.for_training`` (decode, random resized crop +
flip with the click points mapped, targets and masks) + ``collate_byproducts``, on JPEGs of
ImageNet's typical size. The
baseline is the same code path with no points: the same rows decoded, the same transform and
per-example seeding, images and labels only, ``default_collate``. Rounds are interleaved; the
ratio is of the medians (the min is reported too). Both are measured with float output
(normalised in the workers) and with uint8 output (normalised later, batched, as the trainer does
on the accelerator).
"""

from __future__ import annotations

import argparse
import statistics
import zlib
from pathlib import Path
from tempfile import TemporaryDirectory

import _util
import torch
from datasets import load_dataset
from torch.utils.data import DataLoader, default_collate

from luab_hf import synthetic
from luab_hf.convert import imagenet_ab
from luab_hf.data import LuabBatchTransform, collate_byproducts
from luab_hf.transforms import PointTransform


def plain_transform(transform: PointTransform, seed: int):
    """The baseline: LuabBatchTransform's per-example work minus everything about byproducts."""

    def apply(batch: dict) -> dict:
        pixels = []
        for image, image_id in zip(batch["image"], batch["image_id"]):
            generator = torch.Generator().manual_seed(zlib.crc32(f"{seed}:0:{image_id}".encode()))
            pixels.append(transform(image, None, generator=generator)["pixel_values"])
        return {"pixel_values": pixels, "labels": batch["label"]}
    return apply


def drain(loader: DataLoader) -> callable:
    def run() -> None:
        for _ in loader:
            pass
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    # full size: JPEGs of ImageNet's typical size (about 400 x 350), cropped to 224 as in training
    classes, per_class, image_size, crop, repeats = (4, 16, 96, 64, 3) if args.quick else (10, 64, 384, 224, 7)
    with TemporaryDirectory() as tmp:
        raw = synthetic.write_imagenet_ab(Path(tmp) / "raw", classes, per_class, seed=0,
                                          style=synthetic.Style(image_size=image_size))
        out = Path(tmp) / "bench_loader_dataset"
        assert imagenet_ab.main(["--xml", str(raw), "--images", str(raw), "--label-set", "present",
                                 "--output", str(out), "--num-workers", "2"]) == 0
        common = {"batch_size": 32, "shuffle": True, "num_workers": args.workers,
                  "persistent_workers": args.workers > 0}
        loaders = {}
        for output in ("float", "uint8"):
            transform = PointTransform.for_training(crop, normalize=output == "float")
            ours_ds, plain_ds = load_dataset(str(out), split="train"), load_dataset(str(out), split="train")
            ours_ds.set_transform(LuabBatchTransform(transform, seed=0))
            plain_ds.set_transform(plain_transform(transform, seed=0))
            loaders[f"ours_{output}"] = DataLoader(ours_ds, collate_fn=collate_byproducts, **common)
            loaders[f"plain_{output}"] = DataLoader(plain_ds, collate_fn=default_collate, **common)
        times = _util.interleaved_times({name: drain(loader) for name, loader in loaders.items()}, repeats)
        samples = len(ours_ds)
    rate = {name: samples / statistics.median(values) for name, values in times.items()}
    best = {name: samples / min(values) for name, values in times.items()}
    spread = {name: round((max(values) - min(values)) / statistics.median(values), 3) for name, values in times.items()}
    for name in loaders:
        print(f"{name}: median {rate[name]:,.0f} samples/s, best {best[name]:,.0f} (spread {spread[name]:.1%})", flush=True)
    _util.report({"samples_per_second": round(rate["ours_float"], 1),
                  "plain_samples_per_second": round(rate["plain_float"], 1),
                  "uint8_samples_per_second": round(rate["ours_uint8"], 1),
                  "plain_uint8_samples_per_second": round(rate["plain_uint8"], 1),
                  "ratio": round(rate["ours_float"] / rate["plain_float"], 4),
                  "ratio_best": round(best["ours_float"] / best["plain_float"], 4),
                  "uint8_ratio": round(rate["ours_uint8"] / rate["plain_uint8"], 4),
                  "spread": spread, "workers": args.workers, "rounds": repeats})


if __name__ == "__main__":
    main()
