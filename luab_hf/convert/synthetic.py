"""Write a synthetic release in exactly the raw formats: a seeded *shortcut benchmark*.

    luab-convert synthetic imagenet-ab --out DIR --classes N --images-per-class M --seed S
    luab-convert synthetic coco-ab --out DIR --images M --seed S

The class is the foreground object, a shape at a random place and size. A shortcut cue is tied to
the class with probability ``--cue-strength`` in ``train`` and ``val`` and drawn at random in
``val_shifted``: a classifier that learns the cue does well in distribution and badly under the
shift. ``--cue background`` colours the whole background (a *global* cue, visible in every cell);
``--cue patch`` puts a small saturated patch of the class colour somewhere in the background,
away from the object, on a background of unrelated colour (a *local* cue, like a watermark or a
context object). Simulated annotators click on the object (with noise), move the mouse
towards it, hover and take time; some do not select the image. Tests and the demo feed these
files to the real converters.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageDraw

from ..labels import COCO_CATEGORY_NAMES_91, COCO_CLASSES, COCO_UNUSED_IDS, imagenet_classes

CUES = ("background", "patch")
SHAPES = ("circle", "square", "triangle", "diamond", "cross", "ring", "hbar", "star", "hexagon", "arrow")


@dataclass(frozen=True)
class Style:
    """How the benchmark looks; the defaults make the background an easy, tempting shortcut."""

    image_size: int = 64
    cue_strength: float = 0.95
    object_scale: tuple[float, float] = (0.18, 0.32)
    click_noise: float = 0.03
    unselected_rate: float = 0.1
    #: smaller shapes of other classes scattered around the object: the click then marks which
    #: shape carries the label, so regressing it needs shape features
    distractors: int = 0
    #: the shortcut: "background" (global colour) or "patch" (a local patch of the class colour)
    cue: str = "background"
    #: the patch's side as a fraction of the image side (``cue="patch"``)
    patch_size: float = 0.15
    #: ImageNet-AB files: ``<metadata>`` blocks per file and mouse-trace points per block, each
    #: drawn from ``[low, high)``. The demo's files are small; real ones carry ~40 trace points.
    metadata_blocks: tuple[int, int] = (1, 3)
    trace_points: tuple[int, int] = (3, 9)


# --------------------------------------------------------------------------- drawing


def _palette(count: int) -> list[tuple[int, int, int]]:
    colours = []
    for i in range(count):
        r, g, b = colorsys.hsv_to_rgb(i / count, 0.55, 0.85)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def _polygon(kind: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    def ring(n: int, radius: float, phase: float) -> list[tuple[float, float]]:
        return [(cx + radius * math.cos(phase + 2 * math.pi * k / n), cy + radius * math.sin(phase + 2 * math.pi * k / n))
                for k in range(n)]

    if kind == "triangle":
        return ring(3, r, -math.pi / 2)
    if kind == "diamond":
        return ring(4, r, 0)
    if kind == "hexagon":
        return ring(6, r, 0)
    if kind == "star":
        outer, inner = ring(5, r, -math.pi / 2), ring(5, r * 0.45, -math.pi / 2 + math.pi / 5)
        return [p for pair in zip(outer, inner) for p in pair]
    if kind == "arrow":
        return [(cx - r, cy - r * 0.3), (cx, cy - r * 0.3), (cx, cy - r), (cx + r, cy), (cx, cy + r),
                (cx, cy + r * 0.3), (cx - r, cy + r * 0.3)]
    raise ValueError(kind)


def draw_shape(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float,
               colour: tuple[int, int, int], outline: bool) -> None:
    width = max(2, int(r / 3))
    fill, line = (None, colour) if outline else (colour, None)
    box = (cx - r, cy - r, cx + r, cy + r)
    if kind == "circle":
        draw.ellipse(box, fill=fill, outline=line, width=width)
    elif kind == "square":
        draw.rectangle((cx - r * 0.8, cy - r * 0.8, cx + r * 0.8, cy + r * 0.8), fill=fill, outline=line, width=width)
    elif kind == "ring":
        draw.ellipse(box, outline=colour, width=max(2, int(r / 2.5)))
    elif kind == "cross":
        draw.rectangle((cx - r, cy - r / 3, cx + r, cy + r / 3), fill=colour)
        draw.rectangle((cx - r / 3, cy - r, cx + r / 3, cy + r), fill=colour)
    elif kind == "hbar":
        draw.rectangle((cx - r, cy - r / 3, cx + r, cy + r / 3), fill=fill, outline=line, width=width)
    else:
        points = _polygon(kind, cx, cy, r)
        if outline:
            draw.line([*points, points[0]], fill=colour, width=width)
        else:
            draw.polygon(points, fill=colour)


def _background(rng: np.random.Generator, size: int, colour: tuple[int, int, int]) -> Image.Image:
    noise = rng.normal(0, 12, (size, size, 3))
    pixels = np.clip(np.asarray(colour, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _foreground_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    level = int(rng.integers(20, 90)) if rng.random() < 0.5 else int(rng.integers(170, 240))
    return (level, level, level)


def _cue(rng: np.random.Generator, label: int, classes: int, strength: float) -> int:
    """The background's class: the true one with probability ``strength``, else any other."""
    if classes == 1 or rng.random() < strength:
        return label
    return int((label + rng.integers(1, classes)) % classes)


