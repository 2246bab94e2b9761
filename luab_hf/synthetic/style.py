"""How a synthetic benchmark looks and how its simulated annotators behave."""

from __future__ import annotations

from dataclasses import dataclass

CUES = ("background", "patch")
#: Where simulated annotators click to select an object: its centre (with noise), anywhere on it
#: (uniform over its pixels), or near its boundary.
CLICK_MODELS = ("centre", "uniform", "edge")
SHAPES = ("circle", "square", "triangle", "diamond", "cross", "ring", "hbar", "star", "hexagon", "arrow")

@dataclass(frozen=True)
class Style:
    """How the benchmark looks; the defaults make the background an easy, tempting shortcut."""

    image_size: int = 64
    cue_strength: float = 0.95
    object_scale: tuple[float, float] = (0.18, 0.32)
    #: the click's standard deviation, a fraction of the image side, added to where the click model put it
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
    #: see :data:`CLICK_MODELS`
    click_model: str = "centre"
    #: the fraction of images whose selecting clicks land off the object, uniformly on the background
    miss_rate: float = 0.0

    @property
    def needs_masks(self) -> bool:
        """Whether clicks need the objects' pixels (any click model but the centre, or misses)."""
        return self.click_model != "centre" or self.miss_rate > 0

    def __post_init__(self) -> None:
        if self.click_model not in CLICK_MODELS:
            raise ValueError(f"click_model {self.click_model!r}: expected one of {', '.join(CLICK_MODELS)}")
        if not 0.0 <= self.miss_rate <= 1.0 or self.click_noise < 0:
            raise ValueError("miss_rate must lie in [0, 1] and click_noise be >= 0")

