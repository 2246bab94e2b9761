"""How a synthetic benchmark looks and how its simulated annotators behave."""

from __future__ import annotations

from dataclasses import dataclass

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

