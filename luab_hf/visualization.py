"""Draw annotation byproducts and model outputs on images.

For dataset users (what did the annotators do on this image?) and for reports (where does the
model look?). Coordinates are normalised (x, y) in [0, 1], as everywhere in luab-hf.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .schema import detect_task

Point = Sequence[float]

CLICK_COLOUR = (255, 64, 64)
TRACE_COLOUR = (255, 210, 0)
PREDICTION_COLOUR = (0, 220, 255)


def _heat_colours(values: np.ndarray) -> np.ndarray:
    """A blue -> green -> red ramp for values in [0, 1] (no matplotlib needed)."""
    v = np.clip(values, 0, 1)[..., None]
    blue, green, red = np.array([0, 0, 255.0]), np.array([0, 255.0, 0]), np.array([255.0, 0, 0])
    low = blue + (green - blue) * (v * 2)
    high = green + (red - green) * (v * 2 - 1)
    return np.where(v < 0.5, low, high)


def overlay_heatmap(image: Image.Image, heatmap: Any, alpha: float = 0.45) -> Image.Image:
    """Blend a (low-resolution) activation map over ``image``, stretched to its size."""
    values = np.asarray(heatmap, dtype=np.float32)
    values = (values - values.min()) / max(float(values.max() - values.min()), 1e-8)
    small = Image.fromarray((values * 255).astype(np.uint8), "L").resize(image.size, Image.BILINEAR)
    colours = _heat_colours(np.asarray(small, dtype=np.float32) / 255).astype(np.uint8)
    return Image.blend(image.convert("RGB"), Image.fromarray(colours, "RGB"), alpha)


def draw_byproducts(
    image: Image.Image,
    clicks: Iterable[Point] | None = None,
    trace: Iterable[Point] | None = None,
    predictions: Iterable[Point] | None = None,
    heatmap: Any = None,
    scale: int = 1,
) -> Image.Image:
    """``image`` (upscaled by ``scale``) with an optional heatmap, the mouse trace as a line,
    the annotators' clicks as red rings and predicted points as cyan crosses."""
    canvas = image.convert("RGB")
    if scale != 1:
        canvas = canvas.resize((canvas.width * scale, canvas.height * scale), Image.NEAREST)
    if heatmap is not None:
        canvas = overlay_heatmap(canvas, heatmap)
    draw = ImageDraw.Draw(canvas)
    w, h = canvas.size
    radius = max(3, min(w, h) // 40)
    path = [(x * w, y * h) for x, y in (trace or []) if np.isfinite(x) and np.isfinite(y)]
    if len(path) > 1:
        draw.line(path, fill=TRACE_COLOUR, width=max(1, radius // 2))
    for x, y in clicks or []:
        if np.isfinite(x) and np.isfinite(y):
            draw.ellipse((x * w - radius, y * h - radius, x * w + radius, y * h + radius), outline=CLICK_COLOUR,
                         width=max(1, radius // 2))
    for x, y in predictions or []:
        if np.isfinite(x) and np.isfinite(y):
            cx, cy = x * w, y * h
            draw.line((cx - radius, cy, cx + radius, cy), fill=PREDICTION_COLOUR, width=max(1, radius // 2))
            draw.line((cx, cy - radius, cx, cy + radius), fill=PREDICTION_COLOUR, width=max(1, radius // 2))
    return canvas


def draw_row(row: dict[str, Any], scale: int = 1) -> Image.Image:
    """Every click and mouse trace of one ImageNet-AB or COCO-AB row (with its ``image``)."""
    task = detect_task(row)
    canvas = draw_byproducts(row["image"], scale=scale)
    for trace in task.traces(row):
        canvas = draw_byproducts(canvas, trace=trace)
    return draw_byproducts(canvas, clicks=task.clicks(row))


def image_grid(images: Sequence[Image.Image], columns: int, pad: int = 4,
               background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Tile equally sized images into a grid."""
    if not images:
        raise ValueError("no images to tile")
    w, h = images[0].size
    rows = (len(images) + columns - 1) // columns
    grid = Image.new("RGB", (columns * (w + pad) + pad, rows * (h + pad) + pad), background)
    for index, image in enumerate(images):
        r, c = divmod(index, columns)
        grid.paste(image.convert("RGB"), (pad + c * (w + pad), pad + r * (h + pad)))
    return grid
