"""Point-consistent transforms and the dataset -> batch glue."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from luab_hf.data import LuabBatchTransform, collate_byproducts, detect_task, resample_trace
from luab_hf.processing import make_image_processor
from luab_hf.transforms import PointTransform


def _dot_image(width: int, height: int, x: float, y: float) -> Image.Image:
    """Black image with a 3x3 white dot centred on the normalised point (x, y)."""
    image = Image.new("L", (width, height))
    cx, cy = int(x * width), int(y * height)
    ImageDraw.Draw(image).rectangle((cx - 1, cy - 1, cx + 1, cy + 1), fill=255)
    return image


def test_property_the_dot_is_where_the_point_says():
    """Random images, points and training transforms: the returned point finds the dot, and
    points_valid is false exactly when the dot left the output image."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    checked_inside = checked_outside = 0
    for _ in range(150):
        width, height = (int(v) for v in rng.integers(40, 160, 2))
        x, y = (float(v) for v in rng.uniform(0.05, 0.95, 2))
        x, y = (int(x * width) + 0.5) / width, (int(y * height) + 0.5) / height  # a pixel centre
        size = int(rng.integers(24, 64))
        transform = PointTransform.for_training(size=size, scale=(0.1, 1.0), hflip=0.5, mean=(0, 0, 0), std=(1, 1, 1))
        out = transform(_dot_image(width, height, x, y), torch.tensor([[x, y]]))
        assert out["pixel_values"].shape == (3, size, size) and out["pixel_values"].dtype == torch.float32
        assert out["points"].dtype == torch.float32 and out["points_valid"].dtype == torch.bool
        (px, py), valid = out["points"][0].tolist(), bool(out["points_valid"][0])
        assert valid == (0 <= px <= 1 and 0 <= py <= 1)
        brightness = out["pixel_values"][0]
        margin = 2.5 / size  # the dot is 3 px wide before resizing; ignore points grazing the border
        if valid and margin < px < 1 - margin and margin < py < 1 - margin:
            row, col = divmod(int(brightness.argmax()), size)
            assert brightness.max() > 0.05
            scale = max(width, height) / size  # a source pixel can cover several output pixels
            tolerance = 1.5 + 1.5 / max(1.0, 1 / scale)
            assert abs((col + 0.5) - px * size) <= tolerance and abs((row + 0.5) - py * size) <= tolerance
            checked_inside += 1
        elif not valid and (px < -margin or px > 1 + margin or py < -margin or py > 1 + margin):
            assert brightness.max() < 0.5  # the dot is not in the image
            checked_outside += 1
    assert checked_inside > 50 and checked_outside > 10


def test_points_are_never_clamped_or_dropped_and_nan_stays_invalid():
    torch.manual_seed(3)
    transform = PointTransform.for_training(size=32, scale=(0.05, 0.1))
    points = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [math.nan, math.nan]])
    out = transform(Image.new("RGB", (100, 100)), points)
    assert out["points"].shape == (4, 2) and not out["points_valid"][3]
    outside = ~out["points_valid"][:3]
    assert outside.any() and ((out["points"][:3][outside] < 0) | (out["points"][:3][outside] > 1)).any(-1).all()


def test_eval_transform_is_deterministic_and_maps_the_centre():
    transform = PointTransform.for_eval(size=32)
    image = Image.new("CMYK", (80, 50))
    first, second = transform(image, torch.tensor([[0.5, 0.5]])), transform(image, torch.tensor([[0.5, 0.5]]))
    assert torch.equal(first["pixel_values"], second["pixel_values"])
    # within one output pixel: integer crop offsets and resize rounding move it by a fraction of one
    assert torch.allclose(first["points"], torch.tensor([[0.5, 0.5]]), atol=1 / 32) and first["points_valid"].all()


