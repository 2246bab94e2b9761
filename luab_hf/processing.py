"""The image processor a LUAB checkpoint ships: the one definition of evaluation preprocessing.

``pipeline("image-classification")`` preprocesses with it, and the evaluation transform
(:meth:`luab_hf.transforms.PointTransform.for_eval`) is derived from it, so a model card's
accuracy is measured on exactly the pixels the pipeline feeds the model.
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers import BitImageProcessor
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

__all__ = ["IMAGENET_DEFAULT_MEAN", "IMAGENET_DEFAULT_STD", "make_image_processor"]


def make_image_processor(size: int = 224, crop_pct: float = 0.875, mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
                         std: Sequence[float] = IMAGENET_DEFAULT_STD) -> BitImageProcessor:
    """Resize the short side to ``size / crop_pct`` (bicubic, antialiased), centre-crop ``size``,
    normalise: the usual ImageNet evaluation preprocessing."""
    return BitImageProcessor(
        do_resize=True, size={"shortest_edge": int(round(size / crop_pct))},
        do_center_crop=True, crop_size={"height": size, "width": size},
        do_normalize=True, image_mean=list(mean), image_std=list(std), do_convert_rgb=True,
    )
