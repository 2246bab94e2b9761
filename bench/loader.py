"""Training input pipelines on one converted dataset: ours, the peers, and the JPEG-decode limit.

All read the same JPEGs (ImageNet-like 384 px photos of the synthetic benchmark, converted by
``luab-convert``) with the same workers and batch size, random-resized-crop to 224 + flip:

- **decode limit**: ``torchvision.io.decode_jpeg`` of the stored bytes and nothing else (no
  augmentation, no collation, no pixels shipped back): what a loader of full-size decodes cannot beat;
- **ours** (``uint8``, as ``luab-train`` runs it, normalised later on the device; and ``float``):
  ``LuabBatchTransform`` over ``PointTransform.for_training`` from the stored bytes
  (:func:`luab_hf.data.with_stored_images`) of the columns the click target reads, click points
  mapped, ``collate_byproducts``;
- **plain**: the same path without points (images and labels only): what the byproducts cost;
- **HF example**: transformers' ``run_image_classification.py`` pipeline (``RandomResizedCrop``,
  ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize`` through ``set_transform``);
- **timm**: ``create_dataset("hfds/...")`` + ``create_loader`` (colour jitter off, no prefetcher).

Rounds are interleaved; ratios are of the medians, with each loader's spread.
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
from torchvision import transforms as tv1
from torchvision.io import ImageReadMode, decode_jpeg

from luab_hf import synthetic
from luab_hf.convert import imagenet_ab
from luab_hf.data import LuabBatchTransform, collate_byproducts, with_stored_images
from luab_hf.processing import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from luab_hf.schema import TASKS
from luab_hf.transforms import PointTransform

BATCH = 32


def plain_transform(transform: PointTransform, seed: int):
    """The baseline: LuabBatchTransform's per-example work minus everything about byproducts."""

    def apply(batch: dict) -> dict:
        pixels = []
        for image, image_id in zip(batch["image"], batch["image_id"]):
            generator = torch.Generator().manual_seed(zlib.crc32(f"{seed}:0:{image_id}".encode()))
            pixels.append(transform(image, None, generator=generator)["pixel_values"])
        return {"pixel_values": pixels, "labels": batch["label"]}
    return apply


def decode_only(batch: dict) -> dict:
    """The decode limit's work: each stored JPEG decoded to an RGB tensor, nothing more; only its
    shape leaves the worker (shipping full-size pixels would measure the pipe, not the decoder)."""
    return {"shape": [torch.tensor(decode_jpeg(torch.frombuffer(bytearray(image["bytes"]), dtype=torch.uint8),
                                               mode=ImageReadMode.RGB).shape) for image in batch["image"]]}


def hf_example_transform(crop: int):
    """``run_image_classification.py``'s training transforms, applied as it applies them."""
    steps = tv1.Compose([tv1.RandomResizedCrop(crop), tv1.RandomHorizontalFlip(), tv1.ToTensor(),
                         tv1.Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)])

    def apply(batch: dict) -> dict:
        batch["pixel_values"] = [steps(image.convert("RGB")) for image in batch["image"]]
        return batch
    return apply


def hf_example_collate(examples: list[dict]) -> dict:
    return {"pixel_values": torch.stack([e["pixel_values"] for e in examples]),
            "labels": torch.tensor([e["label"] for e in examples])}


def drain(loader: DataLoader) -> callable:
    def run() -> None:
        for _ in loader:
            pass
    return run


def loaders(folder: Path, crop: int, workers: int) -> dict[str, DataLoader]:
    from timm.data import create_dataset, create_loader

    common = {"batch_size": BATCH, "shuffle": True, "num_workers": workers, "persistent_workers": workers > 0}
    made = {}
    stored = with_stored_images(load_dataset(str(folder), split="train"))
    stored.set_transform(decode_only)
    made["decode_limit"] = DataLoader(stored, collate_fn=lambda examples: examples, **common)
    columns = [*TASKS["imagenet-ab"].required_columns(["click"]), "image_id"]  # what luab-train reads
    for output in ("uint8", "float"):
        transform = PointTransform.for_training(crop, normalize=output == "float")
        ours = with_stored_images(load_dataset(str(folder), split="train").select_columns(columns))
        ours.set_transform(LuabBatchTransform(transform, seed=0))
        made[f"ours_{output}"] = DataLoader(ours, collate_fn=collate_byproducts, **common)
        plain = with_stored_images(load_dataset(str(folder), split="train").select_columns(columns))
        plain.set_transform(plain_transform(transform, seed=0))
        made[f"plain_{output}"] = DataLoader(plain, collate_fn=default_collate, **common)
    example = load_dataset(str(folder), split="train")
    example.set_transform(hf_example_transform(crop))
    made["hf_example"] = DataLoader(example, collate_fn=hf_example_collate, **common)
    timm_dataset = create_dataset(f"hfds/{folder}", split="train", is_training=True)
    made["timm"] = create_loader(timm_dataset, input_size=(3, crop, crop), batch_size=BATCH, is_training=True,
                                 color_jitter=0.0, num_workers=workers, use_prefetcher=False, device=torch.device("cpu"),
                                 persistent_workers=workers > 0)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    classes, per_class, image_size, crop, repeats = (4, 16, 96, 64, 2) if args.quick else (10, 300, 384, 224, 5)
    with TemporaryDirectory() as tmp:
        raw = synthetic.write_imagenet_ab(Path(tmp) / "raw", classes, per_class, seed=0,
                                          style=synthetic.Style(image_size=image_size))
        out = Path(tmp) / "bench_loader_dataset"
        assert imagenet_ab.main(["--xml", str(raw), "--images", str(raw), "--label-set", "present",
                                 "--output", str(out), "--num-workers", "2"]) == 0
        made = loaders(out, crop, args.workers)
        times = _util.interleaved_times({name: drain(loader) for name, loader in made.items()}, repeats)
        samples = classes * per_class
    rate = {name: samples / statistics.median(values) for name, values in times.items()}
    best = {name: samples / min(values) for name, values in times.items()}
    spread = {name: round((max(values) - min(values)) / statistics.median(values), 3) for name, values in times.items()}
    for name in made:
        print(f"{name}: median {rate[name]:,.0f} samples/s, best {best[name]:,.0f} (spread {spread[name]:.1%})", flush=True)
    _util.report({
        "samples_per_second": round(rate["ours_float"], 1), "plain_samples_per_second": round(rate["plain_float"], 1),
        "uint8_samples_per_second": round(rate["ours_uint8"], 1),
        "plain_uint8_samples_per_second": round(rate["plain_uint8"], 1),
        "decode_limit_samples_per_second": round(rate["decode_limit"], 1),
        "hf_example_samples_per_second": round(rate["hf_example"], 1),
        "timm_samples_per_second": round(rate["timm"], 1),
        "ratio": round(rate["ours_float"] / rate["plain_float"], 4),
        "ratio_best": round(best["ours_float"] / best["plain_float"], 4),
        "uint8_ratio": round(rate["ours_uint8"] / rate["plain_uint8"], 4),
        "loader_vs_hf_example": round(rate["ours_uint8"] / rate["hf_example"], 4),
        "loader_vs_decode_limit": round(rate["ours_uint8"] / rate["decode_limit"], 4),
        "loader_vs_timm": round(rate["ours_uint8"] / rate["timm"], 4),
        "float_vs_hf_example": round(rate["ours_float"] / rate["hf_example"], 4),
        "spread": spread, "workers": args.workers, "rounds": repeats, "samples": samples, "image_side": image_size,
        "crop": crop})


if __name__ == "__main__":
    main()
