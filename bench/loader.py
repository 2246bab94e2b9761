"""Loader throughput: the byproduct-aware training input path vs a plain classification loader.

Ours: decode, point-consistent RandomResizedCrop + flip (points as KeyPoints), collate with
points and masks (``LuabBatchTransform`` + ``collate_byproducts``). Plain: decode,
RandomResizedCrop + flip, collate images and labels. Same images, same workers, interleaved.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from tempfile import TemporaryDirectory

import _util
import torch
from datasets import load_dataset
from torch.utils.data import DataLoader, default_collate
from torchvision.transforms import v2

from luab_hf.convert import imagenet_ab, synthetic
from luab_hf.data import LuabBatchTransform, collate_byproducts
from luab_hf.processing import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from luab_hf.transforms import PointTransform


def plain_transform(size: int):
    steps = v2.Compose([v2.PILToTensor(), v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip(),
                        v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(IMAGENET_DEFAULT_MEAN), list(IMAGENET_DEFAULT_STD))])

    def transform(batch: dict) -> dict:
        return {"pixel_values": [steps(image.convert("RGB")) for image in batch["image"]], "labels": batch["label"]}
    return transform


def throughput(loader: DataLoader) -> callable:
    def run() -> None:
        for _ in loader:
            pass
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    classes, per_class, image_size, crop, repeats = (4, 16, 96, 64, 3) if args.quick else (10, 64, 256, 224, 5)
    with TemporaryDirectory() as tmp:
        raw = synthetic.write_imagenet_ab(Path(tmp) / "raw", classes, per_class, seed=0,
                                          style=synthetic.Style(image_size=image_size))
        out = Path(tmp) / "bench_loader_dataset"
        assert imagenet_ab.main(["--xml", str(raw), "--images", str(raw), "--label-set", "present",
                                 "--output", str(out), "--num-workers", "2"]) == 0
        ours_ds = load_dataset(str(out), split="train")
        plain_ds = load_dataset(str(out), split="train")
        ours_ds.set_transform(LuabBatchTransform(PointTransform.for_training(crop), seed=0))
        plain_ds.set_transform(plain_transform(crop))
        common = {"batch_size": 32, "shuffle": True, "num_workers": args.workers,
                  "persistent_workers": args.workers > 0}
        loaders = {"ours": DataLoader(ours_ds, collate_fn=collate_byproducts, **common),
                   "plain": DataLoader(plain_ds, collate_fn=default_collate, **common)}
        times = _util.interleaved_medians({name: throughput(loader) for name, loader in loaders.items()}, repeats)
        samples = len(ours_ds)
    ours, plain = samples / times["ours"], samples / times["plain"]
    print(f"ours {ours:,.0f} samples/s, plain {plain:,.0f} samples/s ({args.workers} workers)", flush=True)
    _util.report({"samples_per_second": round(ours, 1), "plain_samples_per_second": round(plain, 1),
                  "ratio": round(ours / plain, 4), "workers": args.workers})


if __name__ == "__main__":
    main()
