"""Point-consistent image transforms: a click comes back on the pixel it was on.

**Coordinates.** Points are ``(x, y)`` in continuous image coordinates normalised to [0, 1]:
``(0, 0)`` is the top-left *corner* of the first pixel and ``(1, 1)`` the bottom-right corner of
the last, so pixel column ``i`` of a ``W``-wide image spans ``[i/W, (i+1)/W]`` and its centre is
``(i + 0.5) / W``. This is the releases' own convention (a click at ``x`` is at ``x * W`` pixels),
and the one the published loaders crop with: a crop box ``(left, top, w, h)`` maps ``x`` to
``(x * W - left) / w``, a horizontal flip maps ``x`` to ``1 - x``, and a resize leaves normalised
coordinates unchanged. A point is valid when it lies inside the output, borders included; it is
never clamped or dropped (NaN stays NaN and invalid), so a batch keeps a fixed shape and the loss
masks it.

**Pipelines.** The built-in ones are exact by construction: :meth:`PointTransform.for_training`
(random resized crop + flip) draws its parameters as torchvision's ``v2.RandomResizedCrop`` does,
runs v2's functional kernels on the image and maps the points with the same numbers in one
vectorised step; :meth:`PointTransform.for_eval` and :meth:`PointTransform.from_image_processor`
run the checkpoint's image processor and map the points through its resize and centre crop. Any
other v2 pipeline works too: the points then travel as ``tv_tensors.KeyPoints`` through
torchvision's keypoint kernels, in the same continuous coordinates, where crops, resizes and
affine maps are exact but v2's flips map ``x -> W - 1 - x``: a flipped point lands one pixel (of
the canvas at the flip) left of its pixel.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_jpeg
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from .processing import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, make_image_processor

__all__ = ["PointTransform", "decode_crops", "decode_image", "normalize_pixels", "sample_resized_crop"]

#: An image as a transform takes it: decoded, or as the dataset stores it (``{"bytes", "path"}``
#: from an ``Image(decode=False)`` column, or the encoded bytes alone).
ImageInput = Image.Image | dict | bytes


def _encoded(value: dict | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    if value.get("bytes") is not None:
        return value["bytes"]
    with open(value["path"], "rb") as handle:
        return handle.read()


def _orientation(image: Image.Image) -> int | None:
    return image.getexif().get(Image.ExifTags.Base.Orientation) if "exif" in image.info else None


def _shown(image: Image.Image) -> Image.Image:
    """An opened image decoded as ``datasets.Image`` decodes it: EXIF orientation applied."""
    image.load()
    return ImageOps.exif_transpose(image) if _orientation(image) is not None else image


def decode_image(value: ImageInput) -> Image.Image:
    """A stored image decoded exactly as ``datasets.Image`` decodes it; a PIL image is returned as
    it is."""
    return value if isinstance(value, Image.Image) else _shown(Image.open(io.BytesIO(_encoded(value))))


def normalize_pixels(pixel_values: torch.Tensor, mean: Sequence[float] | torch.Tensor,
                     std: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """uint8 ``[..., 3, H, W]`` -> normalised float32, batched (on the accelerator, in the trainer);
    float pixels are taken as already normalised and returned as they are."""
    if pixel_values.is_floating_point():
        return pixel_values
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=pixel_values.device).view(-1, 1, 1) * 255
    std_t = torch.as_tensor(std, dtype=torch.float32, device=pixel_values.device).view(-1, 1, 1) * 255
    return (pixel_values.float() - mean_t) / std_t


def sample_resized_crop(height: int, width: int, scale: Sequence[float], ratio: Sequence[float],
                        generator: torch.Generator | None = None) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` drawn exactly as ``v2.RandomResizedCrop.make_params`` draws it (the same
    random calls in the same order, the same fallback), but from ``generator``: per-example
    seeding then needs no global RNG state."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1], generator=generator).item()
        aspect_ratio = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=generator)).item()
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, size=(1,), generator=generator).item())
            left = int(torch.randint(0, width - w + 1, size=(1,), generator=generator).item())
            return top, left, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def _as_points(points: Any) -> np.ndarray:
    return np.empty((0, 2), np.float64) if points is None else np.asarray(points, dtype=np.float64).reshape(-1, 2)


def _result(pixels: torch.Tensor, moved: np.ndarray) -> dict[str, torch.Tensor]:
    valid = ((moved >= 0) & (moved <= 1)).all(-1)  # NaN compares false: absent stays invalid
    return {"pixel_values": pixels, "points": torch.from_numpy(moved.astype(np.float32)),
            "points_valid": torch.from_numpy(valid)}


def _rgb_tensor(image: Image.Image) -> torch.Tensor:
    # a plain uint8 tensor is v2's image; the tv_tensors.Image wrapper only adds dispatch cost here
    return TF.pil_to_tensor(image if image.mode == "RGB" else image.convert("RGB"))


class PointTransform:
    """Image + points in, ``pixel_values``, ``points`` and ``points_valid`` out.

    Points are ``FloatTensor[N, 2]`` (or an array) in the module's coordinates (see above). Build
    one with :meth:`for_training`, :meth:`for_eval` or :meth:`from_image_processor`, or wrap any
    v2 geometric pipeline: ``PointTransform(v2.Compose([...]), mean, std)``. With
    ``normalize=False`` the pixels stay uint8 and :func:`normalize_pixels` normalises whole
    batches later (the trainer does it on the accelerator).
    """

    def __init__(self, geometry: v2.Transform, mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                 std: Sequence[float] = IMAGENET_DEFAULT_STD, normalize: bool = True) -> None:
        self.geometry = geometry
        self.mean, self.std, self.normalize = tuple(mean), tuple(std), normalize

    @classmethod
    def for_training(
        cls,
        size: int = 224,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        hflip: float = 0.5,
        mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        std: Sequence[float] = IMAGENET_DEFAULT_STD,
        normalize: bool = True,
    ) -> PointTransform:
        """RandomResizedCrop + horizontal flip, as in the LUAB paper and most ImageNet recipes."""
        return RandomResizedCropFlip(size, scale, ratio, hflip, mean, std, normalize)

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
        mean, std = _processor_stats(processor)
        size = _side(getattr(processor, "crop_size", None)) if getattr(processor, "do_center_crop", False) else None
        size = size or _side(getattr(processor, "size", None)) or 224
        return cls.for_training(size=size, mean=mean, std=std, **kwargs)

    def _finish(self, pixels: torch.Tensor) -> torch.Tensor:
        return normalize_pixels(pixels, self.mean, self.std) if self.normalize else pixels

    def __call__(self, image: ImageInput, points: Any = None,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Transform ``image`` (any PIL mode, or stored bytes) and ``points`` together; random
        draws come from ``generator`` (v2 pipelines, which draw from the global RNG, run in a
        forked RNG seeded from it)."""
        pixels = _rgb_tensor(decode_image(image))
        height, width = pixels.shape[-2:]
        xy = _as_points(points)
        keypoints = tv_tensors.KeyPoints(torch.from_numpy(xy * np.array([width, height])), canvas_size=(height, width))
        if generator is None:
            pixels, keypoints = self.geometry(pixels, keypoints)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(generator.initial_seed())
                pixels, keypoints = self.geometry(pixels, keypoints)
        out_height, out_width = pixels.shape[-2:]
        moved = keypoints.as_subclass(torch.Tensor).numpy().astype(np.float64) / np.array([out_width, out_height])
        return _result(self._finish(pixels), moved)


