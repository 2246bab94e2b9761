"""Point-consistent transforms and the dataset -> batch glue."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from luab_hf.data import LuabBatchTransform, collate_byproducts, detect_task, resample_trace
from luab_hf.processing import make_image_processor
from luab_hf.transforms import PointTransform


def _pixel_image(width: int, height: int, column: int, row: int) -> Image.Image:
    """Black, with one white pixel: pushed through a pipeline, it shows where that pixel lands."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[row, column] = 255
    return Image.fromarray(pixels)


def _centroid(brightness: torch.Tensor) -> tuple[float, float]:
    """Brightness-weighted centre in continuous pixel coordinates (a pixel's centre is k + 0.5)."""
    values = brightness.double()
    rows, columns = torch.meshgrid(torch.arange(values.shape[0]) + 0.5, torch.arange(values.shape[1]) + 0.5,
                                   indexing="ij")
    return float((values * columns).sum() / values.sum()), float((values * rows).sum() / values.sum())


def _crop_offset(processor, width: int, height: int) -> tuple[int, int]:
    """Where transformers' centre crop takes its window from, found from pixels alone: the
    offset at which a noise image's cropped output equals its uncropped resize."""
    noise = Image.fromarray(np.random.default_rng(width * 1000 + height).integers(0, 256, (height, width, 3), np.uint8))
    cropped = processor(images=noise, return_tensors="pt")["pixel_values"][0]
    full = processor(images=noise, do_center_crop=False, return_tensors="pt")["pixel_values"][0]
    ch, cw = cropped.shape[-2:]
    matches = [(top, left) for top in range(full.shape[-2] - ch + 1) for left in range(full.shape[-1] - cw + 1)
               if torch.equal(full[:, top:top + ch, left:left + cw], cropped)]
    assert len(matches) == 1
    return matches[0]


def test_training_pipeline_puts_each_point_on_its_pixel():
    """Single bright pixels through random resized crops and flips: the returned point lies within
    0.25 output pixels of where the pixel's brightness lands, and is valid exactly when the pixel
    is in the crop (then, and only then, its brightness reaches the output)."""
    rng = np.random.default_rng(0)
    located = inside = outside = 0
    for case in range(900):
        width, height = (int(v) for v in rng.integers(12, 160, 2))
        column, row = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.choice([16, 24, 32, 48]))
        transform = PointTransform.for_training(size=size, scale=(0.05, 1.0), ratio=(0.5, 2.0), hflip=0.5,
                                                mean=(0, 0, 0), std=(1, 1, 1))
        point = [[(column + 0.5) / width, (row + 0.5) / height]]
        out = transform(_pixel_image(width, height, column, row), point, generator=torch.Generator().manual_seed(case))
        brightness = out["pixel_values"][0]
        reached = bool(brightness.max() > 0)
        assert bool(out["points_valid"][0]) == reached, case
        if not reached:
            outside += 1
            continue
        inside += 1
        cx, cy = _centroid(brightness)
        px, py = (out["points"][0] * size).tolist()
        # only a footprint cut by the output's border moves the centroid: check whole ones
        rows, columns = torch.nonzero(brightness, as_tuple=True)
        if rows.min() > 0 and columns.min() > 0 and rows.max() < size - 1 and columns.max() < size - 1:
            assert abs(px - cx) <= 0.25 and abs(py - cy) <= 0.25, (case, px, cx, py, cy)
            located += 1
    assert located >= 200 and inside >= 250 and outside >= 50


