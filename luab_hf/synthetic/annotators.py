"""Simulated annotators: where they click, how the pointer moves, who they are."""

from __future__ import annotations

import numpy as np

#: When the simulated HITs ran: the ImageNet tool stamps times with ``Date.now()``.
EPOCH_MS = 1_668_000_000_000

def click(rng: np.random.Generator, centre: tuple[float, float], noise: float) -> tuple[float, float]:
    x, y = (float(np.clip(c + rng.normal(0, noise), 0.0, 1.0)) for c in centre)
    return round(x, 4), round(y, 4)


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

