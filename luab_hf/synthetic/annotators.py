"""Simulated annotators: where they click, how the pointer moves, who they are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: When the simulated HITs ran: the ImageNet tool stamps times with ``Date.now()``.
EPOCH_MS = 1_668_000_000_000


@dataclass(frozen=True)
class Target:
    """An object as an annotator sees it: its centre (normalised), its pixels (``mask``, row-major,
    when drawn) and whether this image's selecting clicks miss it."""

    centre: tuple[float, float]
    mask: np.ndarray | None = None
    missed: bool = False


def click(rng: np.random.Generator, target: Target | tuple[float, float], noise: float,
          model: str = "centre") -> tuple[float, float]:
    """Where a click to select ``target`` lands: by ``model`` (its centre, a uniform pixel of it, a
    pixel of its boundary), or a uniform background pixel when the image's clicks miss; then
    Gaussian noise of std ``noise`` (a fraction of the side), clipped to the image."""
    target = target if isinstance(target, Target) else Target(target)
    if target.missed:
        point = _uniform_pixel(rng, ~target.mask) if target.mask is not None else tuple(rng.uniform(0, 1, 2))
    elif model == "centre":
        point = target.centre
    elif target.mask is None:
        raise ValueError(f"click model {model!r} needs the object's pixels (a drawn image)")
    elif model == "uniform":
        point = _uniform_pixel(rng, target.mask)
    else:
        point = _uniform_pixel(rng, target.mask & ~_eroded(target.mask))
    x, y = (float(np.clip(c + rng.normal(0, noise), 0.0, 1.0)) for c in point)
    return round(x, 4), round(y, 4)


def _uniform_pixel(rng: np.random.Generator, mask: np.ndarray) -> tuple[float, float]:
    """A uniform point within a uniformly drawn pixel of ``mask``, normalised."""
    rows, columns = np.nonzero(mask)
    if len(rows) == 0:  # nothing there (an object covering the image): anywhere
        return float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
    index = int(rng.integers(0, len(rows)))
    height, width = mask.shape
    return (columns[index] + float(rng.uniform(0, 1))) / width, (rows[index] + float(rng.uniform(0, 1))) / height


def _eroded(mask: np.ndarray) -> np.ndarray:
    """``mask`` less its boundary pixels (those with a 4-neighbour outside it or at the image edge)."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    return inner


def mouse_path(rng: np.random.Generator, target: tuple[float, float], start_ms: int,
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


def worker_ids(rng: np.random.Generator) -> tuple[str, str, str]:
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    word = lambda n: "".join(rng.choice(letters, n))  # noqa: E731
    return word(30), word(30), "A" + word(13)