@pytest.mark.parametrize("processor", [
    make_image_processor(size=32, crop_pct=0.875, mean=(0, 0, 0), std=(1, 1, 1)),
    make_image_processor(size=24, crop_pct=0.6, mean=(0, 0, 0), std=(1, 1, 1)),
], ids=["crop-0.875", "crop-0.6"])
def test_evaluation_pipeline_puts_each_point_on_its_pixel(processor):
    """The same against the checkpoint's image processor: its resize places the pixel (found in
    its uncropped output), its crop window is found from pixels; the point must agree."""
    rng = np.random.default_rng(1)
    transform = PointTransform.from_image_processor(processor, train=False)
    located = inside = outside = 0
    for case in range(160):
        width, height = (int(v) for v in rng.integers(20, 120, 2))
        column, row = int(rng.integers(0, width)), int(rng.integers(0, height))
        image = _pixel_image(width, height, column, row)
        out = transform(image, [[(column + 0.5) / width, (row + 0.5) / height]])
        full = processor(images=image, do_center_crop=False, return_tensors="pt")["pixel_values"][0][0]
        top, left = _crop_offset(processor, width, height)
        crop_h, crop_w = out["pixel_values"].shape[-2:]
        cx, cy = _centroid(full)
        scale = max(1.0, full.shape[-1] / width, full.shape[-2] / height)
        margin = 3 * scale + 1
        if not (margin <= cx <= full.shape[-1] - margin and margin <= cy <= full.shape[-2] - margin):
            continue  # the image's own border cuts the footprint: no clean truth
        truth_inside = left <= cx <= left + crop_w and top <= cy <= top + crop_h
        if abs(cx - left) < 0.3 or abs(cx - left - crop_w) < 0.3 or abs(cy - top) < 0.3 or abs(cy - top - crop_h) < 0.3:
            continue  # within the centroid's own error of a crop border
        assert bool(out["points_valid"][0]) == truth_inside, case
        inside, outside = inside + truth_inside, outside + (not truth_inside)
        px, py = (out["points"][0] * torch.tensor([crop_w, crop_h])).tolist()
        assert abs(px - (cx - left)) <= 0.25 and abs(py - (cy - top)) <= 0.25, (case, px, cx - left, py, cy - top)
        located += 1
    assert located >= 60 and inside >= 20 and outside >= 5


def test_fast_path_agrees_with_torchvisions_own_sampling_and_keypoint_kernels():
    """The crop parameters are v2.RandomResizedCrop's own (same draws, same fallback), and the point
    map agrees with v2's resized_crop_keypoints / horizontal_flip_keypoints up to their known
    convention: v2's flip maps x -> W - 1 - x, the exact continuous flip is W - x."""
    from torchvision import tv_tensors
    from torchvision.transforms import v2
    from torchvision.transforms.v2 import functional as TF

    from luab_hf.transforms import sample_resized_crop

    rng = np.random.default_rng(2)
    for case in range(200):
        height, width = (int(v) for v in rng.integers(8, 300, 2))
        scale = tuple(sorted(rng.uniform(0.01, 1.0, 2)))
        ratio = tuple(sorted(rng.uniform(0.2, 5.0, 2)))
        torch.manual_seed(case)
        theirs = v2.RandomResizedCrop(16, scale=scale, ratio=ratio).make_params([tv_tensors.Image(torch.zeros(3, height, width))])
        ours = sample_resized_crop(height, width, scale, ratio, torch.Generator().manual_seed(case))
        assert ours == (theirs["top"], theirs["left"], theirs["height"], theirs["width"]), case

        size = int(rng.integers(8, 64))
        points = rng.uniform(-0.2, 1.2, (5, 2))
        flip = case % 2 == 1
        transform = PointTransform.for_training(size=size, scale=scale, ratio=ratio, hflip=1.0 if flip else 0.0)
        out = transform(Image.new("RGB", (width, height)), points, generator=torch.Generator().manual_seed(case))
        top, left, h, w = ours
        keypoints = tv_tensors.KeyPoints(torch.from_numpy(points * [width, height]), canvas_size=(height, width))
        moved = TF.resized_crop(keypoints, top, left, h, w, [size, size])
        if flip:
            moved = TF.horizontal_flip(moved) + torch.tensor([1.0, 0.0])  # v2's W - 1 - x, made W - x
        np.testing.assert_allclose(out["points"].numpy(), (moved / size).numpy(), atol=1e-5)


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
    # 80x50 -> 59x37 (short side 37): an odd crop margin shifts the centre by half a pixel
    assert torch.allclose(first["points"], torch.tensor([[0.5 + 0.5 / 32, 0.5 + 0.5 / 32]]), atol=1e-5)
    assert first["points_valid"].all()