class RandomResizedCropFlip(PointTransform):
    """The built-in training augmentation, exact for points by construction and as fast as the
    image path alone: parameters as ``v2.RandomResizedCrop`` + ``v2.RandomHorizontalFlip`` draw
    them, v2's functional kernels on the image, one vectorised map of the points."""

    def __init__(self, size: int, scale: Sequence[float] = (0.08, 1.0), ratio: Sequence[float] = (3 / 4, 4 / 3),
                 hflip: float = 0.5, mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                 std: Sequence[float] = IMAGENET_DEFAULT_STD, normalize: bool = True) -> None:
        self.size, self.scale, self.ratio, self.hflip = int(size), tuple(scale), tuple(ratio), float(hflip)
        self.mean, self.std, self.normalize = tuple(mean), tuple(std), normalize

    @property
    def geometry(self) -> v2.Transform:
        """The equivalent v2 pipeline (for display and for users who want to compose it)."""
        steps: list[v2.Transform] = [v2.RandomResizedCrop(self.size, scale=self.scale, ratio=self.ratio, antialias=True)]
        if self.hflip > 0:
            steps.append(v2.RandomHorizontalFlip(self.hflip))
        return v2.Compose(steps)

    def __call__(self, image: ImageInput, points: Any = None,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Decoded images take v2's kernels. Stored JPEG bytes (RGB or greyscale, upright) take the
        fast path: the crop is drawn first, in the image's own pixels, from its header alone; then
        libjpeg-turbo decodes it (``torchvision.io.decode_jpeg``) or, when the crop will shrink by
        2x or more anyway, decodes it directly at 1/2, 1/4 or 1/8 of its size (JPEG's DCT scaling,
        PIL's ``draft``) and resamples exactly the drawn box. Same draws, same box, same points;
        only the pixels' route differs."""
        return self._apply(image, points, generator, defer=False)

    def plan(self, image: ImageInput, points: Any = None,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The same draws and points as calling the transform, with a stored upright JPEG left
        encoded for :func:`decode_crops` to decode on the accelerator in batches: ``jpeg`` (its
        bytes), ``crop`` (``top, left, h, w, flip``) and zero ``pixel_values`` to fill in. Any other
        image is transformed here (``crop`` all -1, ``jpeg`` empty). uint8 output only."""
        if self.normalize:
            raise ValueError("decoding on the device needs uint8 output: for_training(..., normalize=False)")
        return self._apply(image, points, generator, defer=True)

    def _apply(self, image: ImageInput, points: Any, generator: torch.Generator | None,
               defer: bool) -> dict[str, torch.Tensor]:
        data = None if isinstance(image, Image.Image) else _encoded(image)
        opened = image if data is None else Image.open(io.BytesIO(data))  # the header only, so far
        jpeg = opened if data is not None and _fast_path_takes(opened) else None
        if jpeg is None:
            pixels = _rgb_tensor(opened if data is None else _shown(opened))
            height, width = pixels.shape[-2:]
        else:
            width, height = jpeg.size
        top, left, h, w = sample_resized_crop(height, width, self.scale, self.ratio, generator)
        # v2.RandomHorizontalFlip flips when rand < p, drawn after the crop's parameters
        flip = self.hflip > 0 and torch.rand(1, generator=generator).item() < self.hflip
        deferred = defer and jpeg is not None
        if jpeg is None:
            pixels = TF.resized_crop(pixels, top, left, h, w, [self.size, self.size],
                                     interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
        elif deferred:
            pixels = torch.zeros(3, self.size, self.size, dtype=torch.uint8)
        else:
            pixels = self._crop_jpeg(data, jpeg, top, left, h, w)
        moved = (_as_points(points) * np.array([width, height]) - np.array([left, top])) / np.array([w, h])
        if flip:
            pixels = pixels if deferred else TF.horizontal_flip(pixels)
            moved[:, 0] = 1.0 - moved[:, 0]
        out = _result(self._finish(pixels), moved)
        if defer:
            out["jpeg"] = torch.frombuffer(bytearray(data), dtype=torch.uint8) if deferred else torch.empty(0, dtype=torch.uint8)
            out["crop"] = torch.tensor([top, left, h, w, int(flip)] if deferred else [-1] * 5)
        return out

    def _crop_jpeg(self, data: bytes, jpeg: Image.Image, top: int, left: int, h: int, w: int) -> torch.Tensor:
        """The box ``(top, left, h, w)`` of a JPEG, resized to the output side, as uint8 RGB."""
        reduction = next((r for r in (8, 4, 2) if min(h, w) >= r * self.size), 1)  # never below the output
        if reduction == 1:  # full size: libjpeg-turbo straight into a tensor
            pixels = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
            return TF.resized_crop(pixels, top, left, h, w, [self.size, self.size],
                                   interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
        width, height = jpeg.size
        jpeg.draft(jpeg.mode, (math.ceil(width / reduction), math.ceil(height / reduction)))
        scale = width / jpeg.size[0]  # the DCT scale libjpeg chose (1/8, 1/4 or 1/2 of the side)
        scale = 2 ** round(math.log2(scale))
        box = (left / scale, top / scale, (left + w) / scale, (top + h) / scale)
        resized = jpeg.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box)
        return TF.pil_to_tensor(resized if resized.mode == "RGB" else resized.convert("RGB"))


def decode_crops(jpeg: Sequence[torch.Tensor], crop: torch.Tensor, pixel_values: torch.Tensor) -> torch.Tensor:
    """Fill in the rows :meth:`RandomResizedCropFlip.plan` left encoded: decode them in one batch
    on ``pixel_values``' device (nvJPEG on CUDA), then crop, resize and flip each as drawn.
    ``jpeg`` and ``crop`` stay on the CPU (no host sync reads them); returns uint8 pixels."""
    rows = [index for index, box in enumerate(crop.tolist()) if box[0] >= 0]
    if not rows:
        return pixel_values
    decoded = decode_jpeg([jpeg[index] for index in rows], mode=ImageReadMode.RGB, device=pixel_values.device)
    size = list(pixel_values.shape[-2:])
    pixels = pixel_values.clone()
    for index, image in zip(rows, decoded):
        top, left, h, w, flip = crop[index].tolist()
        patch = TF.resized_crop(image, top, left, h, w, size, interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
        pixels[index] = TF.horizontal_flip(patch) if flip else patch
    return pixels


def _fast_path_takes(image: Image.Image) -> bool:
    """Whether an opened stored image is a JPEG the fast path decodes itself: RGB or greyscale, no
    EXIF rotation (CMYK, other formats and rotated photos are decoded as ``datasets`` does)."""
    return image.format == "JPEG" and image.mode in ("RGB", "L") and _orientation(image) in (None, 1)


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


def _processor_stats(processor: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """An image processor's normalisation mean and std (ImageNet's when it has none)."""
    return (tuple(getattr(processor, "image_mean", None) or IMAGENET_DEFAULT_MEAN),
            tuple(getattr(processor, "image_std", None) or IMAGENET_DEFAULT_STD))


class _ProcessorTransform(PointTransform):
    """Evaluation through a transformers image processor: its pixels, and the points mapped through
    its resize and centre crop (continuous coordinates scale with the resize and shift with the
    crop, so a point stays on its pixel)."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor
        self.mean, self.std = _processor_stats(processor)
        self.normalize = True

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

    def __call__(self, image: ImageInput, points: Any = None,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        image = decode_image(image)
        image = image if image.mode == "RGB" else image.convert("RGB")
        pixels = self.processor(images=image, return_tensors="pt")["pixel_values"][0]
        new_h, new_w, top, left, crop_h, crop_w = self._geometry(image.height, image.width)
        moved = (_as_points(points) * np.array([new_w, new_h]) - np.array([left, top])) / np.array([crop_w, crop_h])
        return _result(pixels, moved)
