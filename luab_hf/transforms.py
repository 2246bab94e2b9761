"""Point-consistent image transforms on torchvision v2.

Points travel as ``tv_tensors.KeyPoints`` through the same v2 geometric transforms as the image,
so any crop, resize or flip moves them exactly as it moves the pixels. Points are never clamped or
dropped: a point that leaves the output image keeps its coordinates and is marked invalid, so a
batch keeps a fixed shape and the loss masks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PointTransform:
    """Image + points in, ``pixel_values``, ``points`` and ``points_valid`` out.

    Points are ``(x, y)`` normalised to [0, 1] of the image, taken at pixel centres: ``x = 0``
    is the left edge of the first pixel column. NaN marks an absent point; it stays NaN and
    invalid. Build one with :meth:`for_training`, :meth:`for_eval` or
    :meth:`from_image_processor`.
    """

    def __init__(self, geometry: v2.Transform, mean: Sequence[float], std: Sequence[float]) -> None:
        self.geometry = geometry
        self.normalize = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))])

    @classmethod
    def for_training(
        cls,
        size: int = 224,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        hflip: float = 0.5,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> PointTransform:
        """RandomResizedCrop + horizontal flip, as in the LUAB paper and most ImageNet recipes."""
        steps: list[v2.Transform] = [v2.RandomResizedCrop(size, scale=scale, ratio=ratio, antialias=True)]
        if hflip > 0:
            steps.append(v2.RandomHorizontalFlip(hflip))
        return cls(v2.Compose(steps), mean, std)

    @classmethod
    def for_eval(
        cls,
        size: int = 224,
        crop_pct: float = 0.875,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> PointTransform:
        """Resize the short side to ``size / crop_pct``, then centre-crop ``size``."""
        return cls(v2.Compose([v2.Resize(int(round(size / crop_pct)), antialias=True), v2.CenterCrop(size)]), mean, std)

    @classmethod
    def from_image_processor(cls, processor: Any, train: bool, **kwargs: Any) -> PointTransform:
        """Match a checkpoint's ``AutoImageProcessor``: its crop size, resize and mean/std."""
        mean = getattr(processor, "image_mean", None) or IMAGENET_MEAN
        std = getattr(processor, "image_std", None) or IMAGENET_STD
        size = _side(getattr(processor, "crop_size", None)) if getattr(processor, "do_center_crop", False) else None
        size = size or _side(getattr(processor, "size", None)) or 224
        if train:
            return cls.for_training(size=size, mean=mean, std=std, **kwargs)
        resize = _side(getattr(processor, "size", None)) or size
        crop_pct = min(1.0, size / resize) if getattr(processor, "do_center_crop", False) else 1.0
        return cls.for_eval(size=size, crop_pct=crop_pct, mean=mean, std=std, **kwargs)

    def __call__(self, image: Image.Image, points: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Transform ``image`` (any PIL mode) and ``points`` (``FloatTensor[N, 2]``) together."""
        # a plain tensor is v2's image; the tv_tensors.Image wrapper only adds dispatch cost here
        pixels = TF.pil_to_tensor(image if image.mode == "RGB" else image.convert("RGB"))
        height, width = pixels.shape[-2:]
        # The few points are done in numpy (torch's per-op overhead dominates at this size).
        # normalised -> pixel-centre coordinates, the convention torchvision's flip uses
        xy = np.empty((0, 2), np.float32) if points is None else np.asarray(points, dtype=np.float32).reshape(-1, 2)
        keypoints = tv_tensors.KeyPoints(torch.from_numpy(xy * np.float32([width, height]) - 0.5),
                                         canvas_size=(height, width))
        pixels, keypoints = self.geometry(pixels, keypoints)
        out_height, out_width = pixels.shape[-2:]
        moved = (keypoints.as_subclass(torch.Tensor).numpy() + 0.5) / np.float32([out_width, out_height])
        valid = ((moved >= 0) & (moved <= 1)).all(-1)  # NaN compares false: absent stays invalid
        return {"pixel_values": self.normalize(pixels), "points": torch.from_numpy(moved.astype(np.float32)),
                "points_valid": torch.from_numpy(valid)}


def _side(size: Any) -> int | None:
    """One side length from an image processor's ``size``/``crop_size`` (int or dict)."""
    if size is None:
        return None
    if isinstance(size, int):
        return size
    size = dict(size)
    for key in ("shortest_edge", "height", "width"):
        if size.get(key):
            return int(size[key])
    return None