def test_user_v2_pipelines_move_points_with_torchvisions_keypoint_kernels():
    """Any v2 geometric pipeline works; crops and resizes are exact, v2's flip keeps its one-pixel
    convention (x -> W - 1 - x), as the module documents."""
    from torchvision.transforms import v2

    transform = PointTransform(v2.Compose([v2.CenterCrop(40), v2.Resize(20), v2.RandomHorizontalFlip(1.0)]),
                               (0, 0, 0), (1, 1, 1))
    out = transform(Image.new("L", (64, 48)), torch.tensor([[0.5, 0.75]]))
    x = (0.5 * 64 - 12) / 40  # the crop, exact; the resize leaves normalised coordinates alone
    y = (0.75 * 48 - 4) / 40
    assert torch.allclose(out["points"], torch.tensor([[1 - x - 1 / 20, y]]), atol=1e-6)



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


def test_points_of_classes_the_image_lacks_are_no_target_unless_kept():
    rows = {"image": [Image.new("RGB", (40, 40))], "labels": [[0]],
            "points": [[{"category": 0, "x": 0.5, "y": 0.5}, {"category": 5, "x": 0.5, "y": 0.5}]]}
    transform = PointTransform.for_training(size=16, scale=(1.0, 1.0), ratio=(1, 1), hflip=0)
    default = LuabBatchTransform(transform, num_labels=80)(rows)
    assert default["points_valid"][0][[0, 5]].tolist() == [True, False]
    kept = LuabBatchTransform(transform, num_labels=80, keep_points_of_absent_classes=True)(rows)
    assert kept["points_valid"][0][[0, 5]].tolist() == [True, True]
    unlabelled = LuabBatchTransform(transform, num_labels=80)({**rows, "labels": [None]})
    assert unlabelled["points_valid"][0][[0, 5]].tolist() == [True, True]


def _jpeg(pixels: np.ndarray, **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=100, **save)
    return buffer.getvalue()


