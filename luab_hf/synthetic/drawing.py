"""Drawing the benchmark's images: a class shape on a background, with the shortcut cue."""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .style import SHAPES, Style


def class_palette(count: int) -> list[tuple[int, int, int]]:
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


def noisy_background(rng: np.random.Generator, size: int, colour: tuple[int, int, int]) -> Image.Image:
    noise = rng.normal(0, 12, (size, size, 3))
    pixels = np.clip(np.asarray(colour, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def foreground_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    level = int(rng.integers(20, 90)) if rng.random() < 0.5 else int(rng.integers(170, 240))
    return (level, level, level)


def cue_class(rng: np.random.Generator, label: int, classes: int, strength: float) -> int:
    """The background's class: the true one with probability ``strength``, else any other."""
    if classes == 1 or rng.random() < strength:
        return label
    return int((label + rng.integers(1, classes)) % classes)


@dataclass
class Drawn:
    image: Image.Image | None
    centre: tuple[float, float]  # normalised object centre
    box: tuple[int, int, int, int]
    mask: np.ndarray | None = None  # the object's pixels


def shape_mask(size: int, kind: str, cx: float, cy: float, r: float, outline: bool) -> np.ndarray:
    """The pixels :func:`draw_shape` paints for this shape, as a boolean ``[size, size]`` array."""
    canvas = Image.new("L", (size, size))
    draw_shape(ImageDraw.Draw(canvas), kind, cx, cy, r, 255, outline)
    return np.asarray(canvas) > 0


def saturated(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    hue, _, _ = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    return tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 1.0, 1.0))


def place_patch(rng: np.random.Generator, size: int, side: float, centre: tuple[float, float],
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
    cue = cue_class(rng, label, classes, strength)
    # the background: the cue itself, or (patch cue) a colour unrelated to the class
    background = palette[cue] if style.cue == "background" else palette[int(rng.integers(0, classes))]
    image = noisy_background(rng, size, background)
    draw = ImageDraw.Draw(image)
    for _ in range(style.distractors if classes > 1 else 0):
        other = int((label + rng.integers(1, classes)) % classes)
        small = float(rng.uniform(*style.object_scale)) * size / 4
        dx, dy = (float(rng.uniform(small, size - small)) for _ in range(2))
        draw_shape(draw, SHAPES[other % len(SHAPES)], dx, dy, small, foreground_colour(rng),
                   outline=bool((other // len(SHAPES)) % 2))
    r = float(rng.uniform(*style.object_scale)) * size / 2
    cx, cy = (float(rng.uniform(r, size - r)) for _ in range(2))
    kind, outline = SHAPES[label % len(SHAPES)], bool((label // len(SHAPES)) % 2)
    draw_shape(draw, kind, cx, cy, r, foreground_colour(rng), outline=outline)
    if style.cue == "patch":
        side = style.patch_size * size
        px, py = place_patch(rng, size, side, (cx, cy), r)
        draw.rectangle((px, py, px + side, py + side), fill=saturated(palette[cue]))
    box = (int(cx - r), int(cy - r), int(math.ceil(cx + r)), int(math.ceil(cy + r)))
    mask = shape_mask(size, kind, cx, cy, r, outline) if style.needs_masks else None
    return Drawn(image, (cx / size, cy / size), box, mask)

