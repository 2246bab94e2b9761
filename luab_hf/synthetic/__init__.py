"""Write a synthetic release in exactly the raw formats: a seeded *shortcut benchmark*.

    luab-convert synthetic imagenet-ab --out DIR --classes N --images-per-class M --seed S
    luab-convert synthetic coco-ab --out DIR --images M --seed S

The class is the foreground object, a shape at a random place and size. A shortcut cue is tied to
the class with probability ``--cue-strength`` in ``train`` and ``val`` and drawn at random in
``val_shifted``: a classifier that learns the cue does well in distribution and badly under the
shift. ``--cue background`` colours the whole background (a *global* cue, visible in every cell);
``--cue patch`` puts a small saturated patch of the class colour somewhere in the background,
away from the object, on a background of unrelated colour (a *local* cue, like a watermark or a
context object). Simulated annotators click on the object (``--click-model``: at its centre,
anywhere on it, or near its boundary; ``--click-noise``; ``--miss-rate`` of the images clicked off
it), move the mouse towards it, hover and take time; some do not select the image. Tests, benchmarks and the demo
feed these files to the real converters; :mod:`.imagenet_ab` and :mod:`.coco_ab` also grow them to
the real releases' sizes.
"""

from .coco_ab import write_coco_ab, write_release_json
from .imagenet_ab import (
    FULL_RELEASE,
    imagenet_ab_xml_files,
    pick_wnids,
    write_imagenet_ab,
    write_imagenet_ab_xml,
    write_release_tarball,
)
from .style import CLICK_MODELS, CUES, SHAPES, Style

__all__ = ["CLICK_MODELS", "CUES", "FULL_RELEASE", "SHAPES", "Style", "imagenet_ab_xml_files", "pick_wnids", "write_coco_ab",
           "write_imagenet_ab", "write_imagenet_ab_xml", "write_release_json", "write_release_tarball"]