@dataclass
class Drawn:
    image: Image.Image | None
    centre: tuple[float, float]  # normalised object centre
    box: tuple[int, int, int, int]


def _saturated(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    hue, _, _ = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    return tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 1.0, 1.0))


def _place_patch(rng: np.random.Generator, size: int, side: float, centre: tuple[float, float],
                 radius: float) -> tuple[float, float]:
    """Top-left corner of a patch that keeps clear of the object (the farthest of a few tries)."""
    best, best_gap = (0.0, 0.0), -math.inf
    for _ in range(20):
        x, y = (float(rng.uniform(0, size - side)) for _ in range(2))
        gap = math.hypot(x + side / 2 - centre[0], y + side / 2 - centre[1]) - radius - side / 2
        if gap > best_gap:
            best, best_gap = (x, y), gap
        if gap > side / 2:
            break
    return best


def draw_object_image(rng: np.random.Generator, label: int, classes: int, style: Style,
                      strength: float, palette: list[tuple[int, int, int]]) -> Drawn:
    size = style.image_size
    cue = _cue(rng, label, classes, strength)
    # the background: the cue itself, or (patch cue) a colour unrelated to the class
    background = palette[cue] if style.cue == "background" else palette[int(rng.integers(0, classes))]
    image = _background(rng, size, background)
    draw = ImageDraw.Draw(image)
    for _ in range(style.distractors if classes > 1 else 0):
        other = int((label + rng.integers(1, classes)) % classes)
        small = float(rng.uniform(*style.object_scale)) * size / 4
        dx, dy = (float(rng.uniform(small, size - small)) for _ in range(2))
        draw_shape(draw, SHAPES[other % len(SHAPES)], dx, dy, small, _foreground_colour(rng),
                   outline=bool((other // len(SHAPES)) % 2))
    r = float(rng.uniform(*style.object_scale)) * size / 2
    cx, cy = (float(rng.uniform(r, size - r)) for _ in range(2))
    draw_shape(draw, SHAPES[label % len(SHAPES)], cx, cy, r, _foreground_colour(rng),
               outline=bool((label // len(SHAPES)) % 2))
    if style.cue == "patch":
        side = style.patch_size * size
        px, py = _place_patch(rng, size, side, (cx, cy), r)
        draw.rectangle((px, py, px + side, py + side), fill=_saturated(palette[cue]))
    box = (int(cx - r), int(cy - r), int(math.ceil(cx + r)), int(math.ceil(cy + r)))
    return Drawn(image, (cx / size, cy / size), box)


# --------------------------------------------------------------------------- annotators


def _click(rng: np.random.Generator, centre: tuple[float, float], noise: float) -> tuple[float, float]:
    x, y = (float(np.clip(c + rng.normal(0, noise), 0.0, 1.0)) for c in centre)
    return round(x, 4), round(y, 4)


def _mouse_path(rng: np.random.Generator, target: tuple[float, float], start_ms: int,
                points: tuple[int, int] = (3, 9)) -> list[tuple[int, float, float]]:
    """A pointer that enters from a random spot and homes in on the target, with jitter; times in
    whole milliseconds, as the tools stamp them."""
    sx, sy = float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
    steps = int(rng.integers(*points))
    path, t = [], start_ms
    for k in range(steps):
        a = (k + 1) / steps
        x = sx + (target[0] - sx) * a + float(rng.normal(0, 0.02))
        y = sy + (target[1] - sy) * a + float(rng.normal(0, 0.02))
        path.append((int(t), round(x, 3), round(y, 3)))
        t += int(rng.integers(17, 160))  # the tool samples at most at 60 Hz
    return path


def _imagenet_xml(rng: np.random.Generator, wnid: str, image_id: str, drawn: Drawn, style: Style,
                  size: int) -> str:
    parts = ["<annotation>"]
    header = [f"  <folder>{wnid}</folder>", f"  <filename>{image_id}</filename>"]
    parts += header if rng.random() < 0.5 else header[::-1]
    if rng.random() < 0.3:  # some files carry the Pascal-VOC fields, as in the release
        x0, y0, x1, y1 = drawn.box
        parts += ["  <source><database>ILSVRC_2012</database></source>",
                  f"  <size><width>{size}</width><height>{size}</height><depth>3</depth></size>",
                  "  <segmented>0</segmented>",
                  f"  <object><name>{wnid}</name><pose>Unspecified</pose><truncated>0</truncated>"
                  f"<difficult>0</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
                  f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"]
    for _ in range(int(rng.integers(*style.metadata_blocks))):
        parts.append(_metadata_block(rng, drawn.centre, style))
    parts.append("</annotation>")
    return "\n".join(parts) + "\n"


def _ids(rng: np.random.Generator) -> tuple[str, str, str]:
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    word = lambda n: "".join(rng.choice(letters, n))  # noqa: E731
    return word(30), word(30), "A" + word(13)


#: When the simulated HITs ran: the ImageNet tool stamps times with ``Date.now()``.
_EPOCH_MS = 1_668_000_000_000


def _metadata_block(rng: np.random.Generator, centre: tuple[float, float], style: Style) -> str:
    """One worker's session with the image, as the tool writes it: epoch-millisecond times, one
    ``<selectedRecord>`` per select (a select-deselect-select leaves two, a select-deselect one
    in an unselected block)."""
    assignment, hit, worker = _ids(rng)
    selected = rng.random() >= style.unselected_rate
    shown = _EPOCH_MS + int(rng.integers(0, 10**8))
    enter = shown + int(rng.integers(50, 1500))
    target = _click(rng, centre, style.click_noise) if selected else (float(rng.uniform(0, 1)), float(rng.uniform(0, 1)))
    path = _mouse_path(rng, target, enter, style.trace_points)
    records = [(target, path[-1][0] + int(rng.integers(30, 200)))]
    toggles = rng.random()
    if selected and toggles < 0.15:  # select, deselect, select again a little elsewhere
        records.append((_click(rng, centre, style.click_noise), records[0][1] + int(rng.integers(300, 1500))))
    elif not selected and toggles < 0.3:  # selected, then deselected
        records[0] = (_click(rng, centre, style.click_noise), records[0][1])
    elif not selected:
        records = []
    leave = (records[-1][1] if records else path[-1][0]) + int(rng.integers(10, 300))
    lines = ["  <metadata>", f"    <assignment_id>{assignment}</assignment_id>",
             f"    <estimateTime>{leave - shown if selected else 0}</estimateTime>",
             f"    <hit_id>{hit}</hit_id>", f"    <worker_id>{worker}</worker_id>",
             f"    <selected>{selected}</selected>", f"    <selectedCount>{len(records)}</selectedCount>"]
    lines += [f"    <selectedRecord><x>{x}</x><y>{y}</y><time>{t}</time></selectedRecord>" for (x, y), t in records]
    lines += [f"    <hoveredRecord><action>enter</action><time>{enter}</time></hoveredRecord>",
              f"    <hoveredRecord><action>leave</action><time>{leave}</time></hoveredRecord>"]
    lines += [f"    <mouseTracking><time>{t}</time><x>{x}</x><y>{y}</y></mouseTracking>" for t, x, y in path]
    lines.append("  </metadata>")
    return "\n".join(lines)


# --------------------------------------------------------------------------- ImageNet-AB


def pick_wnids(count: int) -> list[str]:
    """``count`` real ImageNet wnids spread over the 1000 classes, in sorted order."""
    wnids, _ = imagenet_classes()
    if not 1 <= count <= len(wnids):
        raise SystemExit(f"--classes must be between 1 and {len(wnids)}")
    step = len(wnids) // count
    return [wnids[i * step] for i in range(count)]


def write_imagenet_ab(out: Path, classes: int, images_per_class: int, seed: int,
                      val_per_class: int | None = None, style: Style = Style()) -> Path:
    """Write ``train/``, ``train_xml/``, ``val/`` and ``val_shifted/`` in ImageNet's layout."""
    rng = np.random.default_rng(seed)
    wnids = pick_wnids(classes)
    palette = _palette(classes)
    val_per_class = val_per_class or max(1, images_per_class // 4)
    for label, wnid in enumerate(wnids):
        for d in ("train", "train_xml", "val", "val_shifted"):
            (out / d / wnid).mkdir(parents=True, exist_ok=True)
        numbers = rng.choice(100_000, images_per_class + 2 * val_per_class, replace=False)
        for number in numbers[:images_per_class]:
            image_id = f"{wnid}_{number}"
            drawn = draw_object_image(rng, label, classes, style, style.cue_strength, palette)
            drawn.image.save(out / "train" / wnid / f"{image_id}.JPEG", quality=92)
            xml = _imagenet_xml(rng, escape(wnid), image_id, drawn, style, style.image_size)
            (out / "train_xml" / wnid / f"{image_id}.xml").write_text(xml)
        for split, strength, chunk in (("val", style.cue_strength, numbers[images_per_class:images_per_class + val_per_class]),
                                       ("val_shifted", 1.0 / classes, numbers[images_per_class + val_per_class:])):
            for number in chunk:
                drawn = draw_object_image(rng, label, classes, style, strength, palette)
                drawn.image.save(out / split / wnid / f"{wnid}_{number}.JPEG", quality=92)
    return out


#: Files sized like the release's (~2.5 KB each in its tarball, unpacked): a few sessions per
#: image, ~40 mouse-trace points in all.
RELEASE_STYLE = Style(metadata_blocks=(2, 5), trace_points=(9, 18))


def imagenet_ab_xml_files(records: int, seed: int, classes: int = 100,
                          style: Style = RELEASE_STYLE) -> Iterator[tuple[str, bytes]]:
    """``(name, xml)`` of ``records`` XML files in the release's layout, class by class, without
    images: inputs for ingest tests and benchmarks, as many as wanted, as a folder or a tarball."""
    rng = np.random.default_rng(seed)
    wnids = pick_wnids(classes)
    for index in range(records):
        wnid = wnids[index * classes // records]
        image_id = f"{wnid}_{index}"
        centre = (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8)))
        x0, y0 = (int(rng.integers(0, 200)) for _ in range(2))
        drawn = Drawn(None, centre, (x0, y0, x0 + int(rng.integers(50, 300)), y0 + int(rng.integers(50, 300))))
        yield f"train_xml/{wnid}/{image_id}.xml", _imagenet_xml(rng, wnid, image_id, drawn, style, 500).encode()


def write_imagenet_ab_xml(out: Path, records: int, seed: int, classes: int = 100, style: Style = RELEASE_STYLE) -> Path:
    """Write :func:`imagenet_ab_xml_files` under ``out`` (``out/train_xml/<wnid>/*.xml``)."""
    for name, xml in imagenet_ab_xml_files(records, seed, classes, style):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(xml)
    return out


# --------------------------------------------------------------------------- COCO-AB


def _coco_categories() -> list[dict]:
    return [{"id": cid, "name": name, "supercategory": "object"}
            for cid, name in enumerate(COCO_CATEGORY_NAMES_91, start=1) if cid not in COCO_UNUSED_IDS]


def _coco_actions(rng: np.random.Generator, objects: list[tuple[int, tuple[float, float]]],
                  style: Style, start: float) -> tuple[list[dict], float]:
    """Icon drags for the objects in an image, with the occasional move and mistaken add."""
    actions, t = [], start
    for label, centre in objects:
        first = _click(rng, centre, style.click_noise * 2)
        actions.append({"actionType": "add", "iconType": COCO_CLASSES[label], "pointFrom": None,
                        "pointTo": {"x": first[0], "y": first[1]}, "timeAt": round(t)})
        t += float(rng.uniform(500, 2500))
        if rng.random() < 0.3:  # the worker nudges the icon onto the object
            final = _click(rng, centre, style.click_noise)
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
                palette: list[tuple[int, int, int]]) -> tuple[Image.Image, list[tuple[int, tuple[float, float], list[float]]]]:
    size = style.image_size
    cue = _cue(rng, labels[0], classes, strength)
    background = palette[cue] if style.cue == "background" else palette[int(rng.integers(0, classes))]
    image = _background(rng, size, background)
    draw = ImageDraw.Draw(image)
    objects = []
    for label in labels:
        r = float(rng.uniform(*style.object_scale)) * size / 2
        cx, cy = (float(rng.uniform(r, size - r)) for _ in range(2))
        draw_shape(draw, SHAPES[label % len(SHAPES)], cx, cy, r, _foreground_colour(rng), outline=bool((label // len(SHAPES)) % 2))
        objects.append((label, (cx / size, cy / size), [cx - r, cy - r, 2 * r, 2 * r]))
    if style.cue == "patch":  # kept clear of the first object
        side = style.patch_size * size
        (_, (cx, cy), box) = objects[0]
        px, py = _place_patch(rng, size, side, (cx * size, cy * size), box[2] / 2)
        draw.rectangle((px, py, px + side, py + side), fill=_saturated(palette[cue]))
    return image, objects


def write_coco_ab(out: Path, images: int, seed: int, classes: int = 8, val_images: int | None = None,
                  style: Style = Style()) -> Path:
    """Write ``train2014/``, ``annotations/instances_*.json``, ``coco_ab_v1_0.json``, ``val*/``."""
    rng = np.random.default_rng(seed)
    palette = _palette(classes)
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
            for label, _, bbox in objects:
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
    _, hit, worker = _ids(rng)
    start = float(rng.uniform(500, 3000))
    actions, end = _coco_actions(rng, [(label, centre) for label, centre, _ in objects], style, start)
    trace = []
    for action in actions:
        if action["pointTo"] is not None:
            target = (action["pointTo"]["x"], action["pointTo"]["y"])
            trace += [{"timeAt": t, "x": x, "y": y} for t, x, y in _mouse_path(rng, target, action["timeAt"] - 500)]
    return {
        "image_id": image_id, "imageHeight": style.image_size, "imageWidth": style.image_size,
        "originalImageHeight": style.image_size, "originalImageWidth": style.image_size,
        "worker_id": worker, "hit_id": hit, "page_id": int(rng.integers(0, 20)), "timeSpent": round(end + 800),
        "actionHistories": actions,
        "categoryHistories": [{"categoryIndex": 6, "categoryName": "Object", "timeAt": round(start - 300),
                               "usingKeyboard": bool(rng.random() < 0.2)}],
        "mouseTracking": sorted(trace, key=lambda p: p["timeAt"]),
    }


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="luab-convert synthetic", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="release", required=True)
    for name in ("imagenet-ab", "coco-ab"):
        p = sub.add_parser(name, help=f"write a synthetic {name} release")
        p.add_argument("--out", required=True, type=Path)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--image-size", type=int, default=Style.image_size)
        p.add_argument("--cue-strength", type=float, default=Style.cue_strength,
                       help="how often the background colour matches the class in train and val")
        p.add_argument("--object-scale", type=float, nargs=2, default=Style.object_scale, metavar=("MIN", "MAX"),
                       help="object diameter as a fraction of the image side")
        p.add_argument("--click-noise", type=float, default=Style.click_noise)
        p.add_argument("--unselected-rate", type=float, default=Style.unselected_rate)
        p.add_argument("--distractors", type=int, default=Style.distractors,
                       help="smaller shapes of other classes per image (ImageNet-AB)")
        p.add_argument("--cue", choices=CUES, default=Style.cue,
                       help="the shortcut: the background colour, or a small patch of the class colour")
        p.add_argument("--patch-size", type=float, default=Style.patch_size,
                       help="the patch's side as a fraction of the image side (--cue patch)")
        if name == "imagenet-ab":
            p.add_argument("--classes", type=int, default=10)
            p.add_argument("--images-per-class", type=int, default=40)
            p.add_argument("--val-per-class", type=int, help="default: a quarter of --images-per-class")
        else:
            p.add_argument("--images", type=int, default=200)
            p.add_argument("--classes", type=int, default=8, help="how many of COCO's 80 classes appear")
            p.add_argument("--val-images", type=int, help="default: a quarter of --images")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    style = Style(args.image_size, args.cue_strength, tuple(args.object_scale), args.click_noise, args.unselected_rate,
                  args.distractors, args.cue, args.patch_size)
    if args.release == "imagenet-ab":
        write_imagenet_ab(args.out, args.classes, args.images_per_class, args.seed, args.val_per_class, style)
    else:
        if not 1 <= args.classes <= len(COCO_CLASSES):
            raise SystemExit(f"--classes must be between 1 and {len(COCO_CLASSES)}")
        write_coco_ab(args.out, args.images, args.seed, args.classes, args.val_images, style)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