def test_horizontal_flip_maps_x_to_one_minus_x():
    transform = PointTransform(__import__("torchvision").transforms.v2.RandomHorizontalFlip(1.0), (0, 0, 0), (1, 1, 1))
    out = transform(Image.new("L", (64, 48)), torch.tensor([[0.2, 0.7]]))
    assert torch.allclose(out["points"], torch.tensor([[0.8, 0.7]]), atol=1e-6)


def test_transforms_follow_the_image_processor():
    processor = make_image_processor(size=48, crop_pct=0.75, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    train = PointTransform.from_image_processor(processor, train=True)
    evaluation = PointTransform.from_image_processor(processor, train=False)
    image = Image.new("RGB", (100, 80), (128, 128, 128))
    assert train(image)["pixel_values"].shape == (3, 48, 48)
    ours = evaluation(image)["pixel_values"]
    theirs = processor(image, return_tensors="pt")["pixel_values"][0]
    assert ours.shape == theirs.shape == (3, 48, 48)
    assert torch.allclose(ours, theirs, atol=0.05)


def test_resample_trace():
    trace = [{"time_ms": 10.0, "x": 1.0, "y": 0.0}, {"time_ms": 0.0, "x": 0.0, "y": 0.0}]
    assert np.allclose(resample_trace(trace, 3)[:, 0], [0.0, 0.5, 1.0])
    assert np.isnan(resample_trace([], 4)).all() and resample_trace(trace[:1], 2).shape == (2, 2)


def _imagenet_rows():
    annotation = {"selected": True, "estimate_time_ms": 2000,
                  "mouse_trace": [{"time_ms": 0.0, "x": 0.4, "y": 0.3}, {"time_ms": 100.0, "x": 0.5, "y": 0.5}]}
    return {"image": [Image.new("RGB", (40, 30)), Image.new("L", (30, 40))], "label": [2, 0],
            "click_point": [[0.5, 0.5], None], "annotations": [[annotation], None]}


def test_batch_transform_imagenet_rows():
    transform = LuabBatchTransform(PointTransform.for_eval(16), targets=("click", "mouse_trace", "time"), trace_steps=4)
    out = transform(_imagenet_rows())
    batch = collate_byproducts([dict(zip(out, values)) for values in zip(*out.values())])
    assert batch["pixel_values"].shape == (2, 3, 16, 16) and batch["labels"].tolist() == [2, 0]
    assert batch["points"].shape == (2, 1, 2) and batch["points_valid"].tolist() == [[True], [False]]
    assert batch["trace"].shape == (2, 4, 2) and batch["trace_valid"][0].all() and not batch["trace_valid"][1].any()
    assert batch["annotation_time"][0] == pytest.approx(math.log1p(2.0)) and batch["annotation_time_valid"].tolist() == [True, False]


def test_batch_transform_coco_rows_and_label_drop():
    rows = {"image": [Image.new("RGB", (40, 40))], "labels": [[0, 5]],
            "points": [[{"category": 0, "x": 0.02, "y": 0.02}, {"category": 5, "x": 0.5, "y": 0.5}]]}
    torch.manual_seed(0)
    crop = PointTransform.for_training(size=16, scale=(0.05, 0.06), ratio=(1, 1), hflip=0)
    keep = LuabBatchTransform(crop, num_labels=80)(rows)
    assert keep["points"][0].shape == (80, 2) and keep["labels"][0].shape == (80,)
    assert keep["labels"][0][[0, 5]].tolist() == [1.0, 1.0]
    for seed in range(20):
        torch.manual_seed(seed)
        dropped = LuabBatchTransform(crop, num_labels=80, drop_labels_outside_crop=True)(rows)
        valid, labels = dropped["points_valid"][0], dropped["labels"][0]
        assert labels[0] == float(valid[0]) and labels[5] == float(valid[5])
    assert detect_task(list(rows)).name == "coco-ab"
    with pytest.raises(ValueError, match="neither"):
        detect_task(["image", "caption"])
