"""Train-step overhead: LUAB vs the same backbone's plain transformers classifier.

Same batch, same inputs, forward + backward + optimizer step, random weights, CPU; the two run
interleaved and the median of each is compared. ``ratio`` is the worst backbone's LUAB/plain.
"""

from __future__ import annotations

import argparse

import _util
import torch
from transformers import (
    ResNetConfig,
    ResNetForImageClassification,
    ViTConfig,
    ViTForImageClassification,
)

from luab_hf import LuabConfig, LuabForImageClassification


def _step(model, batch, optimizer):
    def run() -> None:
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return run


def measure(name: str, backbone, plain_class, size: int, batch_size: int, repeats: int) -> float:
    torch.manual_seed(0)
    labels = torch.randint(0, 1000, (batch_size,))
    pixels = torch.randn(batch_size, 3, size, size)
    luab = LuabForImageClassification(LuabConfig(backbone_config=backbone, num_labels=1000))
    id2label = {i: str(i) for i in range(1000)}
    plain = plain_class(backbone.__class__.from_dict({**backbone.to_dict(), "id2label": id2label}))
    luab_batch = {"pixel_values": pixels, "labels": labels, "points": torch.rand(batch_size, 1, 2),
                  "points_valid": torch.rand(batch_size, 1) > 0.2}
    plain_batch = {"pixel_values": pixels, "labels": labels}
    times = _util.interleaved_medians({
        "luab": _step(luab, luab_batch, torch.optim.AdamW(luab.parameters(), lr=1e-4)),
        "plain": _step(plain, plain_batch, torch.optim.AdamW(plain.parameters(), lr=1e-4)),
    }, repeats=repeats)
    print(f"{name}: luab {times['luab'] * 1000:.1f} ms, plain {times['plain'] * 1000:.1f} ms", flush=True)
    return times["luab"] / times["plain"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        vit = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8)
        resnet = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
        size, repeats = 32, 3
    else:
        vit = ViTConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536)  # ViT-S/16
        resnet = ResNetConfig()  # ResNet-50
        size, repeats = 224, 7
    vit_ratio = measure("ViT-S/16" if not args.quick else "ViT (tiny)", vit, ViTForImageClassification, size, 8, repeats)
    resnet_ratio = measure("ResNet-50" if not args.quick else "ResNet (tiny)", resnet, ResNetForImageClassification, size, 8, repeats)
    _util.report({"vit_ratio": round(vit_ratio, 4), "resnet_ratio": round(resnet_ratio, 4),
                  "ratio": round(max(vit_ratio, resnet_ratio), 4)})


if __name__ == "__main__":
    main()
