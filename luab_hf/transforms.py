"""Point-consistent image transforms on torchvision v2.

Points travel as ``tv_tensors.KeyPoints`` through the same v2 geometric transforms as the image,
so any crop, resize or flip moves them exactly as it moves the pixels. Evaluation preprocessing
is the checkpoint's image processor itself (:mod:`luab_hf.processing`), with the points mapped
through its resize and centre crop. Points are never clamped or dropped: a point that leaves the
output image keeps its coordinates and is marked invalid, so a batch keeps a fixed shape and the
loss masks it.
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

from .processing import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, make_image_processor


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
        mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        std: Sequence[float] = IMAGENET_DEFAULT_STD,
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
        mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        std: Sequence[float] = IMAGENET_DEFAULT_STD,
    ) -> PointTransform:
        """The checkpoint's evaluation preprocessing (:func:`~luab_hf.processing.make_image_processor`):
        resize the short side to ``size / crop_pct``, centre-crop ``size``, normalise."""
        return cls.from_image_processor(make_image_processor(size, crop_pct, mean, std), train=False)

    @classmethod
    def from_image_processor(cls, processor: Any, train: bool, **kwargs: Any) -> PointTransform:
        """Match a checkpoint's ``AutoImageProcessor``. For evaluation the processor itself makes
        the pixels (the same ones ``pipeline`` feeds the model); for training, a random resized
        crop to its crop size, with its mean/std."""
        if not train:
            return _ProcessorTransform(processor)
        mean = getattr(processor, "image_mean", None) or IMAGENET_DEFAULT_MEAN
        std = getattr(processor, "image_std", None) or IMAGENET_DEFAULT_STD
        size = _side(getattr(processor, "crop_size", None)) if getattr(processor, "do_center_crop", False) else None
        size = size or _side(getattr(processor, "size", None)) or 224
        return cls.for_training(size=size, mean=mean, std=std, **kwargs)

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


class _ProcessorTransform(PointTransform):
    """Evaluation through a transformers image processor: its pixels, and the points mapped through
    its resize and centre crop (continuous coordinates scale with the resize and shift with the
    crop, so a point stays on its pixel)."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def _geometry(self, height: int, width: int) -> tuple[float, float, float, float, int, int]:
        """Resized size and crop box ``(new_h, new_w, top, left, crop_h, crop_w)`` for an input size."""
        from transformers.image_transforms import get_resize_output_image_size
        from transformers.image_utils import ChannelDimension

        processor, new_h, new_w = self.processor, height, width
        size = dict(processor.size or {}) if getattr(processor, "do_resize", False) else {}
        if size.get("shortest_edge"):
            shape = np.broadcast_to(np.zeros((), np.uint8), (3, height, width))
            new_h, new_w = get_resize_output_image_size(shape, size["shortest_edge"], default_to_square=False,
                                                        input_data_format=ChannelDimension.FIRST)
        elif size.get("height") and size.get("width"):
            new_h, new_w = size["height"], size["width"]
        elif size:
            raise ValueError(f"image processor size {size}: only shortest_edge or height/width resizes are supported")
        crop_h, crop_w, top, left = new_h, new_w, 0, 0
        if getattr(processor, "do_center_crop", False) and processor.crop_size:
            crop_h, crop_w = processor.crop_size["height"], processor.crop_size["width"]
            # as transformers crops (and pads, when the crop is larger than the image)
            top = int((new_h - crop_h) / 2.0) if new_h >= crop_h else -((crop_h - new_h) // 2)
            left = int((new_w - crop_w) / 2.0) if new_w >= crop_w else -((crop_w - new_w) // 2)
        return new_h, new_w, top, left, crop_h, crop_w

    def __call__(self, image: Image.Image, points: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        image = image if image.mode == "RGB" else image.convert("RGB")
        pixels = self.processor(images=image, return_tensors="pt")["pixel_values"][0]
        new_h, new_w, top, left, crop_h, crop_w = self._geometry(image.height, image.width)
        xy = np.empty((0, 2), np.float32) if points is None else np.asarray(points, dtype=np.float64).reshape(-1, 2)
        moved = (xy * np.array([new_w, new_h]) - np.array([left, top])) / np.array([crop_w, crop_h])
        valid = ((moved >= 0) & (moved <= 1)).all(-1)
        return {"pixel_values": pixels, "points": torch.from_numpy(moved.astype(np.float32)),
                "points_valid": torch.from_numpy(valid)}