def test_stored_jpegs_put_each_point_on_its_pixels_at_every_decode_size(monkeypatch):
    """The fast path from stored bytes, decoding at full size or at 1/2, 1/4, 1/8 (each occurs):
    a bright 8x8 block on JPEG's own grid survives every decode size exactly, so its brightness
    centroid lands within 0.25 output pixels of the returned point (the block's centre), and the
    point is valid whenever the block is wholly in the crop, invalid whenever none of it reaches."""
    from PIL import JpegImagePlugin

    reductions = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        reductions.append(round(self.size[0] / size[0]))
        return draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    rng = np.random.default_rng(1)
    located = outside = 0
    for case in range(400):
        width, height = (int(v) * 8 for v in rng.integers(4, 41, 2))
        column, row = int(rng.integers(0, width // 8)) * 8, int(rng.integers(0, height // 8)) * 8
        grey = case % 2 == 0  # greyscale and RGB JPEGs alike
        pixels = np.zeros((height, width) if grey else (height, width, 3), np.uint8)
        pixels[row:row + 8, column:column + 8] = 255
        data = _jpeg(pixels) if grey else _jpeg(pixels, subsampling=0)
        size = int(rng.choice([16, 24, 32]))
        transform = PointTransform.for_training(size=size, scale=(0.05, 1.0), hflip=0.5, mean=(0, 0, 0),
                                                std=(1, 1, 1), normalize=False)
        point = [[(column + 4) / width, (row + 4) / height]]
        out = transform({"bytes": data, "path": None}, point, generator=torch.Generator().manual_seed(case))
        brightness = out["pixel_values"][0].double()
        reference = transform(Image.open(io.BytesIO(data)), point, generator=torch.Generator().manual_seed(case))
        assert torch.equal(out["points"], reference["points"])  # the same draws and the same box
        lit = brightness > 0  # a uniform block on JPEG's grid decodes exactly: no ringing around it
        if not lit.any():
            assert not out["points_valid"][0], case
            outside += 1
            continue
        cx, cy = _centroid(brightness * lit)
        px, py = (out["points"][0] * size).tolist()
        rows, columns = torch.nonzero(lit, as_tuple=True)
        if rows.min() > 0 and columns.min() > 0 and rows.max() < size - 1 and columns.max() < size - 1:
            assert out["points_valid"][0], case
            assert abs(px - cx) <= 0.25 and abs(py - cy) <= 0.25, (case, px, cx, py, cy)
            located += 1
    assert located >= 60 and outside >= 30 and {2, 4, 8} <= set(reductions)


def test_stored_images_the_fast_path_cannot_take_decode_as_datasets_does():
    """CMYK JPEGs, EXIF-rotated JPEGs and PNGs from stored bytes give what the decoded image gives
    (decoded as ``datasets.Image`` decodes it); full-size JPEGs decode as PIL decodes them."""
    from datasets import Image as ImageFeature

    rng = np.random.default_rng(2)
    noise = rng.integers(0, 256, (48, 72, 3), np.uint8)
    cmyk = io.BytesIO()
    Image.fromarray(noise).convert("CMYK").save(cmyk, format="JPEG", quality=95)
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[Image.ExifTags.Base.Orientation] = 6  # shown turned 90 degrees
    Image.fromarray(noise).save(rotated, format="JPEG", quality=95, exif=exif)
    png = io.BytesIO()
    Image.fromarray(noise).save(png, format="PNG")
    transform = PointTransform.for_training(size=32, scale=(0.3, 1.0), normalize=False)
    point = [[0.3, 0.6]]
    for name, data in (("cmyk", cmyk.getvalue()), ("rotated", rotated.getvalue()), ("png", png.getvalue()),
                       ("plain", _jpeg(noise))):
        shown = ImageFeature().decode_example({"bytes": data, "path": None})
        ours = transform({"bytes": data, "path": None}, point, generator=torch.Generator().manual_seed(7))
        theirs = transform(shown, point, generator=torch.Generator().manual_seed(7))
        assert torch.equal(ours["points"], theirs["points"]), name
        difference = (ours["pixel_values"].int() - theirs["pixel_values"].int()).abs().max().item()
        assert difference <= (1 if name == "plain" else 0), (name, difference)
    assert ImageFeature().decode_example({"bytes": rotated.getvalue(), "path": None}).size == (48, 72)


def _stored_rows(count: int = 6) -> dict[str, list]:
    """Rows as ``with_stored_images`` hands them out: JPEGs (RGB, greyscale) and one PNG."""
    rng = np.random.default_rng(3)
    images = []
    for index in range(count):
        pixels = rng.integers(0, 256, (64, 96, 3), np.uint8)
        if index == count - 1:
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            images.append({"bytes": buffer.getvalue(), "path": None})
        else:
            images.append({"bytes": _jpeg(pixels[..., 0] if index % 2 else pixels), "path": None})
    return {"image": images, "label": [index % 3 for index in range(count)],
            "image_id": [f"n0_{index}" for index in range(count)],
            "click_point": [[0.1 * (index + 1), 0.5] for index in range(count)]}


def test_jpegs_left_for_the_device_decode_to_the_workers_pixels():
    """``decode_on_device``: the workers draw the crops and map the points, the batch's JPEGs are
    decoded together afterwards (here on the CPU; nvJPEG on a GPU): the same pixels and points as
    decoding in the workers, the PNG decoded in its worker as before."""
    from luab_hf.transforms import decode_crops

    transform = PointTransform.for_training(size=48, scale=(0.3, 1.0), normalize=False)  # crops < 2x: full decodes
    rows = _stored_rows()
    plain = collate_byproducts(_examples(LuabBatchTransform(transform, task="imagenet-ab", seed=5)(rows)))
    planned = collate_byproducts(_examples(LuabBatchTransform(transform, task="imagenet-ab", seed=5,
                                                              decode_on_device=True)(rows)))
    assert (planned["crop"][:-1, 0] >= 0).all() and (planned["crop"][-1] == -1).all()
    assert not planned["pixel_values"][:-1].any() and torch.equal(planned["pixel_values"][-1], plain["pixel_values"][-1])
    decoded = decode_crops(planned["jpeg"], planned["crop"], planned["pixel_values"])
    assert torch.equal(decoded, plain["pixel_values"])
    assert torch.equal(planned["points"], plain["points"]) and torch.equal(planned["points_valid"], plain["points_valid"])
    with pytest.raises(ValueError, match="uint8 output"):
        PointTransform.for_training(size=48).plan(rows["image"][0])


def _examples(batch: dict[str, list]) -> list[dict]:
    return [dict(zip(batch, values)) for values in zip(*batch.values())]
