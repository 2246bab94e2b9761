"""A synthetic COCO-AB release: ``train2014/``, ``annotations/instances_*.json``,
``coco_ab_v1_0.json`` and evaluation folders; and a JSON grown to the release's size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..labels import COCO_CATEGORY_NAMES_91, COCO_CLASSES, COCO_UNUSED_IDS
from .annotators import Target, click, mouse_path, worker_ids
from .drawing import (
    class_palette,
    cue_class,
    draw_shape,
    foreground_colour,
    noisy_background,
    place_patch,
    saturated,
    shape_mask,
)
from .style import SHAPES, Style


def _coco_categories() -> list[dict]:
    return [{"id": cid, "name": name, "supercategory": "object"}
            for cid, name in enumerate(COCO_CATEGORY_NAMES_91, start=1) if cid not in COCO_UNUSED_IDS]


def _coco_actions(rng: np.random.Generator, objects: list[tuple[int, Target]],
                  style: Style, start: float) -> tuple[list[dict], float]:
    """Icon drags for the objects in an image, with the occasional move and mistaken add."""
    actions, t = [], start
    for label, target in objects:
        first = click(rng, target, style.click_noise * 2, style.click_model)
        actions.append({"actionType": "add", "iconType": COCO_CLASSES[label], "pointFrom": None,
                        "pointTo": {"x": first[0], "y": first[1]}, "timeAt": round(t)})
        t += float(rng.uniform(500, 2500))
        if rng.random() < 0.3:  # the worker nudges the icon onto the object
            final = click(rng, target, style.click_noise, style.click_model)
            actions.append({"actionType": "move", "iconType": COCO_CLASSES[label],
                            "pointFrom": {"x": first[0], "y": first[1]}, "pointTo": {"x": final[0], "y": final[1]},
                            "timeAt": round(t)})
            t += float(rng.uniform(300, 1500))
    if rng.random() < 0.15:  # a wrong icon, added and removed again
        wrong = int(rng.integers(0, len(COCO_CLASSES)))
        spot = {"x": round(float(rng.uniform(0, 1)), 4), "y": round(float(rng.uniform(0, 1)), 4)}
        actions.append({"actionType": "add", "iconType": COCO_CLASSES[wrong], "pointFrom": None, "pointTo": spot, "timeAt": round(t)})
        actions.append({"actionType": "remove", "iconType": COCO_CLASSES[wrong], "pointFrom": spot, "pointTo": None,
                        "timeAt": round(t + float(rng.uniform(200, 900)))})
        t += 1000
    if rng.random() < 0.05:  # an icon of one of COCO's 91 names outside the 80 classes
        spot = {"x": round(float(rng.uniform(0, 1)), 4), "y": round(float(rng.uniform(0, 1)), 4)}
        actions.append({"actionType": "add", "iconType": "street sign", "pointFrom": None, "pointTo": spot,
                        "timeAt": round(t)})
        t += 700
    return actions, t


def _coco_image(rng: np.random.Generator, labels: list[int], classes: int, style: Style, strength: float,
                palette: list[tuple[int, int, int]]
                ) -> tuple[Image.Image, list[tuple[int, tuple[float, float], list[float], np.ndarray | None]]]:
    size = style.image_size
    cue = cue_class(rng, labels[0], classes, strength)
    background = palette[cue] if style.cue == "background" else palette[int(rng.integers(0, classes))]
    image = noisy_background(rng, size, background)
    draw = ImageDraw.Draw(image)
    objects = []
    for label in labels:
        r = float(rng.uniform(*style.object_scale)) * size / 2
        cx, cy = (float(rng.uniform(r, size - r)) for _ in range(2))
        kind, outline = SHAPES[label % len(SHAPES)], bool((label // len(SHAPES)) % 2)
        draw_shape(draw, kind, cx, cy, r, foreground_colour(rng), outline=outline)
        mask = shape_mask(size, kind, cx, cy, r, outline) if style.needs_masks else None
        objects.append((label, (cx / size, cy / size), [cx - r, cy - r, 2 * r, 2 * r], mask))
    if style.cue == "patch":  # kept clear of the first object
        side = style.patch_size * size
        (_, (cx, cy), box, _) = objects[0]
        px, py = place_patch(rng, size, side, (cx * size, cy * size), box[2] / 2)
        draw.rectangle((px, py, px + side, py + side), fill=saturated(palette[cue]))
    return image, objects


def write_coco_ab(out: Path, images: int, seed: int, classes: int = 8, val_images: int | None = None,
                  style: Style = Style()) -> Path:
    """Write ``train2014/``, ``annotations/instances_*.json``, ``coco_ab_v1_0.json``, ``val*/``."""
    rng = np.random.default_rng(seed)
    palette = class_palette(classes)
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    val_images = val_images or max(1, images // 4)
    next_id = iter(range(1, 10**9))
    records = []
    for split, count, strength in (("train2014", images, style.cue_strength), ("val", val_images, style.cue_strength),
                                   ("val_shifted", val_images, 1.0 / classes)):
        (out / split).mkdir(parents=True, exist_ok=True)
        instances = {"images": [], "annotations": [], "categories": _coco_categories()}
        image_ids = sorted(rng.choice(500_000, count, replace=False).tolist())
        for image_id in image_ids:
            labels = sorted(rng.choice(classes, int(rng.integers(1, 3)), replace=False).tolist())
            image, objects = _coco_image(rng, labels, classes, style, strength, palette)
            prefix = "COCO_train2014_" if split == "train2014" else f"COCO_{split}_"
            file_name = f"{prefix}{image_id:012d}.jpg"
            image.save(out / split / file_name, quality=92)
            instances["images"].append({"id": image_id, "file_name": file_name, "width": style.image_size,
                                        "height": style.image_size})
            for label, _, bbox, _ in objects:
                instances["annotations"].append({"id": next(next_id), "image_id": image_id, "category_id": _coco_id(label),
                                                 "bbox": [round(v, 2) for v in bbox], "area": bbox[2] * bbox[3], "iscrowd": 0})
            if split == "train2014":
                records.append(_coco_record(rng, image_id, objects, style))
        name = "instances_train2014.json" if split == "train2014" else f"instances_{split}.json"
        (out / "annotations" / name).write_text(json.dumps(instances))
    (out / "coco_ab_v1_0.json").write_text(json.dumps(records, indent=1))
    return out


def _coco_id(label: int) -> int:
    return COCO_CATEGORY_NAMES_91.index(COCO_CLASSES[label]) + 1


def _coco_record(rng: np.random.Generator, image_id: int, objects: list, style: Style) -> dict:
    _, hit, worker = worker_ids(rng)
    start = float(rng.uniform(500, 3000))
    missed = bool(style.miss_rate) and rng.random() < style.miss_rate  # every icon of the image off its object
    targets = [(label, Target(centre, mask, missed)) for label, centre, _, mask in objects]
    actions, end = _coco_actions(rng, targets, style, start)
    trace = []
    for action in actions:
        if action["pointTo"] is not None:
            target = (action["pointTo"]["x"], action["pointTo"]["y"])
            trace += [{"timeAt": t, "x": x, "y": y} for t, x, y in mouse_path(rng, target, action["timeAt"] - 500)]
    return {
        "image_id": image_id, "imageHeight": style.image_size, "imageWidth": style.image_size,
        "originalImageHeight": style.image_size, "originalImageWidth": style.image_size,
        "worker_id": worker, "hit_id": hit, "page_id": int(rng.integers(0, 20)), "timeSpent": round(end + 800),
        "actionHistories": actions,
        "categoryHistories": [{"categoryIndex": 6, "categoryName": "Object", "timeAt": round(start - 300),
                               "usingKeyboard": bool(rng.random() < 0.2)}],
        "mouseTracking": sorted(trace, key=lambda p: p["timeAt"]),
    }



def write_release_json(folder: Path, target_bytes: int) -> tuple[Path, int]:
    """``folder/coco_ab_v1_0.json`` grown to about ``target_bytes`` (the release's is 398 MB) by
    repeating generated records under new image ids; the path and how many records it holds."""
    seed_release = write_coco_ab(folder / "seed", images=40, seed=0, classes=8, val_images=1)
    records = json.loads((seed_release / "coco_ab_v1_0.json").read_text())
    path = folder / "coco_ab_v1_0.json"
    written = count = 0
    with path.open("w") as handle:
        handle.write("[\n")
        while written < target_bytes:
            record = dict(records[count % len(records)], image_id=count + 1)
            text = ("," if count else "") + json.dumps(record) + "\n"
            handle.write(text)
            written += len(text)
            count += 1
        handle.write("]\n")
    return path, count
